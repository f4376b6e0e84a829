"""The print house's posting receipt (issue: the print house answers, part 2): its schema
in queue/ and the parser agree, and a receipt that breaks either or does not match its
batch is refused whole, with every problem named."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from channels.print_post.receipts import (
    MalformedReceiptError,
    Outcome,
    batch_problems,
    parse_receipt,
)
from tests.support.json_paths import DELETE, changed

SCHEMA = json.loads(
    (Path(__file__).parents[3] / "queue" / "print-receipt.schema.json").read_text("utf-8")
)
FIRST, SECOND = "96be500b-773e-5ce2-b58b-88b346a06e80", "d0d1a5b2-1b72-539d-935d-6cb8da517b39"
RECEIPT: dict[str, Any] = {
    "schema": "letters.print-receipt/1",
    "batch_id": "20261208-D-4dad591d",
    "posted_on": "2026-12-10",
    "letters": [
        {"letter_id": FIRST, "outcome": "posted"},
        {"letter_id": SECOND, "outcome": "not_posted", "reason": "sheet jammed, not reprinted"},
    ],
}


def _schema_accepts(data: Any) -> bool:
    checker = jsonschema.Draft202012Validator.FORMAT_CHECKER
    return jsonschema.Draft202012Validator(SCHEMA, format_checker=checker).is_valid(data)


def _changed(path: str, value: Any) -> dict[str, Any]:
    return changed(RECEIPT, path, value)


def test_a_receipt_reads_as_the_print_house_wrote_it() -> None:
    assert _schema_accepts(RECEIPT)
    receipt = parse_receipt(json.dumps(RECEIPT).encode())
    assert (receipt.batch_id, receipt.posted_on) == ("20261208-D-4dad591d", date(2026, 12, 10))
    assert [(x.letter_id, x.outcome, x.reason) for x in receipt.letters] == [
        (FIRST, Outcome.POSTED, None),
        (SECOND, Outcome.NOT_POSTED, "sheet jammed, not reprinted"),
    ]


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("schema", "letters.print-receipt/2", 'schema: must be "letters.print-receipt/1"'),
        ("batch_id", "batch-1", "batch_id: must be a batch id such as 20261208-D-4dad591d"),
        ("posted_on", "10.12.2026", "posted_on: must be an ISO 8601 date"),
        ("posted_on", DELETE, "posted_on: "),
        ("letters", [], "letters: must have at least 1 item(s)"),
        ("letters[0].letter_id", "not-a-letter", "letters[0].letter_id: must be a UUID"),
        ("letters[0].outcome", "lost", "letters[0].outcome: must be one of"),
        ("letters[1].reason", DELETE, "letters[1].reason: is required when outcome is not_posted"),
        ("letters[0].name", "Kari Nordmann", "letters[0].name: is not a field of"),
    ],
)
def test_a_malformed_receipt_is_refused_naming_the_field(
    path: str, value: Any, expected: str
) -> None:
    data = _changed(path, value)
    assert not _schema_accepts(data), "the schema in queue/ refuses it too"
    with pytest.raises(MalformedReceiptError) as refused:
        parse_receipt(json.dumps(data).encode())
    problems = [str(p) for p in refused.value.problems]
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize("body", [b"", b"[]", b"{not json", b"\xff\xfe"])
def test_a_receipt_that_is_not_a_json_object_is_refused(body: bytes) -> None:
    with pytest.raises(MalformedReceiptError, match="receipt refused: "):
        parse_receipt(body)


def test_a_receipt_must_account_for_its_batch_exactly() -> None:
    receipt = parse_receipt(RECEIPT)
    members = [FIRST, SECOND]
    assert batch_problems(receipt, "20261208-D-4dad591d", members, date(2026, 12, 8)) == []
    found = batch_problems(
        parse_receipt(_changed("letters[1].letter_id", FIRST)),
        "20261208-F-00000000",
        [*members, "6c1d7a9e-0d8e-4f6b-9d3c-2b1a0e9f8c7d"],
        date(2026, 12, 11),
    )
    assert [str(p) for p in found] == [
        "batch_id: is 20261208-D-4dad591d, not 20261208-F-00000000",
        "posted_on: is 2026-12-10, before the batch reached the print house on 2026-12-11",
        f"letters[1].letter_id: letter {FIRST} is listed twice",
        "letters: 2 letter(s) of the batch are not listed, the first "
        f"{SECOND}: a receipt accounts for every letter",
    ]
    stranger = parse_receipt(
        _changed("letters[0].letter_id", "6c1d7a9e-0d8e-4f6b-9d3c-2b1a0e9f8c7d")
    )
    assert any("is not in the batch" in str(p) for p in batch_problems(
        stranger, "20261208-D-4dad591d", members, date(2026, 12, 8)
    ))  # fmt: skip
