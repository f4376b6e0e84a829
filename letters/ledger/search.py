"""Finding letters by what operations know: ids, case numbers, types, dates, channels, batches.

Every criterion narrows the search. Long lists of ids or case numbers are
asked for in chunks, to stay under SQLite's limit on bound parameters.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, select

from letters.clock import as_utc
from letters.ledger.schema import case_states, letters, print_batch_letters
from letters.ledger.store import Ledger

_CHUNK = 2000
_BATCH = 1000


@dataclass(frozen=True, slots=True)
class LetterQuery:
    letter_ids: tuple[str, ...] = ()
    case_numbers: tuple[str, ...] = ()
    letter_types: tuple[str, ...] = ()
    date_from: date | None = None
    date_to: date | None = None
    channels: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    batch_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class FoundLetter:
    letter_id: str
    case_number: str
    letter_type: str
    language: str
    status: str
    channel: str | None
    letter_date: date | None
    archive_key: str | None
    retry_at: datetime | None
    # The state the case system (or operations) recorded for the case; None: open.
    case_state: str | None
    # When retention erased its personal data (LETTERS_RETENTION_DAYS); None: kept.
    personal_data_erased_at: datetime | None = None


def find_letters(ledger: Ledger, wanted: LetterQuery) -> Iterator[FoundLetter]:
    """The letters that match every criterion given, oldest letter date first.

    They are streamed (a server-side cursor on PostgreSQL, ``_BATCH`` rows at a
    time): a search over a year of letters holds a batch in memory, not the year.
    A long list of ids or case numbers is asked for in chunks, each in order.
    """
    query = (
        select(
            letters.c.letter_id,
            letters.c.case_number,
            letters.c.letter_type,
            letters.c.language,
            letters.c.status,
            letters.c.channel,
            letters.c.letter_date,
            letters.c.archive_key,
            letters.c.retry_at,
            case_states.c.state.label("case_state"),
            letters.c.personal_data_erased_at,
        )
        .select_from(letters)
        .outerjoin(case_states, case_states.c.case_number == letters.c.case_number)
    )
    if wanted.letter_types:
        query = query.where(letters.c.letter_type.in_(wanted.letter_types))
    if wanted.date_from:
        query = query.where(letters.c.letter_date >= wanted.date_from)
    if wanted.date_to:
        query = query.where(letters.c.letter_date <= wanted.date_to)
    if wanted.channels:
        query = query.where(letters.c.channel.in_(wanted.channels))
    if wanted.statuses:
        query = query.where(letters.c.status.in_(wanted.statuses))
    if wanted.batch_ids:
        members = select(print_batch_letters.c.letter_id).where(
            print_batch_letters.c.batch_id.in_(wanted.batch_ids)
        )
        query = query.where(letters.c.letter_id.in_(members))
    query = query.order_by(
        letters.c.letter_date.asc().nulls_first(), letters.c.case_number, letters.c.letter_id
    ).execution_options(yield_per=_BATCH)
    # A read-only transaction: on SQLite it lets the caller write (a job's items) while
    # the search streams.
    with ledger.reading() as conn:
        for chunked in _chunked_by(query, wanted.letter_ids, wanted.case_numbers):
            for row in conn.execute(chunked):
                values = dict(row._mapping)
                values["retry_at"] = as_utc(row.retry_at) if row.retry_at else None
                yield FoundLetter(**values)


def _chunked_by(
    query: Select[Any], letter_ids: tuple[str, ...], case_numbers: tuple[str, ...]
) -> Iterator[Select[Any]]:
    if letter_ids and case_numbers:
        query = query.where(letters.c.case_number.in_(case_numbers))
        case_numbers = ()
    if letter_ids:
        for chunk in _chunks(letter_ids):
            yield query.where(letters.c.letter_id.in_(chunk))
    elif case_numbers:
        for chunk in _chunks(case_numbers):
            yield query.where(letters.c.case_number.in_(chunk))
    else:
        yield query


def _chunks(values: tuple[str, ...]) -> Iterator[tuple[str, ...]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]
