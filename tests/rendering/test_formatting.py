from __future__ import annotations

from datetime import date
from decimal import Decimal

from letters.domain.account import account
from letters.domain.compose import totals_of
from letters.domain.letter_types import Language
from letters.domain.model import (
    Case,
    Claim,
    Cost,
    CostCode,
    Creditor,
    Interest,
    LetterRequest,
    Payment,
)
from letters.domain.rates import rate_table
from letters.rendering import formatting

NB, EN = Language.NB, Language.EN


def test_money_per_language() -> None:
    assert formatting.money(Decimal("1234.5"), NB) == "kr\xa01\xa0234,50"
    assert formatting.money(Decimal("1234.5"), EN) == "NOK\xa01,234.50"
    assert formatting.money(Decimal("1234567.89"), NB) == "kr\xa01\xa0234\xa0567,89"
    assert formatting.money(Decimal("0"), EN) == "NOK\xa00.00"


def test_dates_per_language() -> None:
    day = date(2026, 11, 21)
    assert formatting.long_date(day, NB) == "21. november 2026"
    assert formatting.long_date(day, EN) == "21 November 2026"
    assert formatting.short_date(day, NB) == "21.11.2026"
    # English dates are written out everywhere: 07/12 reads either way round.
    assert formatting.short_date(day, EN) == "21 November 2026"
    assert formatting.short_date(day, "nb") == "21.11.2026"  # type: ignore[arg-type]


def test_percent_account_iban_orgnr() -> None:
    assert formatting.percent(Decimal("12.00"), NB) == "12,00\xa0%"
    assert formatting.percent(Decimal("12.5"), EN) == "12.50%"
    assert formatting.account_number("15034000015") == "1503\xa040\xa000015"
    assert formatting.iban("NO4615034000015") == "NO46\xa01503\xa04000\xa0015"


def test_amounts_in_running_text_put_the_currency_after_in_bokmal() -> None:
    # Språkrådet: "1 315,25 kr" in running text; tables keep "kr 1 315,25".
    assert formatting.money_text(Decimal("1315.25"), NB) == "1\xa0315,25\xa0kr"
    assert formatting.money_text(Decimal("1315.25"), EN) == "NOK\xa01,315.25"
    assert formatting.number(Decimal("1.21"), NB) == "1,21"
    assert formatting.number(Decimal("1.7"), EN) == "1.7"
    assert formatting.organization_number("998877660") == "998\xa0877\xa0660"


def _request(claims, interest=None, costs=(), payments=()) -> LetterRequest:
    from letters.domain.letter_types import LetterType
    from letters.domain.model import Address, Recipient

    return LetterRequest(
        letter_id="x",
        letter_type=LetterType.PURRING,
        language=NB,
        letter_date=None,
        requested_deadline=None,
        case=Case(
            "1-2",
            None,
            Creditor("C", "998877660"),
            tuple(Claim("d", "1", date(2026, 1, 1), Decimal(p)) for p in claims),
            interest,
            tuple(costs),
            tuple(payments),
        ),
        recipient=Recipient("n", Address(("l",), "0155", "OSLO", "NO"), None, False),
    )


def test_totals_are_claims_plus_interest_plus_costs_minus_paid_and_show_what_remains() -> None:
    request = _request(
        ["1249.00", "100.10"],
        Interest(date(2026, 1, 2)),
        [
            Cost(CostCode.REMINDER_FEE, Decimal("37.50"), date(2026, 1, 1)),
            Cost(CostCode.COLLECTION_COSTS, Decimal("300")),
        ],
        [Payment(date(2026, 1, 1), Decimal("200.00"))],
    )
    totals = totals_of(account(request.case, date(2026, 1, 1), rate_table()))
    assert totals.principal == Decimal("1349.10")
    assert totals.interest == Decimal("0.00")
    assert totals.costs == Decimal("337.50")
    assert totals.paid == Decimal("200.00")
    assert totals.due == Decimal("1486.60")
    # The payment paid the fee charged by then first, then the principal.
    assert (totals.costs_left, totals.principal_left) == (Decimal("300.00"), Decimal("1186.60"))
    assert str(totals.due) == "1486.60"


def test_totals_without_interest_or_costs() -> None:
    request = _request(["999999999.99"])
    totals = totals_of(account(request.case, date(2026, 1, 1), rate_table()))
    assert totals.due == Decimal("999999999.99") and totals.interest == Decimal("0.00")
