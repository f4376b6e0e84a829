"""Every letters.event/1 event a test produced, checked against the documented schema and
for personal data: the fixtures that own a ledger call ``check_outbox`` when they close."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator
from sqlalchemy import select

from letters.config import PROJECT_ROOT
from letters.ledger import Ledger
from letters.ledger.schema import event_outbox, letters

SCHEMA_FILE = PROJECT_ROOT / "queue" / "event.schema.json"


@cache
def validator() -> Draft202012Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)


def schema_problems(event: dict[str, Any]) -> list[str]:
    return [f"{'/'.join(map(str, e.path))}: {e.message}" for e in validator().iter_errors(event)]


def personal_data(request: dict[str, Any]) -> list[str]:
    """What of a request is the debtor's: name, national identity number, address."""
    recipient = request.get("recipient") or {}
    address = recipient.get("address") or {}
    found = [recipient.get("name"), recipient.get("national_identity_number")]
    found += list(address.get("lines") or [])
    return [v for v in found if isinstance(v, str) and len(v) >= 4]


def check_outbox(ledger: Ledger) -> int:
    """Assert every event in the ledger's outbox keeps the schema and holds none of its
    letters' personal data; how many were checked."""
    with ledger.transaction() as conn:
        bodies = [row.body for row in conn.execute(select(event_outbox.c.body))]
        requests = [row.request for row in conn.execute(select(letters.c.request))]
    private = {value for raw in requests for value in personal_data(_loaded(raw))}
    for body in bodies:
        event = json.loads(body)
        problems = schema_problems(event)
        assert not problems, f"event breaks queue/event.schema.json: {problems}\n{body}"
        leaked = [s for s in private if s in body]
        assert not leaked, f"event holds personal data {leaked}: {body}"
    return len(bodies)


def _loaded(raw: str) -> dict[str, Any]:
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}
