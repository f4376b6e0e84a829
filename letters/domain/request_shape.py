"""The shape of ``letters.request/1``: every field's type and format, checked by pydantic.

Strict types, no unknown fields. Text is NFC-normalised and stripped, and
may hold no control, bidirectional or other invisible characters
(``letters.domain.text``); digits are ASCII digits; dates are calendar dates
(``YYYY-MM-DD``, no week or ordinal dates) between 1970 and 2099; amounts are
decimal strings. A rejected value is quoted as a short, escaped prefix.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict

from letters.domain.letter_types import Language, LetterType
from letters.domain.message_body import canonical_uuid
from letters.domain.model import CostCode, PaymentTarget
from letters.domain.text import got, got_schema, nfc, shape, text_problem
from letters.errors import FieldProblem

SCHEMA = "letters.request/1"
MAX_AMOUNT = Decimal("999999999.99")
# The envelope window holds six lines of about 42 characters (see letter.css).
WINDOW_LINE_CHARS = 42
MAX_ADDRESS_LINES = 3
# Dates outside these are typing errors, and would overflow a deadline near year 9999.
EARLIEST_DATE, LATEST_DATE = date(1970, 1, 1), date(2099, 12, 31)
_CASE_NUMBER_RE = re.compile(r"[0-9][0-9-]{0,30}[0-9]")


def case_number_problem(path: str, case_number: str) -> FieldProblem | None:
    """The rule every case number keeps, in requests, case messages and on the command line."""
    if _CASE_NUMBER_RE.fullmatch(case_number):
        return None
    return FieldProblem(path, "must be 2 to 32 digits and hyphens, digits first and last")


_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_AMOUNT_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def _iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date string (YYYY-MM-DD)")
    try:
        if not _DATE_RE.fullmatch(value):
            raise ValueError
        day = date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date (YYYY-MM-DD){got(value)}") from None
    if not EARLIEST_DATE <= day <= LATEST_DATE:
        raise ValueError(f"must be a date from {EARLIEST_DATE} to {LATEST_DATE}")
    return day


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a decimal string such as "1249.00", not a JSON number')
    if not _AMOUNT_RE.fullmatch(value):
        raise ValueError(f'must be a decimal string such as "1249.00"{got(value)}')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"is not a decimal number{got(value)}") from None
    if amount < 0:
        raise ValueError("must not be negative")
    if -amount.as_tuple().exponent > 2:  # type: ignore[operator]
        raise ValueError("must have at most two decimals")
    if amount > MAX_AMOUNT:
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    return amount


def _uuid(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a UUID string")
    canonical = canonical_uuid(value)
    if canonical is None:
        raise ValueError(f"must be a UUID{got(value)}")
    return canonical


def _text(value: object) -> object:
    """NFC, stripped, and free of characters that hide or reorder what is printed."""
    if not isinstance(value, str):
        return value  # the field's type check says what is wrong
    text = nfc(value).strip(" ")
    problem = text_problem(text)
    if problem:
        raise ValueError(problem)
    return text


def _name(value: object) -> object:
    text = _text(value)
    if isinstance(text, str) and not text and value:
        raise ValueError("must not be blank")
    return text


def _compact_digits(value: object) -> object:
    """A number written with spaces or hyphens between its digits, without them."""
    text = _text(value)
    return text.replace(" ", "").replace("-", "") if isinstance(text, str) else text


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Text = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=200)]
Identifier = Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=40)]
WindowLine = Annotated[
    str, BeforeValidator(_text), Field(min_length=1, max_length=WINDOW_LINE_CHARS)
]
Name = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=WINDOW_LINE_CHARS)]
LongName = Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=200)]
Digits = Annotated[str, BeforeValidator(_compact_digits), Field(max_length=40)]
Code = Annotated[str, BeforeValidator(_text), Field(max_length=40)]
# Enums come as their string values in JSON; strict mode would want enum instances.
TypeField = Annotated[LetterType, Strict(False)]
LanguageField = Annotated[Language, Strict(False)]
CostCodeField = Annotated[CostCode, Strict(False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class CreditorShape(_Strict):
    name: LongName
    organization_number: Digits
    # Refused with its own rule (VAT follows each claim, ``outside_vat``); kept in
    # the shape so that the refusal can say so rather than "not a field".
    vat_registered: bool | None = None


class ClaimShape(_Strict):
    description: Text
    invoice_number: Identifier
    invoice_date: IsoDate | None = None
    due_date: IsoDate
    principal: Amount
    outside_vat: bool = False


class InterestShape(_Strict):
    from_date: IsoDate | None = None
    # Refused with their own rule (the service computes the interest); kept in the
    # shape so that the refusal can say so rather than "not a field".
    rate_percent: Amount | None = None
    amount: Amount | None = None


class CostShape(_Strict):
    code: CostCodeField
    amount: Amount
    charged_on: IsoDate | None = None


PaymentTargetField = Annotated[PaymentTarget, Strict(False)]


class PaymentShape(_Strict):
    paid_on: IsoDate
    amount: Amount
    applied_to: PaymentTargetField = PaymentTarget.USUAL_ORDER
    invoice_number: Identifier | None = None


class WaivedCostShape(_Strict):
    code: CostCodeField
    amount: Amount


class EarlierLetterShape(_Strict):
    letter_type: TypeField
    sent_on: IsoDate
    deadline: IsoDate
    sent_by: LongName


class CaseShape(_Strict):
    case_number: Code
    kid: Code | None = None
    creditor: CreditorShape
    claims: Annotated[list[ClaimShape], Field(min_length=1, max_length=60)]
    interest: InterestShape | None = None
    costs: Annotated[list[CostShape], Field(max_length=10)] = []
    payments: Annotated[list[PaymentShape], Field(max_length=60)] = []
    # Refused with its own rule (the service computes what was paid off from
    # ``payments``); kept in the shape so that the refusal can say so.
    paid: Amount | None = None
    earlier_letters: Annotated[list[EarlierLetterShape], Field(max_length=20)] = []
    waived_costs: Annotated[list[WaivedCostShape], Field(max_length=10)] = []


class AddressShape(_Strict):
    lines: Annotated[list[WindowLine], Field(min_length=1, max_length=MAX_ADDRESS_LINES)]
    postal_code: Annotated[str, BeforeValidator(_text), Field(min_length=1, max_length=12)]
    city: Annotated[str, BeforeValidator(_name), Field(min_length=1, max_length=35)]
    country_code: Code


class RecipientShape(_Strict):
    name: Name
    national_identity_number: Digits | None = None
    address: AddressShape
    digital_consent: bool = False


class RequestShape(_Strict):
    schema_: Literal["letters.request/1"] = Field(alias="schema")
    letter_id: Annotated[str, BeforeValidator(_uuid)]
    letter_type: TypeField
    language: LanguageField
    letter_date: IsoDate | None = None
    deadline: IsoDate | None = None
    case: CaseShape
    recipient: RecipientShape


_TYPE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": f"is not a field of {SCHEMA}",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "string_too_short": "must not be empty",
}


# A field name is repeated in a refusal only if it looks like one: a key such as
# "Kari Nordmann" or "01017012345" is somebody's data sent as a name.
_FIELD_NAME_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = part if _FIELD_NAME_RE.fullmatch(part) else f"<a name of {shape(part)}>"
            out += ("." if out else "") + name
    return out


def problem_from_pydantic(error: Any) -> FieldProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        rule = str(ctx.get("error", error["msg"]))
    elif kind == "literal_error" and loc == ("schema",):
        rule = f'must be "{SCHEMA}"{got_schema(error.get("input"))}'
    elif kind == "enum":
        rule = f"must be one of {ctx.get('expected')}{got(error.get('input'))}"
    elif kind == "string_too_long" or (kind == "too_long" and isinstance(error.get("input"), str)):
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif kind == "too_short" and isinstance(error.get("input"), str):
        rule = "must not be empty"
    elif kind == "too_short":
        rule = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":
        rule = f"must have at most {ctx.get('max_length')} items"
    else:
        rule = _TYPE_MESSAGES.get(kind, str(error["msg"])[:120])
    return FieldProblem(field_path(loc), rule)
