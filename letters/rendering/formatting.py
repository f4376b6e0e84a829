"""How amounts, dates and numbers are written in each language (Babel, explicit locales)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from babel.dates import format_date
from babel.numbers import format_currency, format_decimal

from letters.domain.letter_types import Language

# Keyed by the plain strings too: templates pass the language as "nb" or "en".
_LOCALE = {Language.NB: "nb_NO", Language.EN: "en_GB"}
# "kr 1 234,50" and "NOK 1,234.50": the currency first, as in Norwegian tables,
# with a no-break space so the amount never wraps away from it.
_MONEY_PATTERN = "¤\xa0#,##0.00"


def money(amount: Decimal, language: Language) -> str:
    return format_currency(
        amount, "NOK", _MONEY_PATTERN, locale=_LOCALE[language], currency_digits=False
    )


def money_text(amount: Decimal, language: Language) -> str:
    """An amount in running text, as Språkrådet writes it: "1 315,25 kr" / "NOK 1,315.25"."""
    if Language(language) is Language.NB:
        number = format_decimal(amount, "#,##0.00", locale=_LOCALE[language])
        return f"{number}\xa0kr"
    return money(amount, language)


def whole_kroner(amount: Decimal, language: Language) -> str:
    """A fee in whole kroner, as fees reckoned in rettsgebyr are: "1 589 kr" / "NOK 1,589"."""
    if amount != amount.to_integral_value():
        raise ValueError(f"{amount} is not a whole number of kroner")
    number = format_decimal(amount, "#,##0", locale=_LOCALE[language])
    return f"{number}\xa0kr" if Language(language) is Language.NB else f"NOK\xa0{number}"


def long_date(day: date, language: Language) -> str:
    """ "21. november 2026" / "21 November 2026"."""
    return format_date(day, "long", locale=_LOCALE[language])


def short_date(day: date, language: Language) -> str:
    """ "21.11.2026" / "21 November 2026": English readers take 07/12 either way round."""
    if Language(language) is Language.NB:
        return format_date(day, "dd.MM.y", locale=_LOCALE[language])
    return long_date(day, language)


def date_span(first: date, last: date, language: Language) -> str:
    """A span of days, the year once when both are in it: "02.09.–23.11.2026" /
    "2 September to 23 November 2026"."""
    if Language(language) is Language.NB:
        if first.year == last.year:
            return f"{format_date(first, 'dd.MM.', locale='nb_NO')}–{short_date(last, language)}"
        return f"{short_date(first, language)}–{short_date(last, language)}"
    start = (
        format_date(first, "d MMMM", locale="en_GB")
        if first.year == last.year
        else (long_date(first, language))
    )
    return f"{start} to {long_date(last, language)}"


def percent(rate: Decimal, language: Language) -> str:
    """ "12,00 %" / "12.00%"."""
    number = format_decimal(rate, "#,##0.00", locale=_LOCALE[language])
    return f"{number}\xa0%" if Language(language) is Language.NB else f"{number}%"


def number(value: Decimal, language: Language) -> str:
    """ "1,21" / "1.21"."""
    return format_decimal(value, "#,##0.##", locale=_LOCALE[language])


def account_number(account: str) -> str:
    """Norwegian style, with no-break spaces: "1503 40 00015"."""
    return f"{account[:4]}\xa0{account[4:6]}\xa0{account[6:]}"


def iban(value: str) -> str:
    return "\xa0".join(value[i : i + 4] for i in range(0, len(value), 4))


def organization_number(value: str) -> str:
    # No-break spaces: an organisation number never wraps over two lines.
    return f"{value[:3]}\xa0{value[3:6]}\xa0{value[6:]}"
