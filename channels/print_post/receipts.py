"""The print house's posting receipt for a batch (``queue/print-receipt.schema.json``).

A receipt says on which day the batch went to the post and, for each letter
of the batch, whether it was posted, posted after a spoiled sheet was printed
again, or not posted (and why). It is checked whole before anything is done
with it: its shape, and that it lists every letter of the batch's manifest
once and nothing else. A receipt that fails is refused with every problem
named, so that none of it is applied.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, ValidationError

from letters.domain.message_body import BodyLimits, canonical_uuid, request_object
from letters.domain.request_shape import IsoDate, problem_from_pydantic
from letters.domain.text import got
from letters.errors import FieldProblem, PermanentError

RECEIPT_SCHEMA = "letters.print-receipt/1"
# Where the print house drops receipts in the print drop, and where they go once read.
RECEIPTS = "receipts/"
DONE = "receipts/done/"
REFUSED = "receipts/refused/"
# A receipt lists a batch's letters; a batch holds at most a few thousand.
RECEIPT_LIMITS = BodyLimits(max_bytes=16 * 1024 * 1024, max_depth=8)
BATCH_ID_PATTERN = r"[0-9]{8}-[A-Z]-[0-9a-f]{8}"


class Outcome(StrEnum):
    POSTED = "posted"
    # A sheet was spoiled and printed again; the letter was posted on posted_on.
    REPRINTED = "reprinted"
    NOT_POSTED = "not_posted"


class MalformedReceiptError(PermanentError):
    """The receipt breaks its schema or does not match its batch; nothing of it is applied."""

    def __init__(self, problems: Sequence[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("receipt refused: " + "; ".join(str(p) for p in problems))


def _letter_id(value: object) -> str:
    canonical = canonical_uuid(value) if isinstance(value, str) else None
    if canonical is None:
        raise ValueError(f"must be a UUID{got(value)}")
    return canonical


class _LetterShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    letter_id: Annotated[str, BeforeValidator(_letter_id)]
    outcome: Annotated[Outcome, Strict(False)]
    reason: Annotated[str, Field(min_length=1, max_length=200)] | None = None


class _ReceiptShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_: Literal["letters.print-receipt/1"] = Field(alias="schema")
    batch_id: Annotated[str, Field(pattern=f"^{BATCH_ID_PATTERN}$")]
    posted_on: IsoDate
    letters: Annotated[list[_LetterShape], Field(min_length=1, max_length=100_000)]


@dataclass(frozen=True, slots=True)
class ReceiptLine:
    letter_id: str
    outcome: Outcome
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class PostingReceipt:
    batch_id: str
    posted_on: date
    letters: tuple[ReceiptLine, ...]


def parse_receipt(raw: bytes | str | dict[str, Any]) -> PostingReceipt:
    """Validate a receipt's shape; MalformedReceiptError names every field at fault."""
    try:
        data = request_object(raw, RECEIPT_LIMITS) if isinstance(raw, bytes | str) else raw
        shape = _ReceiptShape.model_validate(data)
    except ValidationError as err:
        problems = [_receipt_problem(problem_from_pydantic(e)) for e in err.errors()]
        raise MalformedReceiptError(problems) from None
    except PermanentError as err:  # not JSON, not an object, too large or too deep
        raise MalformedReceiptError([FieldProblem("", str(err))]) from None
    problems = [
        FieldProblem(f"letters[{i}].reason", "is required when outcome is not_posted")
        for i, line in enumerate(shape.letters)
        if line.outcome is Outcome.NOT_POSTED and not line.reason
    ]
    if problems:
        raise MalformedReceiptError(problems)
    lines = tuple(ReceiptLine(x.letter_id, x.outcome, x.reason) for x in shape.letters)
    return PostingReceipt(shape.batch_id, shape.posted_on, lines)


def batch_problems(
    receipt: PostingReceipt,
    batch_id: str,
    members: Sequence[str],
    sent_on: date,
    today: date | None = None,
) -> list[FieldProblem]:
    """Why ``receipt`` cannot be applied to the batch ``batch_id`` of letters ``members``
    that was handed to the print house on ``sent_on``, read on ``today``; [] when it can."""
    problems = []
    if receipt.batch_id != batch_id:
        problems.append(FieldProblem("batch_id", f"is {receipt.batch_id}, not {batch_id}"))
    if today is not None and receipt.posted_on > today:
        problems.append(
            FieldProblem(
                "posted_on",
                f"is {receipt.posted_on.isoformat()}, after today ({today.isoformat()}): "
                "a receipt says what was posted",
            )
        )
    if receipt.posted_on < sent_on:
        problems.append(
            FieldProblem(
                "posted_on",
                f"is {receipt.posted_on.isoformat()}, before the batch reached the print "
                f"house on {sent_on.isoformat()}",
            )
        )
    expected = set(members)
    seen: set[str] = set()
    for index, line in enumerate(receipt.letters):
        path = f"letters[{index}].letter_id"
        if line.letter_id not in expected:
            problems.append(FieldProblem(path, f"letter {line.letter_id} is not in the batch"))
        elif line.letter_id in seen:
            problems.append(FieldProblem(path, f"letter {line.letter_id} is listed twice"))
        seen.add(line.letter_id)
    missing = [m for m in members if m not in seen]
    if missing:
        problems.append(
            FieldProblem(
                "letters",
                f"{len(missing)} letter(s) of the batch are not listed, the first "
                f"{missing[0]}: a receipt accounts for every letter",
            )
        )
    return problems


def _receipt_problem(problem: FieldProblem) -> FieldProblem:
    if problem.path == "schema":
        return FieldProblem("schema", f'must be "{RECEIPT_SCHEMA}"')
    if problem.path == "batch_id" and "pattern" in problem.rule:
        return FieldProblem("batch_id", "must be a batch id such as 20261208-D-4dad591d")
    if problem.rule.startswith("is not a field of"):
        return FieldProblem(problem.path, f"is not a field of {RECEIPT_SCHEMA}")
    return problem
