"""Lawful when posted, in this process: letters dated by the day they leave, the order of
letters from the ledger, and case states holding, releasing and cancelling letters.

The pipeline runs with the real print channel and dispatcher on SQLite and a
directory, the fake Digipost channel, and a clock the test sets.
"""

from __future__ import annotations

from datetime import date, datetime

import pytest

from channels.base import DIGIPOST, ChannelUnavailableError
from letters.errors import TransientError
from letters.ledger import LetterStatus
from letters.ledger.passwords import verify_login
from tests.support.pdf import plain_text
from tests.support.posting import (
    FRIDAY_BEFORE_EASTER_WEEK,
    Post,
    oslo,
    printed,
    same_case,
)
from tests.support.resend import password_in
from tests.support.stacks import sample_request


def _nb(day: date) -> str:
    return f"{day:%d.%m.%Y}"


def _dated(day: date) -> str:
    """The letter's date line in Bokmål."""
    month = ["januar", "februar", "mars", "april", "mai", "juni", "juli", "august",
             "september", "oktober", "november", "desember"][day.month - 1]  # fmt: skip
    return f"Dato {day.day}. {month} {day.year}"


# -- the day a letter leaves ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("accepted", "posted", "deadline"),
    [
        (oslo(FRIDAY_BEFORE_EASTER_WEEK, 15, 59), date(2027, 3, 22), date(2027, 4, 5)),
        (oslo(FRIDAY_BEFORE_EASTER_WEEK, 16, 1), date(2027, 3, 23), date(2027, 4, 6)),
        # Good Friday: the print house posts on Wednesday 31 March whichever side of 16:00.
        (oslo(date(2027, 3, 26), 15, 59), date(2027, 3, 31), date(2027, 4, 14)),
        (oslo(date(2027, 3, 26), 16, 1), date(2027, 3, 31), date(2027, 4, 14)),
    ],
)
def test_a_print_letter_is_dated_by_its_batch_posting_day(
    post: Post, accepted: datetime, posted: date, deadline: date
) -> None:
    post.now = accepted
    request = printed()
    post.process(request)

    record = post.record(request["letter_id"])
    assert record.status is LetterStatus.BATCHED
    assert record.letter_date == posted and record.planned_posting_day == posted
    assert record.deadline == deadline
    text = plain_text(post.pdf(record.letter_id))
    assert _dated(posted) in text and f"Betalingsfrist {_nb(deadline)}" in text
    assert f"leaves {posted}" in post.details(record.letter_id)


def test_a_digipost_letter_is_dated_the_day_it_is_sent(post: Post) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 16, 1)
    request = sample_request("inkassovarsel-nb-plain")
    post.process(request)

    record = post.record(request["letter_id"])
    assert record.status is LetterStatus.DELIVERED and record.channel == DIGIPOST
    assert record.letter_date == FRIDAY_BEFORE_EASTER_WEEK == record.posted_on
    assert record.deadline == date(2027, 4, 2)


def test_an_earlier_letter_date_moves_to_the_posting_day_and_the_move_is_recorded(
    post: Post,
) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    asked_early = printed(letter_date="2027-03-19")
    asked_late = printed(letter_date="2027-03-25")
    post.process(asked_early)
    post.process(asked_late)

    early = post.record(asked_early["letter_id"])
    assert early.letter_date == date(2027, 3, 22) and early.deadline == date(2027, 4, 5)
    assert "dated 2027-03-22 instead of 2027-03-19, the day it leaves" in post.details(
        early.letter_id
    )
    late = post.record(asked_late["letter_id"])
    assert late.letter_date == date(2027, 3, 25) and late.deadline == date(2027, 4, 8)
    assert "instead of" not in post.details(late.letter_id)


