"""Which letters a re-send job takes from the ledger, and the dry run that shows them.

A selection is a list of letter ids or case numbers, filters, or both; every
criterion narrows it. Only letters whose delivery is over can be re-sent: a
letter still on its way (or waiting in a print batch) would go out twice. Letters
of closed or paid cases are left out unless the job says otherwise.
"""

from __future__ import annotations

import json
import re
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from channels.base import DIGIPOST, PRINT
from letters.domain.letter_types import LetterType
from letters.ledger import Ledger, LetterStatus
from letters.ledger.case_states import CLOSED_STATES, HOLDING_STATES
from letters.ledger.search import FoundLetter, LetterQuery, find_letters

MODES = ("copy", "renew")
# A letter is re-sent only once its own delivery is over.
DONE = (LetterStatus.SENT, LetterStatus.DELIVERED, LetterStatus.DEAD_LETTERED, LetterStatus.FAILED)
_CASE_NUMBER = re.compile(r"^\d[\d-]{0,30}\d$")


class SelectionError(ValueError):
    """A filter or id list that cannot be used; the message names the option and the rule."""


@dataclass(frozen=True, slots=True)
class Selection:
    letter_ids: tuple[str, ...] = ()
    case_numbers: tuple[str, ...] = ()
    letter_types: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    batch_ids: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for letter_type in self.letter_types:
            if letter_type not in {t.value for t in LetterType}:
                raise SelectionError(
                    f"--type: {letter_type!r} is not a letter type "
                    f"({', '.join(t.value for t in LetterType)})"
                )
        for channel in self.channels:
            if channel not in (DIGIPOST, PRINT):
                raise SelectionError(f"--sent-via: {channel!r} is not a channel (digipost, print)")
        for status in self.statuses:
            if status not in {s.value for s in LetterStatus}:
                raise SelectionError(
                    f"--status: {status!r} is not a letter status "
                    f"({', '.join(s.value for s in LetterStatus)})"
                )
        if self.date_from and self.date_to and self.date_from > self.date_to:
            raise SelectionError(
                f"--from {self.date_from} is after --to {self.date_to}: the range is empty"
            )
        if not self.criteria():
            raise SelectionError(
                "no selection: give --letters, --cases, --type, --from/--to, --sent-via, "
                "--status or --batch (re-sending the whole ledger is never the default)"
            )

    def criteria(self) -> dict[str, Any]:
        """The criteria given, for the dry run and the job record."""
        return {
            key: value.isoformat() if isinstance(value, date) else value
            for key, value in asdict(self).items()
            if value
        }

    def to_json(self) -> str:
        return json.dumps(self.criteria())

    def select(self, ledger: Ledger, mode: str, sample_size: int = 10) -> SelectionResult:
        """What the selection takes, counted, and what it leaves out with the reason.

        The letters are streamed, not held: a selection of a million letters counts in
        the memory of one. ``chosen`` gives the letters themselves, in the same order.
        """
        by_type: Counter[str] = Counter()
        by_channel: Counter[str] = Counter()
        by_status: Counter[str] = Counter()
        left_out: Counter[str] = Counter()
        sample: list[SelectedLetter] = []
        seen: set[str] = set()
        for letter, reason in self._walk(ledger, mode, seen):
            if reason:
                left_out[reason] += 1
                continue
            by_type[letter.letter_type] += 1
            by_channel[letter.channel or "none"] += 1
            by_status[letter.status] += 1
            if len(sample) < sample_size:
                sample.append(letter)
        unknown = sorted(set(self.letter_ids) - seen)
        return SelectionResult(
            count=sum(by_type.values()),
            by_type=dict(by_type.most_common()),
            by_channel=dict(by_channel.most_common()),
            by_status=dict(by_status.most_common()),
            left_out=dict(left_out),
            unknown_ids=tuple(unknown),
            sample=tuple(sample),
        )

    def chosen(self, ledger: Ledger, mode: str) -> Iterator[SelectedLetter]:
        """The letters the selection takes, oldest letter date first, one at a time."""
        for letter, reason in self._walk(ledger, mode, set()):
            if not reason:
                yield letter

    def _walk(
        self, ledger: Ledger, mode: str, seen: set[str]
    ) -> Iterator[tuple[SelectedLetter, str | None]]:
        # Only ids from the job's own list are remembered (to name the unknown ones):
        # the memory this takes is the list's, never the ledger's.
        remember = bool(self.letter_ids)
        for row in find_letters(ledger, self.query()):
            if remember:
                if row.letter_id in seen:
                    continue
                seen.add(row.letter_id)
            letter = SelectedLetter(
                letter_id=row.letter_id,
                case_number=row.case_number,
                letter_type=row.letter_type,
                language=row.language,
                status=row.status,
                channel=row.channel,
                letter_date=row.letter_date,
            )
            yield letter, _left_out_because(row, mode)

    def query(self) -> LetterQuery:
        return LetterQuery(
            letter_ids=self.letter_ids,
            case_numbers=self.case_numbers,
            letter_types=self.letter_types,
            date_from=self.date_from,
            date_to=self.date_to,
            channels=self.channels,
            statuses=self.statuses,
            batch_ids=self.batch_ids,
        )


