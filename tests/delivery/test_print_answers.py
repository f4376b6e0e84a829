"""What the print house answers, in one process: posting receipts and returned mail.

Each test breaks a promise on purpose: a batch posted late, a letter that
came back, a receipt read twice or malformed, a fault halfway through
applying one, a letter never posted, a batch whose receipt never comes.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

import pytest

from channels.print_post.returns import parse_returns
from channels.print_post.sheet_codes import letter_code
from letters.delivery.print_answers import ReceiptsReport, read_receipts, record_returns
from letters.delivery.print_inbox import DONE, REFUSED, ReceiptInbox
from letters.errors import TransientError
from letters.ledger import LetterStatus
from letters.ledger import history as letter_history
from letters.ledger.delivery_events import DeliveryEvent, DeliveryLog
from letters.ledger.gauges import read_gauges
from letters.ledger.outbox import Outbox
from letters.ledger.passwords import verify_login
from letters.ledger.print_answers import PrintAnswers, ReturnVerdict
from letters.operations.page import render_page
from letters.operations.snapshot import take_snapshot
from tests.support.pdf import plain_text
from tests.support.posting import Post, oslo, printed, same_case
from tests.support.resend import password_in
from tests.support.stacks import sample_request

MONDAY = date(2027, 3, 1)


def _dispatched(post: Post, *requests: dict[str, Any]) -> str:
    """Print letters accepted on Monday morning, their batch handed over at once."""
    post.now = oslo(MONDAY, 10)
    for request in requests:
        post.process(request)
    report = post.dispatcher.run(cut_all=True)
    [sent] = report.sent
    return sent.batch_id


def _receipt(
    batch_id: str, posted_on: date, *lines: tuple[str, str] | tuple[str, str, str]
) -> dict[str, Any]:
    return {
        "schema": "letters.print-receipt/1",
        "batch_id": batch_id,
        "posted_on": posted_on.isoformat(),
        "letters": [
            {
                "letter_id": line[0],
                "outcome": line[1],
                **({"reason": line[2]} if len(line) > 2 else {}),
            }
            for line in lines
        ],
    }


def _drop(post: Post, name: str, receipt: dict[str, Any] | bytes) -> None:
    body = receipt if isinstance(receipt, bytes) else json.dumps(receipt).encode()
    post.dispatcher.drop.put(f"receipts/{name}", body, "application/json")


def _read(post: Post) -> ReceiptsReport:
    return read_receipts(ReceiptInbox(post.dispatcher.drop), post.pipeline, post.now)


def _kinds(post: Post, letter_id: str) -> list[str]:
    return [event.kind for event in Outbox(post.ledger).for_letter(letter_id)]


def _last_event(post: Post, letter_id: str, kind: str) -> dict[str, Any]:
    events = [e for e in Outbox(post.ledger).for_letter(letter_id) if e.kind == kind]
    return json.loads(events[-1].body)  # type: ignore[no-any-return]


def _snapshot(post: Post, *letter_ids: str) -> list[Any]:
    """Everything a receipt could change of these letters."""
    return [(post.record(i), post.ledger.history(i), _kinds(post, i)) for i in letter_ids]


# -- a late receipt ------------------------------------------------------------------------


def test_a_batch_posted_late_re_times_the_next_letter_of_the_case(post: Post) -> None:
    varsel = printed()
    batch_id = _dispatched(post, varsel)
    first = post.record(varsel["letter_id"])
    assert first.planned_posting_day == date(2027, 3, 2) and first.deadline == date(2027, 3, 16)
    assert post.ledger.batches.get(batch_id).planned_posting_day == date(2027, 3, 2)

    # Posted on Thursday, two working days late: the printed deadline is two days short.
    post.now = oslo(date(2027, 3, 4), 15)
    _drop(
        post, f"{batch_id}.json", _receipt(batch_id, date(2027, 3, 4), (first.letter_id, "posted"))
    )
    report = _read(post)
    applied = report.applied[f"receipts/{batch_id}.json"]
    assert (applied.posted, applied.late, applied.not_posted) == (1, 1, 0)
    late = post.record(first.letter_id)
    assert late.posted_on == date(2027, 3, 4) and late.lawful_deadline == date(2027, 3, 18)
    assert late.deadline == date(2027, 3, 16)  # what the debtor holds is not changed
    assert _kinds(post, first.letter_id)[-2:] == ["posted", "posted_late"]
    posted = _last_event(post, first.letter_id, "posted")
    assert posted["posted_on"] == "2027-03-04" and posted["details"]["confirmed"] is True
    assert posted["details"]["outcome"] == "posted"
    event = _last_event(post, first.letter_id, "posted_late")
    assert event["details"] == {
        "batch_id": batch_id,
        "lawful_deadline": "2027-03-18",
        "next_step_on": "2027-03-19",
    }
    batch = post.ledger.batches.get(batch_id)
    assert batch.status == "posted" and batch.posted_on == date(2027, 3, 4)

    # The day after the printed deadline is too early now; the day after the law's is not.
    post.now = oslo(date(2027, 3, 18), 10)
    reason = post.refused(same_case(varsel, "betalingsoppfordring-nb-plain"))
    assert "inkassoloven § 10 (1)" in reason and "deadline 2027-03-18" in reason
    assert f"letter {first.letter_id}" in reason
    post.now = oslo(date(2027, 3, 19), 10)
    demand = same_case(varsel, "betalingsoppfordring-nb-plain")
    post.process(demand)
    assert post.record(demand["letter_id"]).status is LetterStatus.DELIVERED


def test_a_batch_posted_on_its_day_changes_no_deadline(post: Post) -> None:
    varsel = printed()
    batch_id = _dispatched(post, varsel)
    post.now = oslo(date(2027, 3, 2), 17)
    _drop(post, "r.json", _receipt(batch_id, date(2027, 3, 2), (varsel["letter_id"], "reprinted")))
    applied = _read(post).applied["receipts/r.json"]
    assert (applied.posted, applied.late) == (1, 0)
    record = post.record(varsel["letter_id"])
    assert record.posted_on == date(2027, 3, 2) and record.lawful_deadline is None
    assert _kinds(post, varsel["letter_id"])[-1] == "posted"
    assert _last_event(post, varsel["letter_id"], "posted")["details"]["outcome"] == "reprinted"
    assert "after a spoiled sheet was printed again" in post.details(varsel["letter_id"])


# -- read once, whole or not at all --------------------------------------------------------


def test_a_receipt_read_twice_changes_nothing_the_second_time(post: Post) -> None:
    one, two = printed(), printed()
    batch_id = _dispatched(post, one, two)
    ids = (one["letter_id"], two["letter_id"])
    post.now = oslo(date(2027, 3, 2), 17)
    receipt = _receipt(batch_id, date(2027, 3, 2), (ids[0], "posted"), (ids[1], "posted"))
    _drop(post, f"{batch_id}.json", receipt)
    assert _read(post).applied
    after_first = _snapshot(post, *ids)
    [moved] = post.dispatcher.drop.names(DONE)

    # The print house drops it again (its retry), and again under another name.
    _drop(post, f"{batch_id}.json", receipt)
    _drop(post, "again.json", receipt)
    report = _read(post)
    assert set(report.duplicates) == {"receipts/again.json", f"receipts/{batch_id}.json"}
    assert not report.applied and not report.refused
    assert _snapshot(post, *ids) == after_first
    assert post.dispatcher.drop.names("receipts/") == []
    assert moved in post.dispatcher.drop.names(DONE)

    # Another receipt for the same batch is refused whole: the first one stands.
    _drop(
        post,
        "other.json",
        _receipt(batch_id, date(2027, 3, 3), (ids[0], "posted"), (ids[1], "posted")),
    )
    report = _read(post)
    assert "has a receipt already" in report.refused["receipts/other.json"]
    assert _snapshot(post, *ids) == after_first


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        (lambda r, ids: r["letters"].pop(), "letters", "are not listed"),
        (
            lambda r, ids: r["letters"].append(dict(r["letters"][0])),
            "letters[2].letter_id",
            "listed twice",
        ),
        (lambda r, ids: r.update(posted_on="2027-02-26"), "posted_on", "before the batch reached"),
        (lambda r, ids: r.update(posted_on="2027-03-09"), "posted_on", "after today"),
        (lambda r, ids: r["letters"][0].update(outcome="lost"), "letters[0].outcome", ""),
        (
            lambda r, ids: r["letters"][1].update(outcome="not_posted"),
            "letters[1].reason",
            "is required",
        ),
        (
            lambda r, ids: r.update(schema="letters.print-receipt/2"),
            "schema",
            "letters.print-receipt/1",
        ),
    ],
)
def test_a_malformed_receipt_is_refused_whole_with_its_reason_and_moved_aside(
    post: Post, change: Any, field: str, rule: str
) -> None:
    one, two = printed(), printed()
    batch_id = _dispatched(post, one, two)
    ids = (one["letter_id"], two["letter_id"])
    before = _snapshot(post, *ids)
    post.now = oslo(date(2027, 3, 2), 17)
    receipt = _receipt(batch_id, date(2027, 3, 2), (ids[0], "posted"), (ids[1], "posted"))
    change(receipt, ids)
    _drop(post, "bad.json", receipt)

    report = _read(post)
    reason = report.refused["receipts/bad.json"]
    assert f"{field}:" in reason and rule in reason, reason
    assert _snapshot(post, *ids) == before
    assert post.ledger.batches.get(batch_id).status == "sent"
    drop = post.dispatcher.drop
    refused = drop.names(REFUSED)
    assert len(refused) == 2 and drop.names("receipts/") == []
    [why] = [name for name in refused if name.endswith(".reason.txt")]
    assert field in drop.get(why).decode()


def test_a_fault_halfway_through_a_receipt_applies_none_of_it(
    post: Post, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, two = printed(), printed()
    batch_id = _dispatched(post, one, two)
    ids = (one["letter_id"], two["letter_id"])
    before = _snapshot(post, *ids)
    post.now = oslo(date(2027, 3, 4), 17)
    _drop(
        post, "r.json", _receipt(batch_id, date(2027, 3, 4), (ids[0], "posted"), (ids[1], "posted"))
    )

    real = letter_history.record
    calls: list[str] = []

    def failing(conn: Any, letter_id: str, event: str, *args: Any, **kwargs: Any) -> bool:
        calls.append(letter_id)
        if letter_id == ids[1]:
            raise TransientError("ledger unavailable: the database went away")
        return real(conn, letter_id, event, *args, **kwargs)

    monkeypatch.setattr(letter_history, "record", failing)
    report = _read(post)
    assert ids[0] in calls and "database went away" in report.waiting["receipts/r.json"]
    assert _snapshot(post, *ids) == before  # the first letter's change was rolled back
    assert post.dispatcher.drop.names("receipts/") == ["receipts/r.json"]

    monkeypatch.setattr(letter_history, "record", real)
    assert _read(post).applied["receipts/r.json"].late == 2
    assert all(post.record(i).posted_on == date(2027, 3, 4) for i in ids)


# -- a letter that never went --------------------------------------------------------------


def test_a_letter_not_posted_is_sent_again_as_a_new_letter_linked_to_the_first(
    post: Post,
) -> None:
    lost, kept = printed(), printed()
    batch_id = _dispatched(post, lost, kept)
    password = password_in(plain_text(post.pdf(lost["letter_id"])))
    post.now = oslo(date(2027, 3, 2), 17)
    receipt = _receipt(
        batch_id,
        date(2027, 3, 2),
        (lost["letter_id"], "not_posted", "torn in the inserter"),
        (kept["letter_id"], "posted"),
    )
    _drop(post, "r.json", receipt)
    applied = _read(post).applied["receipts/r.json"]
    assert (applied.posted, applied.not_posted) == (1, 1)
    [new_id] = applied.replacements

    first = post.record(lost["letter_id"])
    assert first.status is LetterStatus.NOT_POSTED and first.posted_on is None
    event = _last_event(post, first.letter_id, "not_posted")
    assert event["details"] == {
        "batch_id": batch_id,
        "reason": "torn in the inserter",
        "linked_letter_id": new_id,
    }
    again = post.record(new_id)
    assert again.origin_letter_id == first.letter_id and again.resend_mode == "renew"
    assert again.status is LetterStatus.BATCHED and again.channel == "print"
    # Dated by the day it leaves: read after Tuesday's cut-off, it goes with Wednesday's
    # batch, posted on Thursday.
    assert again.letter_date == date(2027, 3, 4) and again.deadline == date(2027, 3, 18)
    assert _kinds(post, new_id)[0] == "renewed"
    # The first letter's password never reached anyone; it no longer logs in.
    assert first.otp_revoked_at is not None
    peppers = [post.pipeline.service.pepper]
    case_number = lost["case"]["case_number"]
    assert verify_login(post.ledger, case_number, password, date(2027, 3, 3), peppers) is None
    fresh = password_in(plain_text(post.pdf(new_id)))
    assert verify_login(post.ledger, case_number, fresh, date(2027, 3, 3), peppers) == new_id
    assert post.record(kept["letter_id"]).status is LetterStatus.SENT


# -- returned mail -------------------------------------------------------------------------


def _posted_on_time(post: Post, request: dict[str, Any]) -> str:
    batch_id = _dispatched(post, request)
    post.now = oslo(date(2027, 3, 2), 17)
    _drop(
        post,
        f"{batch_id}.json",
        _receipt(batch_id, date(2027, 3, 2), (request["letter_id"], "posted")),
    )
    assert _read(post).applied
    return batch_id


def test_a_returned_inkassovarsel_holds_the_betalingsoppfordring(post: Post) -> None:
    varsel = printed()
    _posted_on_time(post, varsel)
    code = f"{letter_code(varsel['letter_id'])}:1/1"
    returns = f"letter,reason,returned_on\r\n{code},moved,2027-03-05\r\n".encode()
    post.now = oslo(date(2027, 3, 5), 14)
    lines = parse_returns(returns, date(2027, 3, 5))
    # Recorded now: the ledger's own times, which the letters accepted later are compared to.
    report = record_returns(lines, PrintAnswers(post.ledger), "mailroom.csv")
    assert report.recorded == [varsel["letter_id"]] and not report.refused

    record = post.record(varsel["letter_id"])
    assert record.status is LetterStatus.RETURNED
    event = _last_event(post, record.letter_id, "returned")
    assert event["details"] == {"reason": "moved", "returned_on": "2027-03-05"}
    [returned] = PrintAnswers(post.ledger).returned()
    assert (returned.reason, returned.source) == ("moved", "mailroom.csv line 2")
    # The operations page lists it by reason, with what to do next.
    page = render_page(take_snapshot(post.ledger, dict))
    row = page[page.index('<tr class="returned-letter reason-moved">') :].split("</tr>")[0]
    assert record.letter_id in row and "no new letter yet" in row
    assert "get a new address from the case system, then send a new letter" in row

    # Past the inkassovarsel's deadline, but it was never received: no betalingsoppfordring.
    post.now = oslo(date(2027, 3, 17), 10)
    reason = post.refused(same_case(varsel, "betalingsoppfordring-nb-plain"))
    assert "came back as returned mail and was not received" in reason, reason
    # A new inkassovarsel to the new address is no second one running: it goes.
    again = same_case(varsel, "inkassovarsel-nb-plain")
    again["recipient"]["digital_consent"] = False
    post.process(again)
    assert post.record(again["letter_id"]).status is LetterStatus.BATCHED
    assert PrintAnswers(post.ledger).returned()[0].later_letters == 1

    # The same file read again changes nothing.
    history = post.ledger.history(record.letter_id)
    report = record_returns(lines, PrintAnswers(post.ledger), "mailroom.csv", post.now)
    assert report.already == [record.letter_id] and not report.recorded
    assert post.ledger.history(record.letter_id) == history


def test_a_return_stops_the_next_letter_already_in_an_open_batch(post: Post) -> None:
    varsel = printed()
    _posted_on_time(post, varsel)  # deadline 16 March
    post.now = oslo(date(2027, 3, 17), 10)
    demand = same_case(varsel, "betalingsoppfordring-nb-plain")
    demand["recipient"]["digital_consent"] = False
    post.process(demand)
    assert post.record(demand["letter_id"]).status is LetterStatus.BATCHED
    other_case = printed()
    post.process(other_case)

    post.now = oslo(date(2027, 3, 17), 11)
    returns = f"letter,reason,returned_on\n{varsel['letter_id']},unknown_address,2027-03-17\n"
    lines = parse_returns(returns.encode(), date(2027, 3, 17))
    report = record_returns(
        lines, post.ledger.print_answers, "r.csv", post.now, pipeline=post.pipeline
    )
    assert list(report.stopped) == [demand["letter_id"]]
    stopped = post.record(demand["letter_id"])
    assert stopped.status is LetterStatus.CANCELLED
    reason = _last_event(post, stopped.letter_id, "cancelled")["details"]["reason"]
    assert f"returned mail: letter {varsel['letter_id']} came back" in reason
    assert "came back as returned mail and was not received" in reason
    assert "taken out of print batch" in reason
    assert post.record(other_case["letter_id"]).status is LetterStatus.BATCHED
    # The batch goes without it.
    [sent] = post.dispatcher.run(cut_all=True).sent
    assert sent.letters == 1


def test_returns_rows_that_are_wrong_are_refused_by_line_and_the_rest_applied(
    post: Post,
) -> None:
    varsel, waiting = printed(), printed()
    _posted_on_time(post, varsel)
    post.now = oslo(date(2027, 3, 2), 18)
    post.process(waiting)  # batched for tomorrow: it has not left
    rows = [
        "letter,reason,returned_on",
        f"{varsel['letter_id']},unknown_address,2027-03-05",
        f"{waiting['letter_id']},moved,2027-03-05",
        "8f1ebd1e-25f0-4926-847b-76f6ccefa301,moved,2027-03-05",
        f"{varsel['letter_id']},lost in the woods,2027-03-05",
        f"{varsel['letter_id']},moved,2027-03-09",
        "not-a-letter,moved,2027-03-05",
    ]
    # A return said to have come back on 1 March, a day before it was posted.
    early = parse_returns(
        f"letter,reason,returned_on\n{varsel['letter_id']},moved,2027-03-01\n".encode(),
        date(2027, 3, 5),
    )
    assert record_returns(early, post.ledger.print_answers, "e.csv").refused == {
        2: f"returned_on: 2027-03-01 is before letter {varsel['letter_id']} was posted"
    }
    lines = parse_returns("\r\n".join(rows).encode(), date(2027, 3, 5))
    report = record_returns(lines, PrintAnswers(post.ledger), "r.csv", oslo(date(2027, 3, 5), 9))
    assert report.recorded == [varsel["letter_id"]]
    assert report.refused == {
        3: f"letter_id: letter {waiting['letter_id']} has not been sent",
        4: "letter_id: no letter 8f1ebd1e-25f0-4926-847b-76f6ccefa301 in the ledger",
        5: "reason: must be one of unknown_address, moved, refused, insufficient_address, "
        "not_collected, deceased, other",
        6: "returned_on: 2027-03-09 is after today, 2027-03-05",
        7: "letter: must be a letter id or a code scanned off its sheet "
        "(LTR1:<32 hex digits>:<sheet>/<sheets>)",
    }
    assert post.record(waiting["letter_id"]).status is LetterStatus.BATCHED


def test_digipost_s_print_failure_counts_as_returned_mail(post: Post) -> None:
    post.now = oslo(MONDAY, 10)
    digital = sample_request("inkassovarsel-nb-plain")
    post.process(digital)
    assert post.record(digital["letter_id"]).status is LetterStatus.DELIVERED
    deliveries = DeliveryLog(post.ledger)
    happened = DeliveryEvent(
        "digipost", "PRINT_FAILED", datetime(2027, 3, 3, 9), "Feil dimensjoner"
    )
    assert deliveries.record_event(digital["letter_id"], "digipost:x:PRINT_FAILED", happened)
    assert not deliveries.record_event(digital["letter_id"], "digipost:x:PRINT_FAILED", happened)
    record = post.record(digital["letter_id"])
    assert record.status is LetterStatus.RETURNED
    event = _last_event(post, record.letter_id, "returned")
    assert event["details"] == {"reason": "print_failed", "returned_on": "2027-03-03"}
    answers = PrintAnswers(post.ledger)
    verdict = answers.record_return(record.letter_id, date(2027, 3, 4), "moved", "x", post.now)
    assert verdict is ReturnVerdict.ALREADY


# -- a receipt that never comes ------------------------------------------------------------


def test_a_batch_without_a_receipt_past_its_posting_day_is_counted_for_the_alert(
    post: Post,
) -> None:
    varsel = printed()
    batch_id = _dispatched(post, varsel)  # to be posted Tuesday 2 March

    def waiting(moment: datetime) -> int:
        return read_gauges(post.ledger, moment, receipt_wait=2).batches_without_receipt

    assert waiting(oslo(date(2027, 3, 4), 23)) == 0  # two working days after: still in time
    assert waiting(oslo(date(2027, 3, 5), 8)) == 1
    post.now = oslo(date(2027, 3, 5), 9)
    _drop(post, "late.json", _receipt(batch_id, date(2027, 3, 5), (varsel["letter_id"], "posted")))
    assert _read(post).applied
    assert waiting(oslo(date(2027, 3, 5), 10)) == 0
