"""What must hold after every benchmark run: a benchmark that loses money is a failed one.

- the ledger balances: postings sum to zero per currency, no customer account below zero
  available, the cached balances agree with the postings;
- every payment the fleet owes an outcome ended terminal (held, at the bank, or allowed by
  risk); one waiting on a person (OTP, review) or on the client's retry is reported;
- reconciliation with the bank reports no break;
- audit holds exactly one record per state change of every payment.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import httpx
import psycopg

SETTLE_TIMEOUT_S = 90.0
ACCOUNT_URL = "http://127.0.0.1:3007"
LEDGER_READ_MAX = 10_000  # account's ReconciliationLimits.ledger_read_max
RUNS_MAX = 10


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _scalar(conn: psycopg.Connection, sql: str) -> int:
    row = conn.execute(sql).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row and row[0] is not None else 0


def _unfinished(conn: psycopg.Connection) -> int:
    """Payments the fleet owes an outcome: money on its way (held, at the bank) or allowed by
    risk and not yet held. Payments waiting on a person (OTP, review) or on the client's retry
    are not owed one (they expire by themselves) and are reported instead."""
    return _scalar(
        conn,
        "SELECT count(*) FROM confirm.payments WHERE state IN ('FUNDS_HELD', 'PROCESSING')"
        " OR (state = 'REQUIRES_CONFIRMATION' AND risk_decision = 'ALLOW')",
    )


def _audit_missing(conn: psycopg.Connection) -> tuple[int, int]:
    """(state changes audit lacks, audit records with no state change) for payments."""
    changes = (
        "SELECT payment_id AS subject, 'payment.' || lower(to_state) AS event_type"  # one per change
        " FROM confirm.payment_history"
    )
    audited = (
        "SELECT subject, event_type FROM audit.audit_log"
        " WHERE topic = 'payment-events' AND event_type LIKE 'payment.%'"
    )
    missing = _scalar(conn, f"SELECT count(*) FROM ({changes} EXCEPT ALL {audited}) x")
    extra = _scalar(conn, f"SELECT count(*) FROM ({audited} EXCEPT ALL {changes}) x")
    return missing, extra


def check(database_url: str) -> Report:
    report = Report()
    with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while (_unfinished(conn) or sum(_audit_missing(conn))) and time.monotonic() < deadline:
            time.sleep(1)  # the resolver finishes unknown outcomes; audit consumes the events
        unfinished = _unfinished(conn)
        if unfinished:
            report.problems.append(f"{unfinished} payment(s) with money on the way are not terminal")
        waiting = _scalar(
            conn,
            "SELECT count(*) FROM confirm.payments WHERE state = 'REQUIRES_CONFIRMATION'"
            " AND risk_decision IS NULL",
        )
        if waiting:
            report.notes.append(
                f"{waiting} payment(s) were told to retry before risk answered (nothing held)"
            )
        by_state = conn.execute(
            "SELECT state, count(*) FROM confirm.payments GROUP BY state ORDER BY 1"
        ).fetchall()
        report.notes.append("payments by state: " + ", ".join(f"{s} {n}" for s, n in by_state))

        unbalanced = _scalar(
            conn,
            "SELECT count(*) FROM (SELECT currency FROM account.postings GROUP BY currency"
            " HAVING sum(amount_minor) <> 0) x",
        )
        if unbalanced:
            report.problems.append(f"postings do not sum to zero in {unbalanced} currency(ies)")
        negative = _scalar(
            conn,
            "SELECT count(*) FROM account.accounts"
            " WHERE NOT allow_negative AND balance_minor - held_minor < 0",
        )
        if negative:
            report.problems.append(f"{negative} account(s) below zero available")
        drift = _scalar(
            conn,
            "SELECT count(*) FROM account.accounts a LEFT JOIN (SELECT account_number, sum(amount_minor) s"
            " FROM account.postings GROUP BY 1) p USING (account_number)"
            " WHERE a.balance_minor <> coalesce(p.s, 0)",
        )
        if drift:
            report.problems.append(f"{drift} account balance(s) differ from their postings")
        held = _scalar(conn, "SELECT count(*) FROM account.holds WHERE status = 'PENDING'")
        if held:
            report.notes.append(f"{held} hold(s) still pending")

        missing, extra = _audit_missing(conn)
        if missing or extra:
            report.problems.append(
                f"audit: {missing} state change(s) without a record, {extra} record(s) without a change"
            )
    breaks = _reconcile_to_the_present(database_url)
    if breaks is None:
        report.problems.append("reconciliation could not run")
    elif breaks:
        report.problems.append(f"reconciliation found {len(breaks)} break(s): {breaks[:3]}")
    return report


def _ops_token() -> str:
    """Account runs reconciliation only for `ops` (service identity): sign as ops with the keys
    of the fleet under test (ENV_FILE, else `make run`'s or compose's, as `make service-token`)."""
    from paykit.identity import mint, private_key_from_text

    from tools.service_token import signing_key

    return mint(private_key_from_text(signing_key("ops")), "ops", "account", ttl_s=300)


def _reconcile_to_the_present(database_url: str) -> list[dict[str, object]] | None:
    """A run reads at most LEDGER_READ_MAX of our captures since the last run and compares
    balances only when it read them all: runs go on until one starts with at most that many
    left, and that run's breaks are the answer (at most RUNS_MAX runs)."""
    for _ in range(RUNS_MAX):
        with psycopg.connect(database_url, autocommit=True, connect_timeout=10) as conn:
            left = _scalar(
                conn,
                "SELECT count(*) FROM account.holds WHERE status = 'POSTED' AND resolved_at >"
                " coalesce((SELECT ledger_cutoff FROM account.reconciliation_cursor), '-infinity')",
            )
        breaks = _reconcile()
        if breaks is None or left <= LEDGER_READ_MAX:
            return breaks
    return None


def _reconcile() -> list[dict[str, object]] | None:
    try:
        response = httpx.post(
            f"{ACCOUNT_URL}/reconciliation/run",
            headers={"Authorization": f"Bearer {_ops_token()}"},
            timeout=120,
        )
    except httpx.HTTPError:
        return None
    if response.status_code != 200:
        return None
    return list(response.json().get("breaks", []))
