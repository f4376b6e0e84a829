"""The ledger the ledger's tests run on: SQLite, and PostgreSQL as in production."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from letters.ledger import Ledger
from tests.support.stacks import fresh_postgres_database, ledger_keys


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.services)])
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Ledger]:
    if request.param == "sqlite":
        opened = Ledger(f"sqlite:///{tmp_path / 'ledger.db'}", ledger_keys())
        opened.upgrade()
        yield opened
        opened.close()
        return
    with fresh_postgres_database() as url:
        opened = Ledger(url, ledger_keys())
        opened.upgrade()
        yield opened
        opened.close()
