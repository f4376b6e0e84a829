"""Everything the service adds to a request before rendering: KID, password, deadline, sums."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

from letters.domain import otp
from letters.domain.deadline import payment_deadline
from letters.domain.interest import (
    InterestLine,
    InterestPeriod,
    interest_lines,
    interest_per_claim,
    interest_periods,
    total_interest,
)
from letters.domain.kid import kid_from_case_number
from letters.domain.letter_types import LetterType
from letters.domain.model import LetterRequest
from letters.domain.posting import letter_date_for
from letters.domain.profile import AgencyProfile
from letters.domain.rates import RateTable, rate_table

CENT = Decimal("0.01")


@dataclass(frozen=True, slots=True)
class Totals:
    principal: Decimal
    interest: Decimal
    costs: Decimal
    paid: Decimal
    due: Decimal


@dataclass(frozen=True, slots=True)
class FutureFee:
    """The state's fee for a request for utlegg, named in a varsel as a cost still to come."""

    amount: Decimal
    times: Decimal  # in rettsgebyr
    court_fee_unit: Decimal
    unit_from: date


@dataclass(frozen=True, slots=True)
class ComposedLetter:
    """A request with the service's additions; the input to the templates.

    ``password`` is the only copy of the plain password and is hidden from repr.
    """

    request: LetterRequest
    agency: AgencyProfile
    letter_date: date
    kid: str
    deadline: date
    password: otp.OneTimePassword
    password_record: otp.PasswordRecord
    totals: Totals
    # varsel om rettslig pågang: the first day enforcement may be requested
    # (two weeks after sending, tvangsfullbyrdelsesloven § 4-18).
    enforcement_from: date
    # The day the letter leaves, as planned (None: not known, as for ``letters render``).
    leaves_on: date | None = None
    # The request's letter date, when it was earlier than the day the letter leaves.
    moved_from: date | None = None
    # Interest per claim and rate period, calculated up to and including the letter date.
    interest_lines: tuple[InterestLine, ...] = ()
    # The same interest as the templates show it: summed per rate period, and per claim.
    interest_periods: tuple[InterestPeriod, ...] = ()
    claim_interest: tuple[Decimal, ...] = ()
    # varsel om rettslig pågang: the fee a request for utlegg would cost.
    attachment_fee: FutureFee | None = None


def totals_of(request: LetterRequest, interest: Decimal = Decimal(0)) -> Totals:
    case = request.case
    principal = sum((c.principal for c in case.claims), Decimal(0))
    costs = sum((c.amount for c in case.costs), Decimal(0))
    due = principal + interest + costs - case.paid
    return Totals(*(x.quantize(CENT) for x in (principal, interest, costs, case.paid, due)))


def compose(
    request: LetterRequest,
    agency: AgencyProfile,
    today: date,
    password: otp.OneTimePassword | None = None,
    leaves_on: date | None = None,
    rates: RateTable | None = None,
    *,
    pepper: otp.Pepper,
) -> ComposedLetter:
    """Add KID, deadline, one-time password and totals to a validated request.

    ``leaves_on`` is the day the letter leaves (``letters.domain.posting``): the
    letter is dated by it, or by the later day the request asks for, and the
    deadline counts from that date. Without it, ``today`` stands in for a
    request without a letter date.
    """
    if leaves_on is None:
        letter_date = request.letter_date or today
    else:
        letter_date = letter_date_for(request.letter_date, leaves_on)
    asked = request.letter_date
    moved_from = (
        asked if leaves_on is not None and asked is not None and asked < leaves_on else None
    )
    kid = request.case.kid or kid_from_case_number(
        request.case.case_number, agency.kid_method, agency.kid_length
    )
    deadline = payment_deadline(
        request.letter_type, letter_date, agency.deadline_days, request.requested_deadline
    )
    rates = rates or rate_table()
    lines = interest_lines(request.case, letter_date, rates)
    attachment_fee = None
    if request.letter_type is LetterType.VARSEL_RETTSLIG_PAGANG:
        unit = rates.court_fee_on(letter_date)
        attachment_fee = FutureFee(
            rates.attachment_fee_on(letter_date),
            rates.attachment_fee_times(letter_date),
            unit.value,
            unit.valid_from,
        )
    password = password or otp.generate()
    record = otp.hash_password(password, otp.expiry(letter_date, deadline), pepper)
    return ComposedLetter(
        request=request,
        agency=agency,
        letter_date=letter_date,
        kid=kid,
        deadline=deadline,
        password=password,
        password_record=record,
        totals=totals_of(request, total_interest(lines)),
        enforcement_from=letter_date + timedelta(days=14),
        leaves_on=leaves_on,
        moved_from=moved_from,
        interest_lines=lines,
        interest_periods=interest_periods(lines),
        claim_interest=interest_per_claim(lines, len(request.case.claims)),
        attachment_fee=attachment_fee,
    )
