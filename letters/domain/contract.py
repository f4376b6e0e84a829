"""The ``letters.request/1`` contract: untrusted JSON in, a ``LetterRequest`` out.

The shape comes first (``letters.domain.request_shape``: types, formats, no
unknown fields); the rules that span fields follow in plain code, once the
shape is right. Every problem of a stage is reported at once, each with its
dotted field path and the rule it breaks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from pydantic import ValidationError
from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import fodselsnummer, orgnr

from letters.domain import kid as kidlib
from letters.domain.account import account
from letters.domain.cost_rules import cost_problems
from letters.domain.countries import ASSIGNED
from letters.domain.message_body import DEFAULT_LIMITS, BodyLimits, request_object
from letters.domain.model import (
    Address,
    Case,
    Claim,
    Cost,
    Creditor,
    EarlierLetter,
    Interest,
    LetterRequest,
    Payment,
    Recipient,
)
from letters.domain.rates import MissingRate, RateTable, rate_table
from letters.domain.request_shape import (
    SCHEMA,
    WINDOW_LINE_CHARS,
    RequestShape,
    case_number_problem,
    problem_from_pydantic,
)
from letters.domain.text import got, got_schema, money_text, text_problem
from letters.errors import FieldProblem, InvalidRequest

__all__ = ["SCHEMA", "ContractRules", "parse_request"]

_FOREIGN_POSTAL_CODE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 -]*")


@dataclass(frozen=True, slots=True)
class ContractRules:
    """The agency settings that validation depends on."""

    kid_method: kidlib.KidMethod
    kid_length: int
    kid_scheme: kidlib.KidScheme = kidlib.KidScheme.CASE_NUMBER
    # The code points the letter's fonts can draw (None: not checked); text fields
    # holding others are refused, so that no letter falls back to another font.
    drawable: frozenset[int] | None = None
    limits: BodyLimits = DEFAULT_LIMITS
    rates: RateTable = field(default_factory=rate_table)


def valid_national_identity_number(text: str) -> bool:
    """A fødselsnummer or D-number: 11 digits (spaces and hyphens between them allowed) with
    both check digits right."""
    digits = text.replace(" ", "").replace("-", "")
    if not re.fullmatch(r"[0-9]{11}", digits):
        return False
    try:
        fodselsnummer.validate(digits)
    except StdnumError:
        return False
    return True


def parse_request(
    raw: bytes | str | dict[str, Any], rules: ContractRules, today: date
) -> LetterRequest:
    """Validate a request and return it as a ``LetterRequest``.

    Raises:
        InvalidRequest: with every problem found, each naming its field path.
    """
    data = request_object(raw, rules.limits) if isinstance(raw, bytes | str) else raw
    if not isinstance(data, dict):
        raise InvalidRequest([FieldProblem("", "body must be a JSON object")])
    if data.get("schema") != SCHEMA and "schema" in data:
        # An unknown schema version is reported alone: its other fields mean something else.
        rule = f'must be "{SCHEMA}"{got_schema(data.get("schema"))}'
        raise InvalidRequest([FieldProblem("schema", rule)])
    try:
        parsed = RequestShape.model_validate(data)
    except ValidationError as err:
        raise InvalidRequest([problem_from_pydantic(e) for e in err.errors()]) from None
    problems = _cross_field_problems(parsed, rules, today)
    request = _to_domain(parsed)
    letter_date = parsed.letter_date or today
    # A cap that needs a rate nobody has checked yet is checked again (``check_costs``)
    # before the letter is rendered, once the rate is there.
    with suppress(MissingRate):
        problems += cost_problems(request, letter_date, rules.rates)
    if not problems:
        problems += _nothing_owed(request, letter_date, rules.rates)
    if problems:
        raise InvalidRequest(problems)
    return request


def _nothing_owed(
    request: LetterRequest, letter_date: date, rates: RateTable
) -> list[FieldProblem]:
    try:
        balance = account(request.case, letter_date, rates)
    except MissingRate:
        # A half-year nobody has checked the rate of: the letter waits for it, and
        # this is checked again when it is rendered.
        return []
    problems = [
        FieldProblem(
            f"case.payments[{index}].amount",
            f"is {money_text(excess)} more than was owed on "
            f"{request.case.payments[index].paid_on.isoformat()} (claims + interest + costs "
            "charged by then); a letter is never sent for a claim that is paid",
        )
        for index, excess in balance.excess
    ]
    if not problems and balance.due <= 0:
        problems.append(
            FieldProblem(
                "case.payments",
                "pay off everything (claims + interest + costs); nothing is owed",
            )
        )
    return problems


def _cross_field_problems(
    req: RequestShape, rules: ContractRules, today: date
) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    add = problems.append
    case, recipient = req.case, req.recipient
    letter_date = req.letter_date or today

    if problem := case_number_problem("case.case_number", case.case_number):
        add(problem)
    elif case.kid is None:
        digits = sum(ch in "0123456789" for ch in case.case_number)
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
    elif case.kid is not None and rules.kid_scheme is kidlib.KidScheme.CASE_NUMBER:
        with suppress(ValueError):  # a case number too long for a KID is reported above
            expected = kidlib.kid_from_case_number(
                case.case_number, rules.kid_method, rules.kid_length
            )
            if case.kid != expected:
                add(
                    FieldProblem(
                        "case.kid",
                        f"must be the KID of case {case.case_number} under the agency's KID "
                        f"scheme (rules.kid_scheme = case_number): {expected}; this KID "
                        "belongs to another case number, and its payments would be booked "
                        "there",
                    )
                )

    try:
        if not case.creditor.organization_number.isascii():
            raise StdnumError
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

    if case.paid is not None:
        add(
            FieldProblem(
                "case.paid",
                "must be left out: the service computes what the payments paid off and what "
                "remains (inkassoloven § 10 c); give each payment in case.payments with "
                "paid_on and amount",
            )
        )
    if case.creditor.vat_registered is not None:
        add(
            FieldProblem(
                "case.creditor.vat_registered",
                "must be left out: VAT on collection costs follows the claims, not the "
                "creditor (inkassoforskriften § 2-2); mark each claim from activity outside "
                "the VAT system with case.claims[].outside_vat",
            )
        )
    invoices = {c.invoice_number for c in case.claims}
    for i, payment in enumerate(case.payments):
        if payment.amount <= 0:
            add(FieldProblem(f"case.payments[{i}].amount", "must be greater than zero"))
        if payment.paid_on > today:
            add(
                FieldProblem(
                    f"case.payments[{i}].paid_on",
                    f"must not be after today {today.isoformat()}: a payment not yet made "
                    "is not in the balance",
                )
            )
        if payment.invoice_number is not None and payment.invoice_number not in invoices:
            add(
                FieldProblem(
                    f"case.payments[{i}].invoice_number",
                    "must be the invoice_number of one of case.claims",
                )
            )

    first_due = min(c.due_date for c in case.claims)
    if case.interest is not None:
        for field in ("rate_percent", "amount"):
            if getattr(case.interest, field) is not None:
                add(
                    FieldProblem(
                        f"case.interest.{field}",
                        "must be left out: the service computes the interest from the rate "
                        "table (forsinkelsesrenteloven § 3); give only from_date, if any",
                    )
                )
        from_date = case.interest.from_date
        if from_date is not None and from_date <= first_due:
            add(
                FieldProblem(
                    "case.interest.from_date",
                    f"must be after the earliest due date {first_due.isoformat()}",
                )
            )
        if from_date is not None and from_date > letter_date:
            add(FieldProblem("case.interest.from_date", "must not be after the letter date"))
        known_from = rules.rates.interest_known_from
        for i, claim in enumerate(case.claims):
            start = max(claim.due_date + timedelta(days=1), from_date or date.min)
            if start < known_from:
                add(
                    FieldProblem(
                        f"case.claims[{i}].due_date",
                        f"interest from {start.isoformat()} cannot be computed: the rate table "
                        f"starts on {known_from.isoformat()}; give case.interest.from_date",
                    )
                )

    if req.deadline is not None and req.deadline <= letter_date:
        add(FieldProblem("deadline", "must be after the letter date"))

    for i, earlier in enumerate(case.earlier_letters):
        if earlier.deadline <= earlier.sent_on:
            add(FieldProblem(f"case.earlier_letters[{i}].deadline", "must be after sent_on"))
        if earlier.sent_on > letter_date:
            add(
                FieldProblem(
                    f"case.earlier_letters[{i}].sent_on",
                    f"must not be after the letter date {letter_date.isoformat()}",
                )
            )

    nin = recipient.national_identity_number
    if nin is not None and not valid_national_identity_number(nin):
        add(
            FieldProblem(
                "recipient.national_identity_number",
                "must be a valid Norwegian national identity number or D-number "
                "(11 digits, both check digits; spaces and hyphens between them are allowed)",
            )
        )

    address = recipient.address
    if address.country_code not in ASSIGNED:
        add(
            FieldProblem(
                "recipient.address.country_code",
                "must be an ISO 3166-1 alpha-2 country code in capitals, assigned to a country, "
                f"such as NO{got(address.country_code)}",
            )
        )
    elif address.country_code == "NO":
        if not re.fullmatch(r"[0-9]{4}", address.postal_code):
            add(
                FieldProblem(
                    "recipient.address.postal_code", "must be 4 digits when country_code is NO"
                )
            )
    elif not _FOREIGN_POSTAL_CODE_RE.fullmatch(address.postal_code):
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
    if rules.drawable is not None:
        for path, value in _printed_text(req):
            if why := text_problem(value, rules.drawable):
                add(FieldProblem(path, why))
    return problems


def _printed_text(req: RequestShape) -> Iterator[tuple[str, str]]:
    """Every field of the request that the letter prints, with its path."""
    case, recipient = req.case, req.recipient
    yield "case.case_number", case.case_number
    yield "case.creditor.name", case.creditor.name
    for i, claim in enumerate(case.claims):
        yield f"case.claims[{i}].description", claim.description
        yield f"case.claims[{i}].invoice_number", claim.invoice_number
    yield "recipient.name", recipient.name
    for i, line in enumerate(recipient.address.lines):
        yield f"recipient.address.lines[{i}]", line
    yield "recipient.address.postal_code", recipient.address.postal_code
    yield "recipient.address.city", recipient.address.city


def _to_domain(req: RequestShape) -> LetterRequest:
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
                Claim(
                    x.description,
                    x.invoice_number,
                    x.due_date,
                    x.principal,
                    x.invoice_date,
                    x.outside_vat,
                )
                for x in c.claims
            ),
            interest=Interest(c.interest.from_date) if c.interest else None,
            costs=tuple(Cost(x.code, x.amount, x.charged_on) for x in c.costs),
            waived_costs=tuple(Cost(x.code, x.amount) for x in c.waived_costs),
            payments=tuple(
                Payment(x.paid_on, x.amount, x.applied_to, x.invoice_number) for x in c.payments
            ),
            earlier_letters=tuple(
                EarlierLetter(x.letter_type, x.sent_on, x.deadline, x.sent_by)
                for x in c.earlier_letters
            ),
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
