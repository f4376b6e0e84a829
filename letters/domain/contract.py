"""The ``letters.request/1`` contract: untrusted JSON in, a ``LetterRequest`` out.

Pydantic checks the shape (strict types, no unknown fields, formats); the
rules that span fields follow in plain code, once the shape is right. Every
problem of a stage is reported at once, each with its dotted field path and
the rule it breaks.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from babel import Locale
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer, orgnr

from letters.domain import kid as kidlib
from letters.domain.letter_types import Language, LetterType
from letters.domain.message_body import request_object
from letters.domain.model import (
    Address,
    Case,
    Claim,
    Cost,
    CostCode,
    Creditor,
    Interest,
    LetterRequest,
    Recipient,
)
from letters.errors import FieldProblem, InvalidRequest

SCHEMA = "letters.request/1"
MAX_AMOUNT = Decimal("999999999.99")
# The envelope window holds six lines of about 42 characters (see letter.css).
WINDOW_LINE_CHARS = 42
MAX_ADDRESS_LINES = 3
_COUNTRY_CODES = frozenset(Locale("en").territories) - {"ZZ"}
_AMOUNT_RE = re.compile(r"^-?\d+(\.\d+)?$")
_CASE_NUMBER_RE = re.compile(r"^[0-9][0-9-]{0,30}[0-9]$")


def _iso_date(value: object) -> date:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date string (YYYY-MM-DD)")
    try:
        if len(value) != 10:
            raise ValueError
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError(f"must be an ISO 8601 date (YYYY-MM-DD), got {value!r}") from None


def _amount(value: object) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, str):
        raise ValueError('must be a decimal string such as "1249.00", not a JSON number')
    if not _AMOUNT_RE.match(value):
        raise ValueError(f'must be a decimal string such as "1249.00", got {value!r}')
    try:
        amount = Decimal(value)
    except InvalidOperation:
        raise ValueError(f"is not a decimal number: {value!r}") from None
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
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError(f"must be a UUID, got {value!r}") from None


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
Amount = Annotated[Decimal, BeforeValidator(_amount)]
Text = Annotated[str, Field(min_length=1, max_length=200)]
WindowLine = Annotated[str, Field(min_length=1, max_length=WINDOW_LINE_CHARS)]
# Enums come as their string values in JSON; strict mode would want enum instances.
TypeField = Annotated[LetterType, Strict(False)]
LanguageField = Annotated[Language, Strict(False)]
CostCodeField = Annotated[CostCode, Strict(False)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class _Creditor(_Strict):
    name: Text
    organization_number: str


class _Claim(_Strict):
    description: Text
    invoice_number: Annotated[str, Field(min_length=1, max_length=40)]
    invoice_date: IsoDate | None = None
    due_date: IsoDate
    principal: Amount


class _Interest(_Strict):
    rate_percent: Amount
    from_date: IsoDate
    amount: Amount


class _Cost(_Strict):
    code: CostCodeField
    amount: Amount


class _Case(_Strict):
    case_number: str
    kid: str | None = None
    creditor: _Creditor
    claims: Annotated[list[_Claim], Field(min_length=1, max_length=60)]
    interest: _Interest | None = None
    costs: Annotated[list[_Cost], Field(max_length=10)] = []
    paid: Amount = Decimal("0.00")


class _Address(_Strict):
    lines: Annotated[list[WindowLine], Field(min_length=1, max_length=MAX_ADDRESS_LINES)]
    postal_code: Annotated[str, Field(min_length=1, max_length=12)]
    city: Annotated[str, Field(min_length=1, max_length=35)]
    country_code: str


class _Recipient(_Strict):
    name: WindowLine
    national_identity_number: str | None = None
    address: _Address
    digital_consent: bool = False


class _Request(_Strict):
    schema_: Literal["letters.request/1"] = Field(alias="schema")
    letter_id: Annotated[str, BeforeValidator(_uuid)]
    letter_type: TypeField
    language: LanguageField
    letter_date: IsoDate | None = None
    deadline: IsoDate | None = None
    case: _Case
    recipient: _Recipient


@dataclass(frozen=True, slots=True)
class ContractRules:
    """The agency settings that validation depends on."""

    kid_method: kidlib.KidMethod
    kid_length: int


_TYPE_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a field of letters.request/1",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "model_type": "must be an object",
    "dict_type": "must be an object",
    "string_too_short": "must not be empty",
}


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _problem_from_pydantic(error: Any) -> FieldProblem:
    loc = tuple(error["loc"])
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        rule = str(ctx.get("error", error["msg"]))
    elif kind == "literal_error" and loc == ("schema",):
        rule = f'must be "{SCHEMA}", got {error.get("input")!r}'
    elif kind == "enum":
        rule = f"must be one of {ctx.get('expected')}, got {error.get('input')!r}"
    elif kind == "string_too_long":
        rule = f"must be at most {ctx.get('max_length')} characters"
    elif kind == "too_short":
        rule = f"must have at least {ctx.get('min_length')} item(s)"
    elif kind == "too_long":
        rule = f"must have at most {ctx.get('max_length')} items"
    else:
        rule = _TYPE_MESSAGES.get(kind, error["msg"])
    return FieldProblem(_path(loc), rule)


def parse_request(
    raw: bytes | str | dict[str, Any], rules: ContractRules, today: date
) -> LetterRequest:
    """Validate a request and return it as a ``LetterRequest``.

    Raises:
        InvalidRequest: with every problem found, each naming its field path.
    """
    data = request_object(raw) if isinstance(raw, bytes | str) else raw
    if not isinstance(data, dict):
        raise InvalidRequest([FieldProblem("", "body must be a JSON object")])
    if data.get("schema") != SCHEMA and "schema" in data:
        # An unknown schema version is reported alone: its other fields mean something else.
        got = data.get("schema")
        raise InvalidRequest([FieldProblem("schema", f'must be "{SCHEMA}", got {got!r}')])
    try:
        parsed = _Request.model_validate(data)
    except ValidationError as err:
        raise InvalidRequest([_problem_from_pydantic(e) for e in err.errors()]) from None
    problems = _cross_field_problems(parsed, rules, today)
    if problems:
        raise InvalidRequest(problems)
    return _to_domain(parsed)


def _cross_field_problems(req: _Request, rules: ContractRules, today: date) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    add = problems.append
    case, recipient = req.case, req.recipient
    letter_date = req.letter_date or today

    if not _CASE_NUMBER_RE.match(case.case_number):
        add(
            FieldProblem(
                "case.case_number", "must be 2 to 32 digits and hyphens, digits first and last"
            )
        )
    elif case.kid is None:
        digits = sum(ch.isdigit() for ch in case.case_number)
        if digits > rules.kid_length - 1:
            add(
                FieldProblem(
                    "case.case_number",
                    f"has {digits} digits; a KID derived from it holds at most "
                    f"{rules.kid_length - 1}",
                )
            )
    if case.kid is not None and (why := kidlib.kid_problem(case.kid, rules.kid_method)):
        add(FieldProblem("case.kid", why))

    try:
        orgnr.validate(case.creditor.organization_number)
    except StdnumError:
        add(
            FieldProblem(
                "case.creditor.organization_number",
                "must be a valid Norwegian organisation number (9 digits, MOD11)",
            )
        )

    for i, claim in enumerate(case.claims):
        if claim.due_date >= letter_date:
            add(
                FieldProblem(
                    f"case.claims[{i}].due_date",
                    f"must be before the letter date {letter_date.isoformat()}",
                )
            )
        if claim.principal <= 0:
            add(FieldProblem(f"case.claims[{i}].principal", "must be greater than zero"))
        if claim.invoice_date and claim.invoice_date > claim.due_date:
            add(FieldProblem(f"case.claims[{i}].invoice_date", "must not be after the due date"))

    first_due = min(c.due_date for c in case.claims)
    if case.interest is not None:
        if case.interest.rate_percent > 100:
            add(FieldProblem("case.interest.rate_percent", "must be at most 100"))
        if case.interest.from_date <= first_due:
            add(
                FieldProblem(
                    "case.interest.from_date",
                    f"must be after the earliest due date {first_due.isoformat()}",
                )
            )
        if case.interest.from_date > letter_date:
            add(FieldProblem("case.interest.from_date", "must not be after the letter date"))

    problems += _fee_problems(req, letter_date)

    total = (
        sum((c.principal for c in case.claims), Decimal(0))
        + (case.interest.amount if case.interest else 0)
        + sum((c.amount for c in case.costs), Decimal(0))
    )
    if case.paid >= total:
        add(
            FieldProblem(
                "case.paid", "must be less than claims + interest + costs (nothing is owed)"
            )
        )

    if req.deadline is not None and req.deadline <= letter_date:
        add(FieldProblem("deadline", "must be after the letter date"))

    nin = recipient.national_identity_number
    if nin is not None:
        try:
            fodselsnummer.validate(nin)
        except StdnumError:
            add(
                FieldProblem(
                    "recipient.national_identity_number",
                    "must be a valid Norwegian national identity number or D-number "
                    "(11 digits, both check digits)",
                )
            )

    address = recipient.address
    if address.country_code not in _COUNTRY_CODES:
        add(
            FieldProblem(
                "recipient.address.country_code",
                "must be an ISO 3166-1 alpha-2 country code in capitals, such as NO",
            )
        )
    elif address.country_code == "NO":
        if not (len(address.postal_code) == 4 and address.postal_code.isdigit()):
            add(
                FieldProblem(
                    "recipient.address.postal_code", "must be 4 digits when country_code is NO"
                )
            )
    elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 -]*", address.postal_code):
        add(
            FieldProblem(
                "recipient.address.postal_code", "must be letters, digits, spaces and hyphens"
            )
        )
    if len(f"{address.postal_code} {address.city}") > WINDOW_LINE_CHARS:
        add(
            FieldProblem(
                "recipient.address.city",
                "postal code and city together must fit one line of "
                f"{WINDOW_LINE_CHARS} characters",
            )
        )
    return problems


_FEE_NOTICE = {
    CostCode.REMINDER_FEE: ("a reminder fee", "inkassoforskriften § 1-2 (1)"),
    CostCode.COLLECTION_NOTICE_FEE: ("a collection notice fee", "inkassoforskriften § 1-2 (2)"),
}


def _fee_problems(req: _Request, letter_date: date) -> list[FieldProblem]:
    """Fees for reminders and collection notices need 14 days since the due date."""
    problems = []
    last_due = max(c.due_date for c in req.case.claims)
    for i, cost in enumerate(req.case.costs):
        if cost.code in _FEE_NOTICE and (letter_date - last_due).days < 14:
            what, basis = _FEE_NOTICE[cost.code]
            problems.append(
                FieldProblem(
                    f"case.costs[{i}].code",
                    f"{what} is allowed only when the letter is sent at least 14 days after "
                    f"the due date ({basis})",
                )
            )
    return problems


def _to_domain(req: _Request) -> LetterRequest:
    c = req.case
    r = req.recipient
    return LetterRequest(
        letter_id=req.letter_id,
        letter_type=req.letter_type,
        language=req.language,
        letter_date=req.letter_date,
        requested_deadline=req.deadline,
        case=Case(
            case_number=c.case_number,
            kid=c.kid,
            creditor=Creditor(c.creditor.name, orgnr.compact(c.creditor.organization_number)),
            claims=tuple(
                Claim(x.description, x.invoice_number, x.due_date, x.principal, x.invoice_date)
                for x in c.claims
            ),
            interest=(
                Interest(c.interest.rate_percent, c.interest.from_date, c.interest.amount)
                if c.interest
                else None
            ),
            costs=tuple(Cost(x.code, x.amount) for x in c.costs),
            paid=c.paid,
        ),
        recipient=Recipient(
            name=r.name,
            address=Address(
                tuple(r.address.lines),
                r.address.postal_code,
                r.address.city,
                r.address.country_code,
            ),
            national_identity_number=r.national_identity_number,
            digital_consent=r.digital_consent,
        ),
    )
