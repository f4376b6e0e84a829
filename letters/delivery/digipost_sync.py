"""Ask Digipost what became of sent letters and record it in the ledger.

Two sources: the document status of each letter still only ``sent`` (is it
delivered yet?), and the broker's event feed (opened, postmarked, print
failed, …) since the last fetch. Fetching overlaps the previous window a
little, because an event may be stored at Digipost just after its time;
the ledger records each event once however often it is fetched. A letter
Digipost's print fallback could not print (PRINT_FAILED), or that the post
could not deliver and Digipost shredded (SHREDDED), counts as returned mail
(``letters.ledger.delivery_events``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from channels.base import DIGIPOST
from channels.digipost.client import DigipostApi, DigipostRefusedError
from letters.ledger.delivery_events import DeliveryEvent, DeliveryLog
from letters.logs import log_event

log = logging.getLogger("letters.digipost_sync")

CURSOR = "digipost-events"
OVERLAP = timedelta(minutes=5)
# The first fetch looks back this far; later ones start where the last ended.
FIRST_LOOKBACK = timedelta(days=7)
PAGE_SIZE = 100


@dataclass(frozen=True, slots=True)
class SyncReport:
    confirmed: int  # sent letters now known to be delivered
    events: int  # new events recorded
    unmatched: int  # events for documents this ledger does not know
    missing: int  # sent letters Digipost has no document for
    window: tuple[datetime, datetime]


def sync_digipost(api: DigipostApi, deliveries: DeliveryLog, now: datetime) -> SyncReport:
    """Raises TransientError when Digipost cannot be asked; nothing is lost then."""
    confirmed = missing = 0
    for record in deliveries.awaiting_confirmation(DIGIPOST):
        assert record.provider_ref is not None  # noqa: S101 - the query requires it
        try:
            status = api.document_status(record.provider_ref)
        except DigipostRefusedError:
            missing += 1
            continue
        if status.status == "DELIVERED":
            detail = f"digipost: DELIVERED via {status.channel} (document status)"
            confirmed += deliveries.record_confirmed(
                record.letter_id, status.channel, status.delivered, detail
            )
    start = (deliveries.cursor(CURSOR) or now - FIRST_LOOKBACK) - OVERLAP
    recorded = unmatched = offset = 0
    while True:
        page = api.document_events(start, now, offset, PAGE_SIZE)
        for event in page:
            letter_id = deliveries.letter_for(DIGIPOST, event.uuid)
            if letter_id is None:
                unmatched += 1
                continue
            key = f"digipost:{event.uuid}:{event.type}:{event.created.isoformat()}"
            happened = DeliveryEvent(DIGIPOST, event.type, event.created, event.detail)
            if deliveries.record_event(letter_id, key, happened):
                recorded += 1
                log_event(log, "delivery event", letter_id=letter_id, delivery_event=event.type)
        if len(page) < PAGE_SIZE:
            break
        offset += PAGE_SIZE
    deliveries.set_cursor(CURSOR, now)
    return SyncReport(confirmed, recorded, unmatched, missing, (start, now))
