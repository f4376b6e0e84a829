"""Alembic migrations of the ledger schema; run by ``letters.ledger.Ledger.upgrade``."""