@dataclass(frozen=True, slots=True)
class SelectedLetter:
    letter_id: str
    case_number: str
    letter_type: str
    language: str
    status: str
    channel: str | None
    letter_date: date | None


@dataclass(frozen=True, slots=True)
class SelectionResult:
    """A selection counted: no letter list, so its size does not grow with the ledger's."""

    count: int
    by_type: dict[str, int] = field(default_factory=dict)
    by_channel: dict[str, int] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    # reason -> how many letters matched but are left out for it
    left_out: dict[str, int] = field(default_factory=dict)
    # letter ids from the file that the ledger does not have
    unknown_ids: tuple[str, ...] = ()
    # the first letters chosen, for the dry run
    sample: tuple[SelectedLetter, ...] = ()

    def summary(self) -> dict[str, Any]:
        """Counts by type, channel and status, what is left out, and a sample (no personal data)."""
        return {
            "letters": self.count,
            "by_type": self.by_type,
            "by_channel": self.by_channel,
            "by_status": self.by_status,
            "left_out": self.left_out,
            "unknown_letter_ids": list(self.unknown_ids),
            "sample": [
                {**asdict(s), "letter_date": s.letter_date and s.letter_date.isoformat()}
                for s in self.sample
            ],
        }


def _left_out_because(row: FoundLetter, mode: str) -> str | None:
    if row.status not in DONE or (row.status == LetterStatus.FAILED and row.retry_at):
        return f"still on its way ({row.status})"
    if row.personal_data_erased_at is not None:
        return (
            "past retention: the debtor's name and address are erased, so it cannot be sent "
            "again (its archived PDF is kept: letters archive get)"
        )
    if mode == "copy" and not row.archive_key:
        return "never archived, so there is no PDF to copy"
    if row.case_state in HOLDING_STATES:
        return f"case {row.case_state} (its letters wait until it is open)"
    if row.case_state in CLOSED_STATES:
        return f"case {row.case_state}"
    return None


def read_letter_ids(path: Path) -> tuple[str, ...]:
    """Letter ids, one per line (blank lines and ``#`` comments skipped)."""
    return tuple(_checked_lines(path, "--letters", _is_uuid, "is not a letter id (a UUID)"))


def read_case_numbers(path: Path) -> tuple[str, ...]:
    """Case numbers, one per line (blank lines and ``#`` comments skipped)."""
    return tuple(
        _checked_lines(
            path,
            "--cases",
            lambda text: bool(_CASE_NUMBER.match(text)),
            "is not a case number (2 to 32 digits and hyphens)",
        )
    )


def _checked_lines(path: Path, option: str, valid: Any, rule: str) -> Iterable[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        raise SelectionError(f"{option} {path}: cannot be read ({err})") from err
    values: dict[str, None] = {}
    for number, line in enumerate(lines, start=1):
        text = line.split("#", 1)[0].strip()
        if not text:
            continue
        if not valid(text):
            # The line number, not the text: a wrong line may hold anything.
            raise SelectionError(f"{option} {path}, line {number}: {rule}")
        values[text.lower() if option == "--letters" else text] = None
    if not values:
        raise SelectionError(f"{option} {path}: the file lists nothing")
    return values


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
