"""Re-send jobs in the ledger: the job, its frozen list of letters, and each one's outcome.

An item is ``pending`` until the job has dealt with it, then ``sent``,
``skipped`` (with the reason) or ``failed`` (with the reason). A transient
failure is ``retry``: the next run of the job tries it again. The new letter's
id is derived from the job id and the original letter's id, so every run of a
job makes the same letters, and the ledger and the channels' idempotency on
letter id keep each of them from going out twice.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import func, insert, select, update
from sqlalchemy.exc import IntegrityError

from letters.clock import as_utc, utcnow
from letters.ledger.schema import resend_items, resend_jobs

if TYPE_CHECKING:  # the ledger hands this store out (letters.ledger.stores)
    from letters.ledger.store import Ledger


class ChosenLetter(Protocol):
    """What a job needs of each letter its selection took."""

    @property
    def letter_id(self) -> str: ...

    @property
    def case_number(self) -> str: ...


_NAMESPACE = uuid.UUID("6d0a7f1e-3b52-4c8e-9f0a-52e0c0d7a111")


class ItemStatus(StrEnum):
    PENDING = "pending"
    SENT = "sent"
    SKIPPED = "skipped"
    FAILED = "failed"
    RETRY = "retry"


# What a run of the job still has to do.
TO_DO = (ItemStatus.PENDING, ItemStatus.RETRY)


class JobExistsError(Exception):
    """Another job already has this id."""


@dataclass(frozen=True, slots=True)
class Job:
    job_id: str
    mode: str
    forced_channel: str | None
    selection: str
    item_count: int
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    runs: int


@dataclass(frozen=True, slots=True)
class Item:
    source_letter_id: str
    new_letter_id: str
    case_number: str
    position: int
    status: ItemStatus
    detail: str | None
    attempts: int
    run: int | None


def new_letter_id(job_id: str, source_letter_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{job_id}/{source_letter_id}"))


class JobStore:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger

    def create(
        self,
        job_id: str,
        mode: str,
        forced_channel: str | None,
        selection: str,
        chosen: Iterable[ChosenLetter],
    ) -> Job:
        """Record the job and its letters in one transaction, a thousand letters at a time:
        ``chosen`` may be a stream of any length."""
        now = utcnow()
        letters = iter(chosen)
        try:
            with self.ledger.transaction() as conn:
                conn.execute(
                    insert(resend_jobs).values(
                        job_id=job_id,
                        mode=mode,
                        forced_channel=forced_channel,
                        selection=selection,
                        item_count=0,
                        created_at=now,
                        runs=0,
                    )
                )
                count = 0
                while batch := list(islice(letters, 1000)):
                    conn.execute(
                        insert(resend_items),
                        [
                            {
                                "job_id": job_id,
                                "source_letter_id": letter.letter_id,
                                "position": count + offset,
                                "case_number": letter.case_number,
                                "new_letter_id": new_letter_id(job_id, letter.letter_id),
                                "status": ItemStatus.PENDING,
                                "attempts": 0,
                            }
                            for offset, letter in enumerate(batch, start=1)
                        ],
                    )
                    count += len(batch)
                conn.execute(
                    update(resend_jobs)
                    .where(resend_jobs.c.job_id == job_id)
                    .values(item_count=count)
                )
        except IntegrityError as err:
            raise JobExistsError(job_id) from err
        job = self.get(job_id)
        assert job is not None  # noqa: S101 - inserted above
        return job

    def get(self, job_id: str) -> Job | None:
        with self.ledger.transaction() as conn:
            row = conn.execute(select(resend_jobs).where(resend_jobs.c.job_id == job_id)).first()
        if row is None:
            return None
        values = dict(row._mapping)
        for name in ("created_at", "started_at", "finished_at"):
            values[name] = as_utc(values[name]) if values[name] else None
        return Job(**values)

    def start_run(self, job_id: str) -> int:
        """Count one more run of the job; its number."""
        now = utcnow()
        with self.ledger.transaction() as conn:
            conn.execute(
                update(resend_jobs)
                .where(resend_jobs.c.job_id == job_id)
                .values(
                    runs=resend_jobs.c.runs + 1,
                    started_at=func.coalesce(resend_jobs.c.started_at, now),
                    finished_at=None,
                )
            )
            runs = conn.execute(
                select(resend_jobs.c.runs).where(resend_jobs.c.job_id == job_id)
            ).scalar_one()
        return int(runs)

    def finish(self, job_id: str) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(
                update(resend_jobs)
                .where(resend_jobs.c.job_id == job_id)
                .values(finished_at=utcnow())
            )

    def items(self, job_id: str, statuses: tuple[str, ...] | None = None) -> list[Item]:
        query = (
            select(resend_items)
            .where(resend_items.c.job_id == job_id)
            .order_by(resend_items.c.position)
        )
        if statuses is not None:
            query = query.where(resend_items.c.status.in_(statuses))
        with self.ledger.transaction() as conn:
            return [
                Item(
                    source_letter_id=r.source_letter_id,
                    new_letter_id=r.new_letter_id,
                    case_number=r.case_number,
                    position=r.position,
                    status=ItemStatus(r.status),
                    detail=r.detail,
                    attempts=r.attempts,
                    run=r.run,
                )
                for r in conn.execute(query)
            ]

    def counts(self, job_id: str) -> Counter[str]:
        query = (
            select(resend_items.c.status, func.count())
            .where(resend_items.c.job_id == job_id)
            .group_by(resend_items.c.status)
        )
        with self.ledger.transaction() as conn:
            return Counter({status: int(n) for status, n in conn.execute(query)})

    def record(self, job_id: str, item: Item, status: ItemStatus, detail: str, run: int) -> None:
        with self.ledger.transaction() as conn:
            conn.execute(
                update(resend_items)
                .where(resend_items.c.job_id == job_id)
                .where(resend_items.c.source_letter_id == item.source_letter_id)
                .values(
                    status=status,
                    detail=detail[:1000],
                    attempts=resend_items.c.attempts + 1,
                    done_at=utcnow(),
                    run=run,
                )
            )
