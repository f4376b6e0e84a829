"""Digipost: the debtor's digital mailbox, through Digipost's sender API v8.

``DigipostChannel.send`` posts one multipart message per letter. Its message
id and document uuid are derived from the letter id, so a retry sends the
same ids: Digipost refuses the second copy, and the channel then confirms
through the document status that the first one arrived. The message is
``SENSITIVE`` (the letter carries a one-time password) and carries the
``inkasso`` data type, so the debtor can pay from the mailbox.

``DigipostDirectory.identify`` asks whether a national identity number has a
mailbox. Both are built from the settings in ``channels.digipost.connect``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time

from channels.base import (
    DeliveryRefusedError,
    Identification,
    OutgoingLetter,
    Receipt,
    ReceiptStatus,
)
from channels.digipost.client import DigipostApi, DigipostDuplicateError
from channels.digipost.xml import InkassoData, MessageSpec, message_xml
from channels.printability import PrintRules, check_printable
from letters.clock import OSLO
from letters.errors import ConfigurationError

NAME = "digipost"
# Fixed forever: message ids derived from letter ids must never change.
_ID_NAMESPACE = uuid.UUID("5b0d51d6-3c1e-4c52-9a57-2f3e0e6f6a01")

SUBJECTS = {
    ("purring", "nb"): "Betalingspåminnelse",
    ("purring", "en"): "Payment reminder",
    ("inkassovarsel", "nb"): "Inkassovarsel",
    ("inkassovarsel", "en"): "Debt collection notice",
    ("betalingsoppfordring", "nb"): "Betalingsoppfordring",
    ("betalingsoppfordring", "en"): "Payment demand",
    ("varsel_rettslig_pagang", "nb"): "Varsel om rettslig pågang",
    ("varsel_rettslig_pagang", "en"): "Notice of legal enforcement",
}
_CASE = {"nb": "sak", "en": "case"}
_PORTAL_LINK = {
    "nb": ("Logg inn med saksnummeret og engangspassordet i brevet.", "Til Min side"),
    "en": ("Log in with the case number and the one-time password in the letter.", "Log in"),
}


def delivery_ids(letter_id: str) -> tuple[str, str]:
    """The Digipost message id and document uuid of a letter (lower-case UUIDs)."""
    message = uuid.uuid5(_ID_NAMESPACE, f"{letter_id}/message")
    document = uuid.uuid5(_ID_NAMESPACE, f"{letter_id}/document")
    return str(message), str(document)


def subject(letter: OutgoingLetter) -> str:
    title = SUBJECTS[(letter.letter_type, letter.language)]
    return f"{title}, {_CASE[letter.language]} {letter.case_number}"


@dataclass(frozen=True, slots=True)
class SendOptions:
    authentication_level: str = "TWO_FACTOR"
    max_pages: int = 20


class DigipostChannel:
    name = NAME

    def __init__(self, api: DigipostApi, options: SendOptions) -> None:
        self.api = api
        self.options = options

    def sending_day(self, now: datetime) -> date:
        return now.astimezone(OSLO).date()

    def send(self, letter: OutgoingLetter) -> Receipt:
        number = letter.recipient.national_identity_number
        if not number:
            raise DeliveryRefusedError("digipost: the letter has no national identity number")
        check_printable(letter.pdf, PrintRules(max_pages=self.options.max_pages))
        message_id, document_uuid = delivery_ids(letter.letter_id)
        spec = MessageSpec(
            message_id=message_id,
            document_uuid=document_uuid,
            national_identity_number=number,
            subject=subject(letter),
            authentication_level=self.options.authentication_level,
            sensitivity_level="SENSITIVE",
            inkasso=_inkasso(letter),
        )
        try:
            delivery = self.api.send_message(message_xml(spec), document_uuid, letter.pdf)
        except DigipostDuplicateError:
            return self._sent_before(letter, document_uuid)
        return _receipt(
            letter,
            document_uuid,
            delivered=delivery.status == "DELIVERED",
            method=delivery.delivery_method,
            at=delivery.delivery_time,
            detail=f"{delivery.status} via {delivery.delivery_method}, message {message_id}",
        )

    def _sent_before(self, letter: OutgoingLetter, document_uuid: str) -> Receipt:
        """Digipost already has this message: a resend after a crash or a lost answer."""
        status = self.api.document_status(document_uuid)
        return _receipt(
            letter,
            document_uuid,
            delivered=status.status == "DELIVERED",
            method=status.channel,
            at=status.delivered,
            detail=f"already at Digipost ({status.status} via {status.channel})",
            duplicate=True,
        )


def _receipt(
    letter: OutgoingLetter,
    document_uuid: str,
    *,
    delivered: bool,
    method: str | None,
    at: datetime | None,
    detail: str,
    duplicate: bool = False,
) -> Receipt:
    return Receipt(
        channel=NAME,
        letter_id=letter.letter_id,
        status=ReceiptStatus.DELIVERED if delivered else ReceiptStatus.SENT,
        provider_ref=document_uuid,
        detail=detail,
        duplicate=duplicate,
        delivery_method=method,
        delivered_at=at,
    )


class DigipostDirectory:
    def __init__(self, api: DigipostApi) -> None:
        self.api = api

    def identify(self, national_identity_number: str) -> Identification:
        answer = self.api.identify(national_identity_number)
        try:
            return Identification(answer.result)
        except ValueError:
            raise ConfigurationError(
                f"Digipost answered identify with an unknown result {answer.result!r}"
            ) from None


def _inkasso(letter: OutgoingLetter) -> InkassoData:
    description, button = _PORTAL_LINK[letter.language]
    portal = letter.portal_url if letter.portal_url.startswith("https://") else None
    return InkassoData(
        due_date=datetime.combine(letter.deadline, time(0), OSLO),
        amount=letter.amount_due,
        account=letter.account_number,
        kid=letter.kid,
        link_url=portal,
        link_description=description if portal else None,
        link_button_text=button if portal else None,
    )
