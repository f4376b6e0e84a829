"""The four letter types and the legal minimum deadline of each."""

from __future__ import annotations

from enum import StrEnum


class LetterType(StrEnum):
    PURRING = "purring"
    INKASSOVARSEL = "inkassovarsel"
    BETALINGSOPPFORDRING = "betalingsoppfordring"
    VARSEL_RETTSLIG_PAGANG = "varsel_rettslig_pagang"


class Language(StrEnum):
    NB = "nb"
    EN = "en"


# A purring has no statutory deadline; the agency gives it the same 14 days so
# that a reminder fee for a later notice is allowed (inkassoforskriften § 1-3).
LEGAL_MINIMUM_DAYS: dict[LetterType, int] = {
    LetterType.PURRING: 14,
    LetterType.INKASSOVARSEL: 14,  # inkassoloven § 9 (2)
    LetterType.BETALINGSOPPFORDRING: 14,  # inkassoloven § 10
    LetterType.VARSEL_RETTSLIG_PAGANG: 14,  # tvangsfullbyrdelsesloven § 4-18: two weeks
}
