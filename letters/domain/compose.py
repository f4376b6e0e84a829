"""Everything the service adds to a request before rendering: KID, password, deadline, sums."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_FLOOR, Decimal

from letters.domain import otp
from letters.domain.account import Account, AppliedPayment, account
from letters.domain.cost_rules import check_costs
from letters.domain.deadline import payment_deadline
from letters.domain.interest import (
    InterestLine,
    InterestPeriod,
    interest_per_claim,
    interest_periods,
)
from letters.domain.kid import kid_from_case_number
from letters.domain.letter_order import PriorLetter, check_order, reported_letters
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
    # What remains of each after the payments (inkassoloven § 10 c).
    principal_left: Decimal
    interest_left: Decimal
    costs_left: Decimal


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
    # varsel om rettslig pågang: the first day enforcement will be requested: two weeks
    # after sending (tvangsfullbyrdelsesloven § 4-18), and never before the day after
    # the deadline.
    enforcement_from: date
    # The day the figures were taken: payments after it are not in the letter.
    balance_date: date
    # When the letter was made (the PDF's CreationDate).
    made_at: datetime
    # The day the letter leaves, as planned (None: not known, as for ``letters render``).
    leaves_on: date | None = None
    # The request's letter date, when it was earlier than the day the letter leaves.
    moved_from: date | None = None
    # Interest per claim and rate period, calculated up to and including the letter date.
    interest_lines: tuple[InterestLine, ...] = ()
    # The same interest as the templates show it: summed per rate period, and per claim.
    interest_periods: tuple[InterestPeriod, ...] = ()
    claim_interest: tuple[Decimal, ...] = ()
    # The case's payments, each with what it paid off, in date order.
    payments: tuple[AppliedPayment, ...] = ()
    # varsel om rettslig pågang: the fee a request for utlegg would cost.
    attachment_fee: FutureFee | None = None
    # varsel om rettslig pågang: what preparing the request may cost, when claimed.
    request_cost: FutureFee | None = None


def totals_of(balance: Account) -> Totals:
    return Totals(
        *(
            x.quantize(CENT)
            for x in (
                balance.principal,
                balance.interest,
                balance.costs,
                balance.paid,
                balance.due,
                balance.principal_left,
                balance.interest_left,
                balance.costs_left,
            )
        )
    )


def compose(
    request: LetterRequest,
    agency: AgencyProfile,
    today: date,
    password: otp.OneTimePassword | None = None,
    leaves_on: date | None = None,
    rates: RateTable | None = None,
    *,
    pepper: otp.Pepper,
    made_at: datetime | None = None,
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
        request.letter_type,
        letter_date,
        agency.deadline_days,
        request.requested_deadline,
        agency.deadline_extensions,
        abroad=not request.recipient.address.is_domestic,
    )
    rates = rates or rate_table()
    balance = account(request.case, letter_date, rates)
    lines = balance.interest_lines
    attachment_fee = request_cost = None
    if request.letter_type is LetterType.VARSEL_RETTSLIG_PAGANG:
        unit = rates.court_fee_on(letter_date)
        attachment_fee = FutureFee(
            rates.attachment_fee_on(letter_date),
            rates.attachment_fee_times(letter_date),
            unit.value,
            unit.valid_from,
        )
        if agency.claims_request_cost:
            whole = unit.value.quantize(Decimal(1), rounding=ROUND_FLOOR)
            request_cost = FutureFee(whole, Decimal(1), unit.value, unit.valid_from)
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
        totals=totals_of(balance),
        enforcement_from=max(letter_date + timedelta(days=14), deadline + timedelta(days=1)),
        balance_date=min(today, letter_date),
        made_at=made_at or datetime.combine(today, time(), tzinfo=UTC),
        leaves_on=leaves_on,
        moved_from=moved_from,
        interest_lines=lines,
        interest_periods=interest_periods(lines),
        claim_interest=interest_per_claim(lines, len(request.case.claims)),
        payments=balance.payments,
        attachment_fee=attachment_fee,
        request_cost=request_cost,
    )


def check_before_compose(
    request: LetterRequest,
    profile: AgencyProfile,
    rates: RateTable,
    *,
    leaves_on: date,
    ledger_letters: Sequence[PriorLetter] | None = None,
) -> None:
    """The law's checks before a letter is composed, the same for the worker and for
    previews: its place in the order of letters, and the costs it may claim.

    ``ledger_letters``: the case's earlier letters the worker's ledger holds. A
    preview has none, and knows only the letters the request reports: with none
    reported, there is no order to check. Raises InvalidRequest naming each fault.
    """
    prior = reported_letters(request, profile.name) + list(ledger_letters or ())
    if ledger_letters is not None or request.case.earlier_letters:
        check_order(request, leaves_on, prior, profile.order)
    check_costs(request, letter_date_for(request.letter_date, leaves_on), prior, rates)
