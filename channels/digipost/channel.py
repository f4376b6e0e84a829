"""Digipost: the debtor's digital mailbox, through Digipost's sender API v8.

``DigipostChannel.send`` posts one multipart message per letter. Its message
id and document uuid are derived from the letter id, so a retry sends the
same ids: Digipost refuses the second copy, and the channel then confirms
through the document status that the first one arrived. The message is
``SENSITIVE`` (the letter carries a one-time password) and carries the
``inkasso`` data type, so the debtor can pay from the mailbox.

``DigipostDirectory.identify`` asks whether a national identity number has a
mailbox. Without ``LETTERS_DIGIPOST_URL`` both talk to a local Digipost
double started in this process, with generated test keys.
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, time
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from cryptography import x509

from channels.base import (
    DeliveryRefusedError,
    Identification,
    OutgoingLetter,
    Receipt,
    ReceiptStatus,
)
from channels.digipost_api import ApiConfig, DigipostApi, DigipostDuplicateError
from channels.digipost_double import DEFAULT_RECIPIENTS, DigipostDouble, DoubleConfig
from channels.digipost_keys import (
    TEST_KEY_PASSWORD,
    certificate_from_pem,
    ensure_test_keys,
    load_certificate,
    load_sender_key,
)
from channels.digipost_xml import InkassoData, MessageSpec, message_xml
from letters.config import DigipostSettings, Settings
from letters.errors import ConfigurationError
from letters.printability import PrintRules, check_printable

NAME = "digipost"
NORWAY = ZoneInfo("Europe/Oslo")
# Fixed forever: message ids derived from letter ids must never change.
_ID_NAMESPACE = uuid.UUID("5b0d51d6-3c1e-4c52-9a57-2f3e0e6f6a01")
_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}

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
        due_date=datetime.combine(letter.deadline, time(0), NORWAY),
        amount=letter.amount_due,
        account=letter.account_number,
        kid=letter.kid,
        link_url=portal,
        link_description=description if portal else None,
        link_button_text=button if portal else None,
    )


# -- building from settings ----------------------------------------------------------------


def build_channel(route: str, settings: Settings) -> DigipostChannel:
    if route != NAME:
        raise ConfigurationError(
            "LETTERS_CHANNEL_PRINT: the digipost backend serves only the digipost route, "
            f"not {route!r}"
        )
    options = SendOptions(
        authentication_level=settings.digipost.authentication_level,
        max_pages=settings.digipost.max_pages,
    )
    return DigipostChannel(open_api(settings.digipost), options)


def build_directory(settings: Settings) -> DigipostDirectory:
    return DigipostDirectory(open_api(settings.digipost))


_apis: dict[DigipostSettings, DigipostApi] = {}
_embedded: dict[str, tuple[DigipostDouble, str]] = {}
_lock = threading.RLock()


def open_api(settings: DigipostSettings) -> DigipostApi:
    """One client per process and setting: its connection pool and entry point are shared."""
    with _lock:
        api = _apis.get(settings)
    if api is None:
        api = _new_api(settings)
        with _lock:
            api = _apis.setdefault(settings, api)
    return api


def close_apis() -> None:
    """Close every client open_api made (tests; a process that stops using Digipost)."""
    with _lock:
        apis = list(_apis.values())
        _apis.clear()
    for api in apis:
        api.close()


def _new_api(settings: DigipostSettings) -> DigipostApi:
    if settings.url is None and settings.key is not None:
        raise ConfigurationError(
            "LETTERS_DIGIPOST_URL: required when LETTERS_DIGIPOST_KEY is set (without a URL, "
            "letters go to a local Digipost double that only knows the generated test key)"
        )
    url = settings.url or start_embedded_double(settings)
    local = urlsplit(url).hostname in _LOCAL_HOSTS
    test_keys = ensure_test_keys(settings.keys_dir) if settings.key is None and local else None
    if settings.key is None and test_keys is None:
        raise ConfigurationError(
            f"LETTERS_DIGIPOST_KEY: the enterprise key is required for {url} "
            "(a generated test key is only used with a local Digipost double)"
        )
    if test_keys is not None:
        key = load_sender_key(test_keys.sender_key, TEST_KEY_PASSWORD)
    else:
        assert settings.key is not None  # noqa: S101 - checked above
        key = load_sender_key(settings.key, settings.key_password)
    if settings.certificate is not None:
        certificate = load_certificate(settings.certificate, "LETTERS_DIGIPOST_CERTIFICATE")
    elif test_keys is not None:
        certificate = test_keys.digipost_pair().certificate
    else:
        certificate = None
    return DigipostApi(
        ApiConfig(
            base_url=url,
            sender_id=settings.sender_id,
            key=key,
            digipost_certificate=certificate,
            connect_timeout_s=settings.connect_timeout,
            timeout_s=settings.timeout,
            pool_size=settings.pool_size,
        )
    )


def local_double(
    settings: DigipostSettings,
    recipients: dict[str, tuple[str, str | None]] | None = None,
    sender_certificate: x509.Certificate | None = None,
) -> DigipostDouble:
    """A Digipost double with the generated test keys and this sender registered."""
    keys = ensure_test_keys(settings.keys_dir)
    sender = sender_certificate or certificate_from_pem(
        keys.sender_certificate.read_text(encoding="ascii")
    )
    return DigipostDouble(
        DoubleConfig(
            state_dir=settings.double_dir,
            keys=keys.digipost_pair(),
            senders={settings.sender_id: sender},
            recipients=dict(DEFAULT_RECIPIENTS if recipients is None else recipients),
        )
    )


def start_embedded_double(settings: DigipostSettings) -> str:
    """Start (once per process and folder) a local double on a free port; its URL."""
    with _lock:
        key = str(settings.double_dir)
        if key not in _embedded:
            double = local_double(settings)
            _embedded[key] = (double, double.start())
        return _embedded[key][1]
