"""Property tests of the pure OTP rules."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st
from otp.domain import Binding, code_hash, matches, new_code

SECRET = b"test-secret-of-sufficient-length"
ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.", min_size=1, max_size=12)
bindings = st.builds(
    Binding, ids, ids, st.integers(min_value=1, max_value=10**13), st.sampled_from(["USD", "EUR", "JPY"]), ids
)
codes = st.integers(min_value=0, max_value=999_999).map(lambda n: f"{n:06d}")


def test_codes_are_six_digits_and_mask_themselves() -> None:
    for _ in range(200):
        code = new_code()
        assert len(code.reveal()) == 6 and code.reveal().isdigit()
        assert code.reveal() not in repr(code) and code.reveal() not in repr({"otp": code})


@given(bindings, bindings, codes, codes)
def test_a_hash_matches_only_the_same_binding_and_code(
    a: Binding, b: Binding, code_a: str, code_b: str
) -> None:
    same = (a, code_a) == (b, code_b)
    assert matches(code_hash(SECRET, a, code_a), code_hash(SECRET, b, code_b)) is same


@given(bindings, codes)
def test_the_hash_depends_on_the_server_secret(binding: Binding, code: str) -> None:
    assert code_hash(SECRET, binding, code) != code_hash(SECRET + b"x", binding, code)
