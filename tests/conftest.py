"""Shared fixtures: one renderer for the session, and the --update-golden flag."""

from __future__ import annotations

import random
import shutil
from datetime import date
from pathlib import Path

import pytest

from letters import otp
from letters.config import TEMPLATES_DIR, Settings
from letters.service import LetterService

TESTS_DIR = Path(__file__).parent
GOLDEN_DIR = TESTS_DIR / "golden"
# Golden requests carry their own letter date; this is the day "today" is in tests.
TEST_TODAY = date(2026, 11, 21)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-golden",
        action="store_true",
        help="rewrite the expected files in tests/golden from the current output",
    )


@pytest.fixture(scope="session")
def update_golden(request: pytest.FixtureRequest) -> bool:
    return bool(request.config.getoption("--update-golden"))


@pytest.fixture(scope="session")
def service() -> LetterService:
    return LetterService(Settings.from_env({}))


def password_for(letter_id: str) -> otp.OneTimePassword:
    """A password that is the same on every run for a golden letter (never in production)."""
    rng = random.Random(letter_id)  # noqa: S311 - reproducible on purpose, tests only
    return otp.generate(rng.randrange)


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    """A private copy of the template folder that a test may break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    return copy


def service_for(templates: Path) -> LetterService:
    return LetterService(Settings.from_env({"LETTERS_TEMPLATES_DIR": str(templates)}))
