"""Synthetic years of letters for the scale benchmark: what a debt collector's ledger holds.

Letter ``i`` of ``total`` is made from ``i`` alone (its own random stream), so a
fill can stop and go on, and two runs of one size hold the same letters. The
letters spread evenly over three years up to ``now``, three to a case, two
cases to a person, and one person has 50 letters in the last year (the access
export's case).

What becomes of a letter, beyond the last day (which holds letters in every
state a worker can leave one in):

- Digipost (consent and a mailbox): 88 % delivered (60 % of them then opened),
  12 % sent and never confirmed;
- print and post: batched, sent, posted (the receipt), 4 % of them returned;
- of all: 2 % cancelled by their case, 1 % dead-lettered, 1 % held for their case.

Letters finished more than 400 days ago have had their personal data erased,
as retention does it. The rows are written by ``letters.ledger.bulk``.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from stdnum.no.fodselsnummer import calc_check_digit1, calc_check_digit2, is_valid

from letters.config import PROJECT_ROOT
from letters.digests import sha256_hex
from letters.ledger import LetterStatus
from letters.ledger.bulk import PastDelivery, PastLetter

SPAN = timedelta(days=3 * 365)
RETENTION_DAYS = 400
# Case numbers of the filled letters, and of the letters the benchmark adds to measure.
FILLED_CASE = "SC-"
PROBE_CASE = "SP-0000000001"
_NAMESPACE = uuid.UUID("0b7c3d8e-5f1a-4c2b-9d6e-7a8b9c0d1e2f")
# As text: a request is made by parsing its template, faster than copying a parsed one.
_TEMPLATES = [
    json.dumps(json.loads(p.read_text(encoding="utf-8")))
    for p in sorted((PROJECT_ROOT / "samples").glob("*.json"))
]


def archived_pdf(letter: str) -> bytes:
    """What the archive holds for a filled letter (the access export reads it)."""
    return f"%PDF-1.7 scale letter {letter}\n%%EOF\n".encode()


def letter_id(index: int) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"letter-{index}"))


def national_id(person: int) -> str:
    """A valid Norwegian national identity number per person (born 1940–1999)."""
    stream = random.Random(f"person-{person}")  # noqa: S311 - synthetic data, not secrets
    while True:
        born = date(1940, 1, 1) + timedelta(days=stream.randrange(60 * 365))
        individual = 100 + stream.randrange(400)  # 100-499: born 1900-1999
        body = f"{born:%d%m%y}{individual:03d}"
        number = body + calc_check_digit1(body)
        number += calc_check_digit2(number)
        # About one body in ten has no valid check digit: the next one is tried.
        if is_valid(number):
            return number


class History:
    def __init__(self, total: int, now: datetime) -> None:
        self.total = total
        self.now = now
        self.persons = max(1, total // 6)
        # The person with 50 letters has them in the last year, so that none is erased yet.
        self.heavy_from = total - total // 3
        self.heavy_every = max(1, (total // 3) // 50)

    def person_of(self, index: int) -> int:
        step, rest = divmod(index - self.heavy_from, self.heavy_every)
        if index >= self.heavy_from and rest == 0 and step < 50:
            return -1
        return (index // 3) % self.persons

    @property
    def heavy_person_id(self) -> str:
        return national_id(-1)

    def letters(self, start: int, stop: int) -> Iterator[PastLetter]:
        for index in range(start, stop):
            yield self.letter(index)

    def letter(self, index: int) -> PastLetter:
        stream = random.Random(index)  # noqa: S311 - synthetic data, not secrets
        created = self.now - SPAN * (1 - index / self.total)
        template = _TEMPLATES[index % len(_TEMPLATES)]
        request = json.loads(template)
        letter = letter_id(index)
        case_number = f"{FILLED_CASE}{index // 3:010d}"
        request["letter_id"] = letter
        request["case"]["case_number"] = case_number
        request["case"].pop("kid", None)
        request["recipient"]["national_identity_number"] = national_id(self.person_of(index))
        request["recipient"]["name"] = f"Debtor {self.person_of(index)}"
        digital = bool(request["recipient"].get("digital_consent"))
        channel = "digipost" if digital else "print"
        return _Letter(self, stream, index, letter, case_number, created, request, channel).past()


class _Letter:
    def __init__(
        self,
        history: History,
        stream: random.Random,
        index: int,
        letter_id: str,
        case_number: str,
        created: datetime,
        request: dict[str, Any],
        channel: str,
    ) -> None:
        self.h, self.stream, self.index = history, stream, index
        self.letter_id, self.case_number, self.created = letter_id, case_number, created
        self.request, self.channel = request, channel
        self.events: list[tuple[str, datetime, str | None]] = []
        self.deliveries: list[PastDelivery] = []
        self.row: dict[str, Any] = {}

    def at(self, event: str, seconds: float, detail: str | None = None) -> datetime:
        moment = self.created + timedelta(seconds=seconds)
        self.events.append((event, moment, detail))
        return moment

    def past(self) -> PastLetter:
        age = self.h.now - self.created
        roll = self.stream.random()
        self.at("accepted", 0)
        if age < timedelta(minutes=30) and roll < 0.5:
            status = self._in_flight()
        else:
            status = self._finished(roll)
        updated = self.events[-1][1]
        erased_at = None
        if status not in (LetterStatus.HELD, LetterStatus.FAILED) and (
            self.h.now - updated > timedelta(days=RETENTION_DAYS)
        ):
            erased_at = updated + timedelta(days=RETENTION_DAYS)
            self.events.append(("erased", erased_at, "personal data erased, 400 days after"))
            self.request["recipient"] = {"erased_on": erased_at.date().isoformat()}
            updated = erased_at
        letter_type, language = self.request["letter_type"], self.request["language"]
        day = self.created.date()
        self.row.update(
            letter_id=self.letter_id,
            case_number=self.case_number,
            letter_type=letter_type,
            language=language,
            status=status,
            attempts=1 if status is LetterStatus.FAILED else 0,
            created_at=self.created,
            updated_at=updated,
            personal_data_erased_at=erased_at,
            request=json.dumps(self.request, ensure_ascii=False, sort_keys=True),
        )
        if any(e[0] == "rendered" for e in self.events):
            self.row.update(
                letter_date=day,
                deadline=day + timedelta(days=14),
                kid=f"{self.index:010d}",
                amount_due=Decimal("1286.50"),
                template_version="scale-1",
                pdf_sha256=sha256_hex(archived_pdf(self.letter_id)),
                page_count=2,
                archive_key=f"{day:%Y/%m/%d}/{self.letter_id}.pdf",
                otp_hash="scrypt$scale",
                otp_expires_on=day + timedelta(days=60),
                planned_posting_day=day,
            )
        return PastLetter(self.row, self.events, self.deliveries)

    def _in_flight(self) -> LetterStatus:
        steps = self.stream.randrange(5)
        if steps == 0:
            return LetterStatus.ACCEPTED
        self._route()
        if steps == 1:
            return LetterStatus.ROUTED
        self.at("rendered", 2, "2 page(s), template scale-1")
        self.at("archived", 3, "archived")
        if steps == 2:
            return LetterStatus.ARCHIVED
        if steps == 3:
            self.row.update(retry_at=self.created + timedelta(minutes=10))
            self.at("failed", 4, "attempt 1: Digipost unavailable; retry in 10 min")
            return LetterStatus.FAILED
        self.at("held", 4, "case disputed since today: the letter waits")
        return LetterStatus.HELD

    def _route(self) -> None:
        reason = "consent and a mailbox" if self.channel == "digipost" else "no consent"
        self.row.update(channel=self.channel, route_reason=reason)
        self.at("routed", 1, f"{self.channel}: scale")

    def _finished(self, roll: float) -> LetterStatus:
        self._route()
        if roll < 0.01:
            self.at("dead-lettered", 2, "case: a claim's due date is after the letter date")
            return LetterStatus.DEAD_LETTERED
        if roll < 0.02:
            self.at("held", 2, "case disputed: the letter waits")
            return LetterStatus.HELD
        if roll < 0.04:
            self.at("cancelled", 2, "case paid: the letter will not be sent")
            return LetterStatus.CANCELLED
        self.at("rendered", 2, "2 page(s), template scale-1")
        self.at("archived", 3, "archived")
        if self.channel == "digipost":
            return self._digipost()
        return self._printed()

    def _digipost(self) -> LetterStatus:
        document = str(uuid.uuid5(uuid.NAMESPACE_OID, self.letter_id))
        self.row.update(provider_ref=document, delivery_method="DIGIPOST")
        if self.stream.random() < 0.12:
            self.at("sent", 5, "digipost: handed over")
            return LetterStatus.SENT
        delivered = self.at("delivered", 5, "digipost: DELIVERED via DIGIPOST")
        self.row.update(delivered_at=delivered, posted_on=delivered.date())
        if self.stream.random() < 0.6:
            opened = delivered + timedelta(hours=self.stream.randrange(1, 200))
            key = f"digipost:{document}:OPENED:{opened.isoformat()}"
            self.deliveries.append(PastDelivery("digipost", "OPENED", opened, None, key))
        return LetterStatus.DELIVERED

    def _printed(self) -> LetterStatus:
        batch = f"{self.created:%Y%m%d}-D-{self.index // 500:08x}"
        self.row.update(provider_ref=batch, delivery_method="PRINT")
        self.at("batched", 5, f"print: batch {batch} (domestic), letter {self.index % 500 + 1}")
        if self.h.now - self.created < timedelta(days=2):
            return LetterStatus.BATCHED  # its batch is not cut yet
        self.at("sent", 6 * 3600, f"print: batch {batch}, at print/{batch}.json")
        posted = self.at("posted", 30 * 3600, f"batch {batch}: posted (receipt {batch}.json)")
        self.row.update(posted_on=posted.date())
        if self.stream.random() < 0.04 and self.h.now - self.created > timedelta(days=10):
            self.at("returned", 9 * 86400, "returned: moved (scale)")
            return LetterStatus.RETURNED
        return LetterStatus.SENT
