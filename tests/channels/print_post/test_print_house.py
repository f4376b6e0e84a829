"""The local print house and the receipts inbox: what the demo and the tests post with."""

from __future__ import annotations

import json
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from channels.print_post.double import HouseRules, answer_batches
from channels.print_post.receipts import Outcome, parse_receipt
from channels.print_post.returns import parse_returns
from channels.print_post.sheet_codes import letter_code
from letters.config import PROJECT_ROOT, S3Settings
from letters.delivery.print_inbox import DONE, REFUSED, ReceiptInbox
from letters.storage import DirectoryStore, ObjectStore, open_store
from tests.support.s3 import new_bucket, s3_endpoint

RECEIPT_SCHEMA = json.loads((PROJECT_ROOT / "queue" / "print-receipt.schema.json").read_text())
# Cut on Monday 1 March 2027 at 16:00 in Oslo: to be posted on Tuesday the 2nd.
CLOSED_AT = "2027-03-01T15:00:00+00:00"


def _manifest(drop: Path, batch_id: str, count: int) -> list[str]:
    ids = [str(uuid.uuid4()) for _ in range(count)]
    letters: list[dict[str, Any]] = [
        {"letter_id": i, "code": letter_code(i), "sheets": 1} for i in ids
    ]
    folder = drop / batch_id
    folder.mkdir(parents=True)
    document = {"batch_id": batch_id, "closed_at": CLOSED_AT, "letters": letters}
    (folder / f"{batch_id}.json").write_text(json.dumps(document))
    return ids


def test_the_house_posts_each_batch_once_on_its_day_or_late_with_its_mishaps(
    tmp_path: Path,
) -> None:
    ids = _manifest(tmp_path, "20270301-D-0000000a", 6)
    rules = HouseRules(seed=7, late=2, spoil=1, lose=1, returns=2)
    assert answer_batches(tmp_path, rules, date(2027, 3, 3)).waiting == ["20270301-D-0000000a"]

    report = answer_batches(tmp_path, rules, date(2027, 3, 10))
    assert report.receipts == {"20270301-D-0000000a": date(2027, 3, 4)}
    raw = (tmp_path / "receipts" / "20270301-D-0000000a.json").read_bytes()
    jsonschema.validate(json.loads(raw), RECEIPT_SCHEMA)
    receipt = parse_receipt(raw)
    outcomes = [line.outcome for line in receipt.letters]
    assert [line.letter_id for line in receipt.letters] == ids
    assert sorted(outcomes).count(Outcome.NOT_POSTED) == 1
    assert outcomes.count(Outcome.REPRINTED) == 1
    returns = parse_returns(
        (tmp_path / "returns" / "20270301-D-0000000a.csv").read_bytes(), date(2027, 3, 10)
    )
    assert len(returns) == 2 and all(line.problem is None for line in returns)
    lost = {line.letter_id for line in receipt.letters if line.outcome is Outcome.NOT_POSTED}
    assert not lost & {line.letter_id for line in returns}
    assert {line.returned_on for line in returns} == {date(2027, 3, 9)}

    # Answered once; the same seed makes the same choices in another drop.
    assert answer_batches(tmp_path, rules, date(2027, 3, 10)).receipts == {}
    other = tmp_path / "other"
    (other / "20270301-D-0000000a").mkdir(parents=True)
    (other / "20270301-D-0000000a" / "20270301-D-0000000a.json").write_bytes(
        (tmp_path / "20270301-D-0000000a" / "20270301-D-0000000a.json").read_bytes()
    )
    answer_batches(other, rules, date(2027, 3, 10))
    assert (other / "receipts" / "20270301-D-0000000a.json").read_bytes() == raw


def _s3_drop(_: Path) -> ObjectStore:
    s3 = S3Settings(endpoint_url=s3_endpoint())
    return open_store(
        f"s3://{new_bucket()}/print", s3, setting="LETTERS_PRINT_URL", label="print drop"
    )


@pytest.mark.parametrize(
    "opened", [lambda p: DirectoryStore(p, "print drop"), _s3_drop], ids=["directory", "s3"]
)
def test_the_inbox_moves_a_receipt_aside_once_it_is_read(tmp_path: Path, opened: Any) -> None:
    drop = opened(tmp_path)
    inbox = ReceiptInbox(drop)
    drop.put("receipts/a.json", b'{"a": 1}', "application/json")
    drop.put("receipts/b.json", b'{"b": 1}', "application/json")
    drop.put("receipts/notes.txt", b"not a receipt", "text/plain")
    assert inbox.waiting() == ["receipts/a.json", "receipts/b.json"]

    done = inbox.done(inbox.read("receipts/a.json"))
    refused = inbox.refuse(inbox.read("receipts/b.json"), "batch_id: no batch")
    assert done.startswith(DONE) and refused.startswith(REFUSED)
    assert inbox.waiting() == []
    assert drop.get(done) == b'{"a": 1}'
    [reason] = [n for n in drop.names(REFUSED) if n.endswith(".reason.txt")]
    assert drop.get(reason) == b"batch_id: no batch\n"

    # A crash between the copy and the removal: read again, moved again, nothing lost.
    drop.put("receipts/a.json", b'{"a": 1}', "application/json")
    assert inbox.done(inbox.read("receipts/a.json")) == done
    # Another file of the same name is kept beside the first, not over it.
    drop.put("receipts/a.json", b'{"a": 2}', "application/json")
    assert inbox.done(inbox.read("receipts/a.json")) != done
    assert len(drop.names(DONE)) == 2
