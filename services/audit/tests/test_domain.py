"""Property tests of the hash chain's rules."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from audit.domain import GENESIS_HASH, ChainCheck, Entry, StoredEntry, check_chain
from hypothesis import given
from hypothesis import strategies as st

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)
datas = st.dictionaries(st.text(max_size=6), json_values, max_size=4)
WHEN = datetime(2024, 1, 1, tzinfo=UTC)


def chain(datas_: list[dict[str, object]]) -> list[StoredEntry]:
    rows, prev = [], GENESIS_HASH
    for i, data in enumerate(datas_, start=1):
        entry = Entry(
            i,
            f"e{i}",
            "payment-events",
            "payment.completed",
            "confirm",
            None,
            None,
            None,
            data,
            WHEN,
            WHEN,
            prev,
        )
        rows.append(StoredEntry(entry, entry.hash()))
        prev = rows[-1].hash
    return rows


@given(st.lists(datas, min_size=1, max_size=6), st.data())
def test_any_change_to_any_entry_is_found_at_that_entry(
    datas_: list[dict[str, object]], draw: st.DataObject
) -> None:
    rows = chain(datas_)
    assert check_chain(rows, ChainCheck(True, 0)).valid
    victim = draw.draw(st.integers(0, len(rows) - 1))
    new_data = draw.draw(datas.filter(lambda d: d != rows[victim].entry.data))
    rows[victim] = StoredEntry(replace(rows[victim].entry, data=new_data), rows[victim].hash)
    result = check_chain(rows, ChainCheck(True, 0))
    assert not result.valid and result.first_broken_id == victim + 1