def test_a_batch_dispatched_two_working_days_late_is_dated_again_with_a_new_password(
    post: Post,
) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    request = printed()
    post.process(request)
    before = post.record(request["letter_id"])
    old_text = plain_text(post.pdf(before.letter_id))
    old_password = password_in(old_text)
    assert before.letter_date == date(2027, 3, 22) and before.deadline == date(2027, 4, 5)

    # The dispatcher was down over the weekend and Monday: it runs on Tuesday 23 March,
    # so the print house posts on Wednesday 24 March, two working days late.
    post.now = oslo(date(2027, 3, 23), 9)
    report = post.dispatcher.run()
    [sent] = report.sent

    after = post.record(request["letter_id"])
    assert after.status is LetterStatus.SENT
    assert after.letter_date == date(2027, 3, 24) == after.posted_on
    assert after.planned_posting_day == date(2027, 3, 24)
    assert after.deadline == date(2027, 4, 7)
    assert after.otp_hash != before.otp_hash and after.pdf_sha256 != before.pdf_sha256
    assert "dated again for 2027-03-24" in post.details(after.letter_id)

    new_text = plain_text(post.pdf(after.letter_id))
    new_password = password_in(new_text)
    assert new_password != old_password
    case_number = request["case"]["case_number"]
    peppers = [post.pipeline.service.pepper]
    assert verify_login(post.ledger, case_number, old_password, date(2027, 3, 24), peppers) is None
    assert verify_login(post.ledger, case_number, new_password, date(2027, 3, 24), peppers) == (
        after.letter_id
    )
    # The batch posted carries the new letter, never the stale one.
    batch_pdf, manifest = post.dropped(sent.batch_id)
    batch_text = plain_text(batch_pdf)
    assert new_password in batch_text and old_password not in batch_text
    assert _nb(date(2027, 4, 7)) in batch_text and _nb(date(2027, 4, 5)) not in batch_text
    assert [e["letter_id"] for e in manifest["letters"]] == [after.letter_id]


def test_a_batch_dispatched_on_time_is_not_dated_again(post: Post) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    request = printed()
    post.process(request)
    before = post.record(request["letter_id"])
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 16, 5)
    post.dispatcher.run()

    after = post.record(request["letter_id"])
    assert after.status is LetterStatus.SENT and after.posted_on == date(2027, 3, 22)
    assert (after.pdf_sha256, after.otp_hash) == (before.pdf_sha256, before.otp_hash)
    assert "dated again" not in post.details(after.letter_id)


def test_a_digipost_letter_whose_retry_runs_past_its_day_is_dated_again(post: Post) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    request = sample_request("inkassovarsel-nb-plain")
    post.digipost.fail_next(ChannelUnavailableError("digipost: 503"))
    with pytest.raises(TransientError):
        post.process(request)
    first = post.record(request["letter_id"])
    assert first.letter_date == FRIDAY_BEFORE_EASTER_WEEK

    post.now = oslo(date(2027, 3, 22), 8)  # the retry goes on Monday
    post.process(request)
    sent = post.record(request["letter_id"])
    assert sent.status is LetterStatus.DELIVERED
    assert sent.letter_date == date(2027, 3, 22) == sent.posted_on
    assert sent.deadline == date(2027, 4, 5) and sent.otp_hash != first.otp_hash
    [delivered] = post.digipost.outbox
    assert delivered.letter_date == date(2027, 3, 22) and delivered.pdf == post.pdf(sent.letter_id)


# -- the order of letters, from the ledger -------------------------------------------------


def test_a_betalingsoppfordring_waits_for_the_ledgers_inkassovarsel_deadline(post: Post) -> None:
    post.now = oslo(date(2027, 3, 1), 10)
    varsel = sample_request("inkassovarsel-nb-plain")
    post.process(varsel)
    assert post.record(varsel["letter_id"]).deadline == date(2027, 3, 15)

    early = same_case(varsel, "betalingsoppfordring-nb-plain")
    reason = post.refused(early)
    assert reason.startswith("letter_type: inkassoloven § 10 (1): a betalingsoppfordring")
    assert f"letter {varsel['letter_id']}" in reason and "deadline 2027-03-15" in reason
    assert post.record(early["letter_id"]).pdf_sha256 is None  # never rendered

    post.now = oslo(date(2027, 3, 16), 10)
    on_time = same_case(varsel, "betalingsoppfordring-nb-plain")
    post.process(on_time)
    assert post.record(on_time["letter_id"]).status is LetterStatus.DELIVERED


