"""Shared fixtures: one renderer for the session, the --update-golden flag, service stacks."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from letters.config import TEMPLATES_DIR, Settings
from letters.domain import rates
from letters.rendering.letter_service import LetterService
from tests.support.rates import suite_rates_file
from tests.support.stacks import (
    Stack,
    current_test,
    fresh_postgres_database,
    require_rabbitmq,
    stack_env,
)


def pytest_configure(config: pytest.Config) -> None:
    # Every letter the suite makes finds its rates in a table of test data, whatever day
    # the suite runs on; a test of the packaged table reads it by name.
    rates.baseline_rates_file = suite_rates_file()


@pytest.fixture(autouse=True)
def _current_test(request: pytest.FixtureRequest) -> Iterator[None]:
    current_test.append(request.node)
    yield
    current_test.pop()


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


@pytest.fixture
def template_copy(tmp_path: Path) -> Path:
    """A private copy of the template folder that a test may break."""
    copy = tmp_path / "templates"
    shutil.copytree(TEMPLATES_DIR, copy)
    return copy


@pytest.fixture
def rabbit_pg(tmp_path: Path) -> Iterator[Stack]:
    """RabbitMQ and PostgreSQL, as in production."""
    require_rabbitmq()
    with fresh_postgres_database() as database_url:
        stack = Stack(stack_env(tmp_path, broker=True, database_url=database_url))
        try:
            yield stack
        finally:
            stack.close()


@pytest.fixture
def rabbit_sqlite(tmp_path: Path) -> Iterator[Stack]:
    """RabbitMQ with the default SQLite ledger."""
    require_rabbitmq()
    stack = Stack(stack_env(tmp_path, broker=True, database_url=None))
    try:
        yield stack
    finally:
        stack.close()


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Stack]:
    """The embedded defaults: filesystem transport and SQLite, nothing else running."""
    stack = Stack(stack_env(tmp_path, broker=False, database_url=None))
    try:
        yield stack
    finally:
        stack.close()
