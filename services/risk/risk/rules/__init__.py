"""The rules file's schema and loader. A rules file is checked when it is loaded, so a
service never starts with rules that could, say, let a sanctions hit through with an OTP."""

from __future__ import annotations

from enum import IntEnum
from functools import cached_property
from pathlib import Path
from typing import Annotated, Literal

import yaml
from paykit.money import MoneyError, parse_amount_minor
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

RULES_DIR = Path(__file__).resolve().parent
DEFAULT_RULES_FILE = RULES_DIR / "v1.yaml"
RULES_FILE_BYTES_MAX = 64 * 1024


class Decision(IntEnum):
    """Ordered by severity: the final decision is the maximum any rule asks for."""

    ALLOW = 0
    CHALLENGE = 1
    REVIEW = 2
    DENY = 3


DecisionName = Literal["ALLOW", "CHALLENGE", "REVIEW", "DENY"]
FailClosed = Literal["REVIEW", "DENY"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AmountOverRule(_Strict):
    code: str
    kind: Literal["amount_over"]
    over: dict[str, str]  # currency -> decimal threshold (exclusive)
    score: int = Field(ge=0, le=1000)

    @cached_property
    def over_minor(self) -> dict[str, int]:
        return {currency: parse_amount_minor(value, currency) for currency, value in self.over.items()}

    @field_validator("over")
    @classmethod
    def _amounts_parse(cls, value: dict[str, str]) -> dict[str, str]:
        if not value:
            raise ValueError("an amount rule needs at least one currency")
        for currency, amount in value.items():
            try:
                parse_amount_minor(amount, currency)
            except MoneyError as exc:
                raise ValueError(f"{currency} {amount!r}: {exc}") from None
        return value


class VelocityOverRule(_Strict):
    code: str
    kind: Literal["velocity_over"]
    count_over: int = Field(ge=0)
    score: int = Field(ge=0, le=1000)


class KycNotVerifiedRule(_Strict):
    code: str
    kind: Literal["kyc_not_verified"]
    score: int = Field(ge=0, le=1000)


ScoreRule = Annotated[AmountOverRule | VelocityOverRule | KycNotVerifiedRule, Field(discriminator="kind")]


class ScoreBands(_Strict):
    challenge_min: int = Field(ge=1)
    high_risk_min: int = Field(ge=1)


class DecisionRules(_Strict):
    CUSTOMER_NOT_FOUND: FailClosed
    SANCTIONS_HIT: Literal["DENY"]  # the one rule no file may soften
    SANCTIONS_REVIEW: FailClosed
    KYC_LIMIT_EXCEEDED: FailClosed
    KYC_LIMIT_CURRENCY_MISMATCH: FailClosed
    # A sanctions hit waiting for a KYC reviewer: the customer pays nothing meanwhile.
    KYC_SANCTIONS_REVIEW: Literal["DENY"] = "DENY"


class FailurePolicy(_Strict):
    CUSTOMER_LOOKUP_UNAVAILABLE: FailClosed
    SANCTIONS_CHECK_UNAVAILABLE: FailClosed
    KYC_CHECK_UNAVAILABLE: Literal["TREAT_AS_UNVERIFIED"]


class Rules(_Strict):
    version: str = Field(min_length=1, max_length=32)
    window_h: int = Field(ge=1, le=24 * 31)
    score: ScoreBands
    score_rules: list[ScoreRule] = Field(min_length=1)
    decision_rules: DecisionRules
    failure_policy: FailurePolicy

    @model_validator(mode="after")
    def _codes_unique(self) -> Rules:
        codes = [rule.code for rule in self.score_rules]
        if len(codes) != len(set(codes)):
            raise ValueError("score rule codes must be unique")
        return self

    @cached_property
    def currencies(self) -> frozenset[str]:
        """Currencies every amount rule has a threshold for: the only ones we can assess."""
        sets = [set(r.over) for r in self.score_rules if isinstance(r, AmountOverRule)]
        return frozenset(set.intersection(*sets)) if sets else frozenset()

    def decision_for(self, code: str) -> Decision:
        name = getattr(self.decision_rules, code, None) or getattr(self.failure_policy, code)
        return Decision[name]


def load_rules(path: Path | None = None) -> Rules:
    """Read and check a rules file (YAML or JSON, which YAML reads too)."""
    path = path or DEFAULT_RULES_FILE
    text = path.read_text(encoding="utf-8")
    if len(text) > RULES_FILE_BYTES_MAX:
        raise ValueError(f"rules file {path.name} is larger than {RULES_FILE_BYTES_MAX} bytes")
    return Rules.model_validate(yaml.safe_load(text))
