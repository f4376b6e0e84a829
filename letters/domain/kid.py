"""KID payment references: MOD10 (Luhn) and MOD11, as the Norwegian banks check them.

A KID is 4 to 25 characters: digits, with one check character last. MOD11 uses
the weights 2, 3, 4, 5, 6, 7, 2, 3, ... from the right; a remainder of 1 gives
the check "-" (the payer types the minus sign).
"""

from __future__ import annotations

from enum import StrEnum

from stdnum import luhn

MIN_LENGTH = 4
MAX_LENGTH = 25


class KidMethod(StrEnum):
    MOD10 = "mod10"
    MOD11 = "mod11"


class KidScheme(StrEnum):
    """Which KID a request may carry."""

    # The KID made from the case number (``kid_from_case_number``): the bank's
    # payment file then names the case, and a KID of another case is refused.
    CASE_NUMBER = "case_number"
    # Any KID valid under the agency's method (the case system keeps its own register).
    ANY_VALID = "any_valid"


def mod10_check_digit(digits: str) -> str:
    return str(luhn.calc_check_digit(digits))


def mod11_check_digit(digits: str) -> str:
    total = sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(digits)))
    remainder = total % 11
    if remainder == 0:
        return "0"
    if remainder == 1:
        return "-"
    return str(11 - remainder)


def _ascii_digits(text: str) -> bool:
    # str.isdigit() is true for "²" and "٣" too, which int() then refuses.
    return bool(text) and all(ch in "0123456789" for ch in text)


def check_character(digits: str, method: KidMethod) -> str:
    if not _ascii_digits(digits):
        raise ValueError("a KID body must be digits only")
    if method is KidMethod.MOD10:
        return mod10_check_digit(digits)
    return mod11_check_digit(digits)


def make_kid(body: str, method: KidMethod) -> str:
    """Append the check character to ``body`` (digits)."""
    return body + check_character(body, method)


def kid_problem(kid: str, method: KidMethod) -> str | None:
    """Why ``kid`` is not a valid KID for ``method``, or None when it is."""
    if not MIN_LENGTH <= len(kid) <= MAX_LENGTH:
        return f"must be {MIN_LENGTH} to {MAX_LENGTH} characters, check digit included"
    body, check = kid[:-1], kid[-1]
    if not _ascii_digits(body) or not (_ascii_digits(check) or check == "-"):
        return "must be digits, with a check digit (or '-' for MOD11) last"
    if check == "-" and method is KidMethod.MOD10:
        return "'-' is only a check character under MOD11, and the agency uses MOD10"
    expected = check_character(body, method)
    if check != expected:
        return f"check digit is wrong for {method.value.upper()} (expected {expected})"
    return None


def is_valid_kid(kid: str, method: KidMethod) -> bool:
    return kid_problem(kid, method) is None


def kid_from_case_number(case_number: str, method: KidMethod, length: int) -> str:
    """Derive the KID from a case number: its digits, zero-padded, plus the check.

    ``length`` is the full KID length registered with the bank (check included).
    """
    digits = "".join(ch for ch in case_number if ch in "0123456789")
    body_length = length - 1
    if not digits or len(digits) > body_length:
        raise ValueError(
            f"case number has {len(digits)} digits; a {length}-character KID holds at most "
            f"{body_length}"
        )
    return make_kid(digits.zfill(body_length), method)
