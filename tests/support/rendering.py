"""What rendering tests share: the golden folder, the tests' "today", reproducible passwords."""

from __future__ import annotations

import random
from datetime import date
from pathlib import Path

from letters.config import Settings
from letters.domain import otp
from letters.rendering.letter_service import LetterService

TESTS_DIR = Path(__file__).resolve().parents[1]
GOLDEN_DIR = TESTS_DIR / "golden"
# Golden requests carry their own letter date; this is the day "today" is in tests.
TEST_TODAY = date(2026, 11, 21)
# Every type in both languages and their variants: fewer means the folder moved or was lost.
FEWEST_GOLDEN_CASES = 40


def golden_cases() -> list[Path]:
    """The golden case folders; an error, never an empty list (a parametrised test over an
    empty list would be skipped, not failed)."""
    cases = sorted(p.parent for p in GOLDEN_DIR.glob("*/*/*/request.json"))
    if len(cases) < FEWEST_GOLDEN_CASES:
        raise RuntimeError(f"only {len(cases)} golden cases under {GOLDEN_DIR}")
    return cases


def password_for(letter_id: str) -> otp.OneTimePassword:
    """A password that is the same on every run for a golden letter (never in production)."""
    rng = random.Random(letter_id)  # noqa: S311 - reproducible on purpose, tests only
    return otp.generate(rng.randrange)


def service_for(templates: Path) -> LetterService:
    return LetterService(Settings.from_env({"LETTERS_TEMPLATES_DIR": str(templates)}))
