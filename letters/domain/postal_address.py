"""How an address is written on a letter for Posten, in Norway and abroad."""

from __future__ import annotations

from babel import Locale

from letters.domain.model import Address

_NORWEGIAN_NAMES = Locale("nb").territories


def window_lines(name: str, address: Address) -> list[str]:
    """The lines in the envelope window, after Posten's rules for Norway and abroad.

    Abroad: a numeric postal code gets the country code in front ("DK-5000 Odense")
    and the country's name goes last, in capitals, in Norwegian as Posten sorts it.
    """
    lines = [name, *address.lines]
    if address.is_domestic:
        lines.append(f"{address.postal_code} {address.city}")
    else:
        code = address.postal_code
        prefix = f"{address.country_code}-" if code.replace(" ", "").isdigit() else ""
        lines.append(f"{prefix}{code} {address.city}")
        lines.append(_NORWEGIAN_NAMES.get(address.country_code, address.country_code).upper())
    return lines