def test_a_varsel_waits_for_the_ledgers_betalingsoppfordring_deadline(post: Post) -> None:
    post.now = oslo(date(2027, 3, 1), 10)
    demand = sample_request("betalingsoppfordring-nb-plain")  # reports an old inkassovarsel
    post.process(demand)

    early = same_case(demand, "varsel_rettslig_pagang-nb-plain")
    reason = post.refused(early)
    assert "a varsel om rettslig pågang may be sent only after the deadline of a " in reason
    assert f"letter {demand['letter_id']}" in reason

    post.now = oslo(date(2027, 3, 16), 10)
    later = same_case(demand, "varsel_rettslig_pagang-nb-plain")
    # The salær comes from the agency's own betalingsoppfordring in the ledger, the day it
    # went (a creditor-sent demand could not have charged it).
    for cost in later["case"]["costs"]:
        if cost["code"] == "collection_costs":
            cost["charged_on"] = "2027-03-01"
    post.process(later)
    assert post.record(later["letter_id"]).status is LetterStatus.DELIVERED


def test_no_second_letter_of_a_type_while_the_first_runs(post: Post) -> None:
    post.now = oslo(date(2027, 3, 1), 10)
    first = sample_request("purring-nb-plain")
    post.process(first)
    second = same_case(first, "purring-nb-plain")
    reason = post.refused(second)
    assert "no second purring for case" in reason
    assert f"the purring of 2027-03-01 (letter {first['letter_id']})" in reason
    assert post.record(second["letter_id"]).status is LetterStatus.DEAD_LETTERED

    post.now = oslo(date(2027, 3, 16), 10)
    third = same_case(first, "purring-nb-plain")
    post.process(third)
    assert post.record(third["letter_id"]).status is LetterStatus.DELIVERED


# -- case states ---------------------------------------------------------------------------


def test_disputed_withdraws_a_letter_from_its_open_batch_and_open_sends_it_again(
    post: Post,
) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    kept, disputed = printed(), printed()
    post.process(kept)
    post.process(disputed)

    outcome = post.case(disputed["case"]["case_number"], "disputed")
    assert outcome.withdrawn == [disputed["letter_id"]]
    record = post.record(disputed["letter_id"])
    assert record.status is LetterStatus.WITHDRAWN
    assert "taken out of print batch" in post.details(record.letter_id)
    # Redelivered meanwhile, the request does nothing: the letter waits for its case.
    assert post.process(disputed).already_finished

    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 16, 5)
    [batch] = post.dispatcher.run().sent
    _, manifest = post.dropped(batch.batch_id)
    assert [e["letter_id"] for e in manifest["letters"]] == [kept["letter_id"]]
    assert post.record(disputed["letter_id"]).status is LetterStatus.WITHDRAWN

    # Resolved on Monday: the letter goes on, dated by its new posting day.
    post.now = oslo(date(2027, 3, 22), 9)
    reopened = post.case(disputed["case"]["case_number"], "open")
    assert [r.letter_id for r in reopened.released] == [disputed["letter_id"]]
    post.process(disputed)  # the worker takes the requeued request
    again = post.record(disputed["letter_id"])
    assert again.status is LetterStatus.BATCHED
    assert again.letter_date == date(2027, 3, 23) and again.deadline == date(2027, 4, 6)


def test_a_held_letter_goes_on_when_its_case_is_open_again(post: Post) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    case_number = request["case"]["case_number"]
    post.case(case_number, "on_hold")
    outcome = post.process(request)
    assert outcome.stopped is LetterStatus.HELD and outcome.receipt is None
    assert post.record(request["letter_id"]).status is LetterStatus.HELD
    assert post.digipost.outbox == []

    released = post.case(case_number, "open")
    assert [r.letter_id for r in released.released] == [request["letter_id"]]
    post.process(request)
    assert post.record(request["letter_id"]).status is LetterStatus.DELIVERED
    assert post.digipost.delivered_ids() == [request["letter_id"]]


