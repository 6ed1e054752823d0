"""Re-screening: when a list version adds or changes parties, every existing customer is
screened against those parties (only: the rest of the list screened them already), and each
hit is recorded with KYC, which puts the customer before a reviewer and stops their payments.

The run pages through account's customers; a dependency that fails stops the run (reported,
counted) instead of skipping customers: a silent gap in re-screening is a compliance gap.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

from prometheus_client import Counter

from .clients import AccountClient, KycClient, RescreenCallError, customers_page
from .countries import country_key
from .domain import decide, screenable
from .index import ScreeningIndex
from .lists import Change
from .matching import Query
from .usecases import ScreeningPolicy, screen

log = logging.getLogger("ofac.rescreen")
RESCREENED = Counter("ofac_rescreened_customers_total", "Customers re-screened after a list change")
RESCREEN_HITS = Counter("ofac_rescreen_hits_total", "Re-screening hits recorded with KYC", ["list"])
RESCREEN_FAILURES = Counter("ofac_rescreen_failures_total", "Re-screening runs stopped by a dependency")
REPORTS_KEPT = 20


@dataclass
class RescreenReport:
    list_name: str
    version: str
    parties: int
    started_at: datetime
    finished_at: datetime | None = None
    customers: int = 0
    hits: list[dict[str, object]] = field(default_factory=list)
    error: str | None = None


@dataclass
class Rescreener:
    accounts: AccountClient
    kyc: KycClient
    policy: ScreeningPolicy
    page_size: int = 200
    pages_max: int = 10_000
    reports: list[RescreenReport] = field(default_factory=list)

    async def __call__(self, index: ScreeningIndex, change: Change) -> None:
        """`ListHolder.on_change`: screen every customer against the changed parties only."""
        changed = ScreeningIndex(
            change.version, change.parties, source_versions={change.list_name: change.version}
        )
        report = RescreenReport(change.list_name, change.version, len(change.parties), datetime.now(UTC))
        self.reports = [*self.reports[-(REPORTS_KEPT - 1) :], report]
        try:
            await self._run(changed, change, report)
        except RescreenCallError as exc:
            report.error = str(exc)
            RESCREEN_FAILURES.inc()
            log.error("re-screening against %s %s stopped: %s", change.list_name, change.version, exc)
        report.finished_at = datetime.now(UTC)
        log.info(
            "re-screened %d customers against %d changed parties of %s %s: %d hits",
            report.customers, report.parties, change.list_name, change.version, len(report.hits),
        )  # fmt: skip

    async def _run(self, changed: ScreeningIndex, change: Change, report: RescreenReport) -> None:
        after = ""
        for _ in range(self.pages_max):
            page = await customers_page(self.accounts, after, self.page_size)
            for customer in page.customers:
                report.customers += 1
                RESCREENED.inc()
                if not screenable(customer.full_name):
                    continue
                countries = frozenset({country_key(customer.country)} if customer.country else ())
                query = Query.build(customer.full_name, countries=countries)
                decision = decide(
                    screen(changed, self.policy, query), self.policy.thresholds, blocked_customer=None
                )
                if not decision.matches:
                    continue
                body = {
                    "list_name": change.list_name,
                    "list_version": change.version,
                    "screened_name": customer.full_name,
                    "matches": [
                        {"entity_id": m.entity_id, "name": m.name, "score": m.score, "band": m.band}
                        for m in decision.matches
                    ],
                }
                await self.kyc.record_hit(customer.customer_id, body)
                RESCREEN_HITS.labels(list=change.list_name).inc()
                report.hits.append({"customer_id": customer.customer_id, **body})
            if page.next_after is None:
                return
            after = page.next_after
        raise RescreenCallError(f"more than {self.pages_max} pages of customers")
