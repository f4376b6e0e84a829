"""The ledger the retention tests run on: the ledger tests' own, SQLite and PostgreSQL."""

from __future__ import annotations

from tests.ledger.conftest import ledger

__all__ = ["ledger"]