@pytest.mark.parametrize("state", ["paid", "closed"])
def test_paid_or_closed_cancels_a_held_letter(post: Post, state: str) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    case_number = request["case"]["case_number"]
    post.case(case_number, "disputed")
    post.process(request)
    outcome = post.case(case_number, state)
    assert outcome.cancelled == [request["letter_id"]]
    record = post.record(request["letter_id"])
    assert record.status is LetterStatus.CANCELLED and record.finished
    assert post.process(request).already_finished
    assert post.digipost.outbox == []
    # Open again, a cancelled letter stays cancelled: the case system sends a new one.
    assert post.case(case_number, "open").released == []


def test_a_letter_that_has_left_only_hears_of_the_change(post: Post) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    post.process(request)
    outcome = post.case(request["case"]["case_number"], "paid")
    assert outcome.noted == [request["letter_id"]] and outcome.cancelled == []
    record = post.record(request["letter_id"])
    assert record.status is LetterStatus.DELIVERED
    assert post.events(record.letter_id)[-1] == "case"
    assert "case paid at" in post.details(record.letter_id)


def test_case_messages_are_idempotent_and_the_latest_time_wins(post: Post) -> None:
    request = sample_request("inkassovarsel-nb-plain")
    case_number = request["case"]["case_number"]
    monday, tuesday = oslo(date(2027, 3, 22), 9), oslo(date(2027, 3, 23), 9)
    post.now = tuesday
    assert post.case(case_number, "open", at=tuesday).change.new
    # Monday's dispute arrives after Tuesday's reopening: kept in the history, no effect.
    late = post.case(case_number, "disputed", at=monday)
    assert late.change.new and not late.change.latest
    repeat = post.case(case_number, "disputed", at=monday)
    assert not repeat.change.new
    post.process(request)
    assert post.record(request["letter_id"]).status is LetterStatus.DELIVERED
    states = [(c.state, c.at) for c in post.pipeline.cases.history(case_number)]
    assert states == [("disputed", monday), ("open", tuesday)]


def test_cancel_takes_one_letter_out_of_its_batch_and_says_when_it_has_left(post: Post) -> None:
    post.now = oslo(FRIDAY_BEFORE_EASTER_WEEK, 10)
    batched, delivered = printed(), sample_request("inkassovarsel-nb-plain")
    post.process(batched)
    post.process(delivered)
    handler = post.pipeline.case_changes

    done = handler.cancel(batched["letter_id"], "sent to the wrong debtor")
    assert done.cancelled and "taken out of print batch" in done.detail
    assert post.record(batched["letter_id"]).status is LetterStatus.CANCELLED
    assert post.ledger.batches.batch_of(batched["letter_id"]) is None

    refused = handler.cancel(delivered["letter_id"], "too late")
    assert not refused.cancelled and refused.detail.startswith("it has left: delivered via")
    assert not handler.cancel(batched["letter_id"], "again").cancelled


def test_a_later_letter_must_carry_the_ledgers_earlier_costs_or_waive_them(post: Post) -> None:
    post.now = oslo(date(2027, 3, 1), 10)
    varsel = sample_request("inkassovarsel-nb-plain")
    post.process(varsel)

    post.now = oslo(date(2027, 3, 16), 10)
    demand = same_case(varsel, "betalingsoppfordring-nb-plain")
    demand["case"]["costs"] = [c for c in demand["case"]["costs"] if c["code"] != "reminder_fee"]
    reason = post.refused(demand)
    assert f"letter {varsel['letter_id']}" in reason
    assert "claimed a reminder fee of 37.50 kr; list it in case.costs" in reason

    waived = same_case(varsel, "betalingsoppfordring-nb-plain")
    waived["case"]["costs"] = demand["case"]["costs"]
    waived["case"]["waived_costs"] = [{"code": "reminder_fee", "amount": "37.50"}]
    post.process(waived)
    assert post.record(waived["letter_id"]).status is LetterStatus.DELIVERED
    words = " ".join(plain_text(post.pdf(waived["letter_id"])).split())
    assert "Purregebyr på 37,50 kr er frafalt og kreves ikke." in words
