"""The shape every channel shares: ``send(letter) -> Receipt``, plus the recipient directory.

A channel must be idempotent on ``letter_id``: the worker may send a letter
again after a crash between sending and recording the receipt, and the
second send must not reach the debtor twice (Digipost: the same message id;
print: the letter already in a batch; the fake: its outbox).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from letters.domain.model import Recipient
from letters.errors import ConfigurationError, PermanentError, TransientError

# The two routes a letter can take; which backend serves each is configuration.
DIGIPOST, PRINT = "digipost", "print"


class ChannelUnavailableError(TransientError):
    """The channel could not be reached or answered with a temporary failure."""


class DeliveryRefusedError(PermanentError):
    """The channel refused this letter; sending it again will not help."""


@dataclass(frozen=True, slots=True)
class OutgoingLetter:
    """A rendered, archived letter on its way out."""

    letter_id: str
    case_number: str
    letter_type: str
    language: str
    letter_date: date
    deadline: date
    kid: str
    amount_due: Decimal
    account_number: str
    page_count: int
    pdf_sha256: str
    pdf: bytes = field(repr=False)
    recipient: Recipient = field(repr=False)
    # The debtor portal, for channels that can link to it (Digipost's inkasso data).
    portal_url: str = ""


class ReceiptStatus(StrEnum):
    BATCHED = "batched"  # waiting in a print batch; handed over when the batch is cut
    SENT = "sent"  # handed over; delivery not yet confirmed
    DELIVERED = "delivered"  # the channel confirmed delivery


@dataclass(frozen=True, slots=True)
class Receipt:
    channel: str
    letter_id: str
    status: ReceiptStatus
    provider_ref: str | None = None
    detail: str = ""
    # True when the channel already had this letter (a resend after a crash).
    duplicate: bool = False
    # How and when the provider says it delivered (Digipost: DIGIPOST or PRINT).
    delivery_method: str | None = None
    delivered_at: datetime | None = None


class NotAMailboxError(DeliveryRefusedError):
    """The digital channel says the person has no mailbox after all: print instead."""


class Channel(Protocol):
    name: str

    def sending_day(self, now: datetime) -> date:
        """The day (in Norway) a letter handed to this channel at ``now`` leaves: every
        deadline in it counts from that day."""
        ...

    def send(self, letter: OutgoingLetter) -> Receipt:
        """Deliver ``letter`` once, however often it is called for the same letter id.

        Raises:
            ChannelUnavailableError (or another TransientError): try again later.
            DeliveryRefusedError (or another PermanentError): do not try again.
            ConfigurationError: the channel is set up wrongly; stop the worker.
        """
        ...


class Identification(StrEnum):
    """Digipost's answers to "does this person have a mailbox?"."""

    DIGIPOST = "DIGIPOST"  # has a Digipost mailbox
    IDENTIFIED = "IDENTIFIED"  # a known person without a mailbox
    UNIDENTIFIED = "UNIDENTIFIED"  # no Digipost user with this number
    INVALID = "INVALID"  # Digipost does not accept the number


class RecipientDirectory(Protocol):
    def identify(self, national_identity_number: str) -> Identification:
        """Whether the person has a digital mailbox; TransientError when unsure."""
        ...


@dataclass(frozen=True, slots=True)
class ChannelSet:
    channels: Mapping[str, Channel]
    directory: RecipientDirectory

    def get(self, route: str) -> Channel:
        try:
            return self.channels[route]
        except KeyError:
            raise ConfigurationError(f"no channel configured for route {route!r}") from None
