"""Seed the benchmark's customers straight into the services' own tables (never through the
public API's rules): customers with funded accounts in the ledger, the same accounts and
opening balances at the partner bank (so reconciliation stays clean), verified KYC on the
top tier, and an access token per customer signed with the gateway's own key."""

from __future__ import annotations

from dataclasses import dataclass

import psycopg

BENCH_PREFIX = "bench"
OPENING_BALANCE_MINOR = 100_000_000  # 1,000,000.00: no benchmark payment runs out of money
KYC_TIER = 3
TOKEN_TTL_S = 3600


@dataclass(frozen=True)
class Payer:
    customer_id: str
    account_number: str
    token: str


def _ids(index: int) -> tuple[str, str]:
    return f"{BENCH_PREFIX}_cust_{index:05d}", f"BENCH{index:05d}"


def seed(database_url: str, customers: int) -> None:
    """Idempotent: a second run over the same database adds only what is missing."""
    rows = [_ids(i) for i in range(customers)]
    with psycopg.connect(database_url, autocommit=False, connect_timeout=10) as conn, conn.cursor() as cur:
        # The ledger's triggers name their tables unqualified, as the service's own role does.
        cur.execute("SET LOCAL search_path TO account")
        cur.executemany(
            "INSERT INTO account.customers (customer_id, full_name, email, country)"
            " VALUES (%s, %s, %s, 'US') ON CONFLICT DO NOTHING",
            [(c, f"Loadtest Payer {n[-5:]}", f"{c}@bench.invalid") for c, n in rows],
        )
        cur.executemany(
            "INSERT INTO account.accounts (account_number, customer_id, currency)"
            " VALUES (%s, %s, 'USD') ON CONFLICT DO NOTHING",
            [(n, c) for c, n in rows],
        )
        cur.executemany(
            "INSERT INTO account.journal_entries (entry_id, kind, description)"
            " VALUES (%s, 'FUNDING', 'Benchmark opening balance') ON CONFLICT DO NOTHING",
            [(f"bench-opening-{n}",) for _, n in rows],
        )
        # Postings only for entries without any yet: rerunning never funds twice.
        cur.executemany(
            "INSERT INTO account.postings (entry_id, account_number, amount_minor, currency)"
            " SELECT e, a, m, 'USD' FROM (VALUES (%s, 'SYS-FUNDING-USD', %s::bigint), (%s, %s, %s::bigint))"
            " AS v (e, a, m) WHERE NOT EXISTS"
            " (SELECT 1 FROM account.postings p WHERE p.entry_id = %s)",
            [
                (e, -OPENING_BALANCE_MINOR, e, n, OPENING_BALANCE_MINOR, e)
                for e, n in ((f"bench-opening-{n}", n) for _, n in rows)
            ],
        )
        cur.executemany(
            "INSERT INTO partner_bank.bank_accounts (account_number, holder_name, currency, balance_minor)"
            " VALUES (%s, %s, 'USD', %s) ON CONFLICT DO NOTHING",
            [(n, f"Loadtest Payer {n[-5:]}", OPENING_BALANCE_MINOR) for _, n in rows],
        )
        cur.executemany(
            "INSERT INTO kyc.kyc_records (customer_id, status, tier, full_name, country)"
            " VALUES (%s, 'VERIFIED', %s, %s, 'US') ON CONFLICT DO NOTHING",
            [(c, KYC_TIER, f"Loadtest Payer {n[-5:]}") for c, n in rows],
        )
        conn.commit()


def payers(database_url: str, customers: int) -> list[Payer]:
    """Every seeded customer with a fresh access token from the gateway's signing key."""
    from gateway.domain import KeyPair, issue_access_token
    from gateway.main import GatewaySettings

    with psycopg.connect(database_url, connect_timeout=10) as conn:
        row = conn.execute("SELECT kid, private_pem FROM gateway.gateway_keys WHERE use = 'sig'").fetchone()
    if row is None:
        raise RuntimeError("the gateway has not made its signing key yet")
    key = KeyPair(kid=row[0], private_pem=row[1])
    settings = GatewaySettings(app_env="development")  # issuer and audience only
    out = []
    for index in range(customers):
        customer_id, account = _ids(index)
        token, _ = issue_access_token(
            key,
            username=customer_id,
            customer_id=customer_id,
            roles=["customer"],
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            ttl_s=TOKEN_TTL_S,
        )
        out.append(Payer(customer_id, account, token))
    return out
