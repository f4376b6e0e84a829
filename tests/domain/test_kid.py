from __future__ import annotations

import pytest

from letters.domain.kid import KidMethod, is_valid_kid, kid_from_case_number, kid_problem, make_kid


@pytest.mark.parametrize(
    ("body", "method", "kid"),
    [
        ("12345678", KidMethod.MOD10, "123456782"),
        ("12345678", KidMethod.MOD11, "123456785"),
        ("0006", KidMethod.MOD11, "0006-"),
        ("2026004512", KidMethod.MOD10, "20260045123"),
    ],
)
def test_known_vectors(body: str, method: KidMethod, kid: str) -> None:
    assert make_kid(body, method) == kid
    assert is_valid_kid(kid, method)


def test_mod11_remainder_zero_gives_zero() -> None:
    # 1*2 + 1*3 + 0*4 + 1*5 + 0*6 + 1*7 = 17 ... choose a body whose sum is a multiple of 11
    body = next(
        f"{n:04d}"
        for n in range(10000)
        if sum(int(d) * (2 + i % 6) for i, d in enumerate(reversed(f"{n:04d}"))) % 11 == 0 and n
    )
    assert make_kid(body, KidMethod.MOD11).endswith("0")


@pytest.mark.parametrize(
    ("kid", "method", "fragment"),
    [
        ("123456783", KidMethod.MOD10, "check digit is wrong for MOD10 (expected 2)"),
        ("123456784", KidMethod.MOD11, "check digit is wrong for MOD11 (expected 5)"),
        ("123", KidMethod.MOD10, "4 to 25 characters"),
        ("1" * 26, KidMethod.MOD10, "4 to 25 characters"),
        ("12a45", KidMethod.MOD10, "digits"),
        ("0006-", KidMethod.MOD10, "only a check character under MOD11"),
    ],
)
def test_invalid_kids_say_why(kid: str, method: KidMethod, fragment: str) -> None:
    problem = kid_problem(kid, method)
    assert problem is not None and fragment in problem


def test_kid_from_case_number_pads_and_checks() -> None:
    kid = kid_from_case_number("2026-0045127", KidMethod.MOD10, 12)
    assert kid == "20260045127" + kid[-1] and len(kid) == 12
    assert is_valid_kid(kid, KidMethod.MOD10)
    assert kid_from_case_number("7-1", KidMethod.MOD11, 8).startswith("0000071")


def test_kid_from_case_number_too_long_for_the_registered_length() -> None:
    with pytest.raises(ValueError, match="holds at most 9"):
        kid_from_case_number("2026-0045127", KidMethod.MOD10, 10)
