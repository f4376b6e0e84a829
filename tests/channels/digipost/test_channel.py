"""Our Digipost client and channel, over HTTP against the local double."""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pikepdf
import pytest
from lxml import etree
from prometheus_client import REGISTRY

from channels.base import (
    ChannelUnavailableError,
    NotAMailboxError,
    OutgoingLetter,
    ReceiptStatus,
)
from channels.digipost.channel import delivery_ids
from channels.digipost.client import DigipostConfigurationError, DigipostRefusedError
from channels.digipost.connect import open_api
from channels.digipost.double import Fault
from channels.digipost.keys import TEST_KEY_PASSWORD, write_pkcs12
from channels.digipost.xml import DATATYPES_NS, q
from channels.printability import UnprintablePdfError
from letters.config import PROJECT_ROOT, Settings
from letters.delivery.routing import route
from letters.domain.model import Address, Recipient
from letters.errors import ConfigurationError, PermanentError, TransientError
from letters.rendering.letter_service import LetterService
from tests.support.digipost import (
    DIGIPOST_USER,
    IDENTIFIED_PERSON,
    INVALID_PERSON,
    UNIDENTIFIED_PERSON,
    DoubleHarness,
    running_double,
    sender_keys,
    stranger_keys,
)
from tests.support.rendering import TEST_TODAY

OFFICIAL_SCHEMAS = PROJECT_ROOT.parent / "shared" / "reference" / "digipost"


@pytest.fixture
def double(tmp_path: Path) -> Iterator[DoubleHarness]:
    with running_double(tmp_path / "double") as harness:
        yield harness


@pytest.fixture(scope="module")
def letter_pdf() -> bytes:
    service = LetterService(Settings.from_env({}))
    raw = (PROJECT_ROOT / "samples" / "inkassovarsel-nb-plain.json").read_bytes()
    return service.render_request(raw, TEST_TODAY).pdf


def recipient(nin: str | None = DIGIPOST_USER, consent: bool = True) -> Recipient:
    address = Address(lines=("Storgata 1",), postal_code="0155", city="OSLO", country_code="NO")
    return Recipient("Kari Nordmann", address, nin, consent)


def outgoing(pdf: bytes, nin: str = DIGIPOST_USER, **changes: object) -> OutgoingLetter:
    values: dict[str, object] = {
        "letter_id": str(uuid.uuid4()),
        "case_number": "2026-0045127",
        "letter_type": "inkassovarsel",
        "language": "nb",
        "letter_date": date(2026, 11, 23),
        "deadline": date(2026, 12, 7),
        "kid": "20260045127",
        "amount_due": Decimal("1303.34"),
        "account_number": "15034000015",
        "page_count": 1,
        "pdf_sha256": "0" * 64,
        "pdf": pdf,
        "recipient": recipient(nin),
        "portal_url": "https://min.nordlys-inkasso.example",
    }
    values.update(changes)
    return OutgoingLetter(**values)  # type: ignore[arg-type]


def official_schema() -> etree.XMLSchema:
    if not (OFFICIAL_SCHEMAS / "api_v8.xsd").exists():
        pytest.fail(
            f"Digipost's official schemas are expected in {OFFICIAL_SCHEMAS} (the shared "
            "reference folder beside the checkout)",
            pytrace=False,
        )
    wrapper = f"""<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">
      <xs:import namespace="http://api.digipost.no/schema/v8"
                 schemaLocation="{(OFFICIAL_SCHEMAS / "api_v8.xsd").as_uri()}"/>
      <xs:import namespace="http://api.digipost.no/schema/datatypes"
                 schemaLocation="{(OFFICIAL_SCHEMAS / "datatypes.xsd").as_uri()}"/>
    </xs:schema>"""
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


# -- identify and routing ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("nin", "channel", "reason"),
    [
        (DIGIPOST_USER, "digipost", "consented and has a Digipost mailbox"),
        (IDENTIFIED_PERSON, "print", "(IDENTIFIED)"),
        (UNIDENTIFIED_PERSON, "print", "(UNIDENTIFIED)"),
        (INVALID_PERSON, "print", "(INVALID)"),
    ],
)
def test_each_identify_answer_leads_to_its_route(
    double: DoubleHarness, nin: str, channel: str, reason: str
) -> None:
    decision = route(recipient(nin), double.directory())
    assert decision.channel == channel
    assert reason in decision.reason


def test_no_consent_or_no_national_id_never_asks_digipost(double: DoubleHarness) -> None:
    assert route(recipient(consent=False), double.directory()).channel == "print"
    assert route(recipient(nin=None), double.directory()).channel == "print"
    assert double.double.requests == []


@pytest.mark.parametrize(
    "fault",
    [Fault("error", "/identification", status=503), Fault("delay", "/identification", seconds=2)],
    ids=["503", "timeout"],
)
def test_identify_failing_is_transient_never_print(double: DoubleHarness, fault: Fault) -> None:
    double.double.fail_next(fault)
    with pytest.raises(TransientError):
        route(recipient(), double.directory(double.api(timeout_s=0.5)))


def test_the_entry_point_is_fetched_once_and_cached(double: DoubleHarness) -> None:
    directory = double.directory()
    for _ in range(3):
        directory.identify(DIGIPOST_USER)
    paths = [path for _method, path, _status in double.double.requests]
    assert paths.count("/") == 1
    assert paths.count("/identification") == 3


# -- sending ---------------------------------------------------------------------------


def test_send_delivers_a_sensitive_message_with_inkasso_data(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    letter = outgoing(letter_pdf)
    receipt = double.channel().send(letter)
    message_id, document_uuid = delivery_ids(letter.letter_id)
    assert receipt.status is ReceiptStatus.DELIVERED
    assert receipt.delivery_method == "DIGIPOST"
    assert isinstance(receipt.delivered_at, datetime)
    assert receipt.provider_ref == document_uuid and not receipt.duplicate
    [stored] = double.double.mailbox()
    assert (stored.uuid, stored.message_id, stored.channel) == (
        document_uuid,
        message_id,
        "DIGIPOST",
    )
    assert double.double.store.pdf(document_uuid) == letter_pdf

    sent = etree.fromstring(double.double.store.message_xml(document_uuid))
    schema = official_schema()
    assert schema.validate(sent), schema.error_log
    document = sent.find(q("primary-document"))
    assert document is not None
    assert document.findtext(q("sensitivity-level")) == "SENSITIVE"
    assert document.findtext(q("authentication-level")) == "TWO_FACTOR"
    assert document.findtext(q("subject")) == "Inkassovarsel, sak 2026-0045127"
    inkasso = document.find(f"{q('data-type')}/{q('inkasso', DATATYPES_NS)}")
    assert inkasso is not None
    fields = {etree.QName(e).localname: e.text for e in inkasso if e.text}
    assert fields == {
        "due-date": "2026-12-07T00:00:00+01:00",
        "sum": "1303.34",
        "account": "15034000015",
        "kid": "20260045127",
    }
    assert inkasso.findtext(f"{q('link', DATATYPES_NS)}/{q('url', DATATYPES_NS)}") == (
        "https://min.nordlys-inkasso.example"
    )


def test_english_letters_get_english_subjects(double: DoubleHarness, letter_pdf: bytes) -> None:
    letter = outgoing(letter_pdf, letter_type="purring", language="en")
    double.channel().send(letter)
    _, document_uuid = delivery_ids(letter.letter_id)
    sent = etree.fromstring(double.double.store.message_xml(document_uuid))
    assert sent.findtext(f"{q('primary-document')}/{q('subject')}") == (
        "Payment reminder, case 2026-0045127"
    )


def test_the_same_letter_again_is_a_duplicate_success(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    letter = outgoing(letter_pdf)
    first = double.channel().send(letter)
    again = double.channel(double.api()).send(letter)
    assert again.duplicate and again.status is ReceiptStatus.DELIVERED
    assert again.provider_ref == first.provider_ref
    assert len(double.double.mailbox()) == 1
    statuses = [status for _m, path, status in double.double.requests if path == "/messages"]
    assert statuses == [200, 400]


def test_a_lost_answer_is_retried_with_the_same_ids_and_delivered_once(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    letter = outgoing(letter_pdf)
    channel = double.channel()
    double.double.fail_next(Fault("drop", "/messages"))
    with pytest.raises(ChannelUnavailableError):
        channel.send(letter)
    assert len(double.double.mailbox()) == 1  # Digipost has it; we did not hear back
    receipt = channel.send(letter)
    assert receipt.duplicate and receipt.status is ReceiptStatus.DELIVERED
    assert len(double.double.mailbox()) == 1


@pytest.mark.parametrize(
    ("fault", "answered"),
    [
        (Fault("error", "/messages", status=500), "500"),
        (Fault("error", "/messages", status=503, code="API_UNAVAILABLE"), "503"),
        (
            Fault("error", "/messages", status=429, code="TOO_MANY_REQUESTS", error_type="NONE"),
            "429",
        ),
        (Fault("delay", "/messages", seconds=2), "error"),
    ],
    ids=["500", "503", "429", "timeout"],
)
def test_server_trouble_is_transient_and_a_retry_delivers(
    double: DoubleHarness, letter_pdf: bytes, fault: Fault, answered: str
) -> None:
    letter = outgoing(letter_pdf)
    channel = double.channel(double.api(timeout_s=0.5))
    channel.api.entry_point()  # so that the fault hits the send
    double.double.fail_next(fault)
    before = _responses(answered), _responses("200")
    with pytest.raises(ChannelUnavailableError):
        channel.send(letter)
    assert channel.send(letter).status is ReceiptStatus.DELIVERED
    assert len(double.double.mailbox()) == 1
    # letters_digipost_responses_total counts the failed answer and the good one.
    assert _responses(answered) == before[0] + 1
    assert _responses("200") >= before[1] + 1


def _responses(status: str) -> float:
    value = REGISTRY.get_sample_value("letters_digipost_responses_total", {"status": status})
    return value or 0.0


def test_a_bad_answer_signature_is_never_a_delivery(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    letter = outgoing(letter_pdf)
    channel = double.channel()
    channel.api.entry_point()
    double.double.fail_next(Fault("bad-signature", "/messages"))
    with pytest.raises(ChannelUnavailableError, match="SERVER_SIGNATURE_ERROR"):
        channel.send(letter)
    # Digipost did take it; the retry finds it there, with a trustworthy answer.
    receipt = channel.send(letter)
    assert receipt.duplicate and receipt.status is ReceiptStatus.DELIVERED


def test_client_data_errors_are_permanent_with_digipost_code(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    channel = double.channel()
    channel.api.entry_point()
    double.double.fail_next(
        Fault(
            "error",
            "/messages",
            status=400,
            code="INVALID_MONETARY_AMOUNT",
            error_type="CLIENT_DATA",
        )
    )
    with pytest.raises(DigipostRefusedError) as caught:
        channel.send(outgoing(letter_pdf))
    assert isinstance(caught.value, PermanentError)
    assert "INVALID_MONETARY_AMOUNT" in str(caught.value)


def test_a_refusal_never_repeats_a_national_id() -> None:
    error = DigipostRefusedError("UNKNOWN_RECIPIENT", f"No account for {DIGIPOST_USER}.", 404)
    assert DIGIPOST_USER not in str(error)
    assert "No account for [national id]." in str(error)


def test_configuration_errors_stop_loudly(double: DoubleHarness, letter_pdf: bytes) -> None:
    channel = double.channel()
    channel.api.entry_point()
    double.double.fail_next(
        Fault(
            "error",
            "/messages",
            status=403,
            code="ORGANISATION_LETTERS_PER_MONTH_EXCEEDED",
            error_type="CONFIGURATION",
        )
    )
    with pytest.raises(ConfigurationError, match="ORGANISATION_LETTERS_PER_MONTH_EXCEEDED"):
        channel.send(outgoing(letter_pdf))


def test_a_key_digipost_does_not_know_is_a_configuration_error(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    with pytest.raises(DigipostConfigurationError):
        double.channel(double.api(key=stranger_keys())).send(outgoing(letter_pdf))


def test_a_recipient_without_a_mailbox_at_send_time_is_not_a_mailbox(
    double: DoubleHarness, letter_pdf: bytes
) -> None:
    with pytest.raises(NotAMailboxError, match="UNKNOWN_RECIPIENT"):
        double.channel().send(outgoing(letter_pdf, nin=UNIDENTIFIED_PERSON))


def test_an_unprintable_pdf_is_refused_before_sending(double: DoubleHarness) -> None:
    pdf = pikepdf.new()
    pdf.add_blank_page(page_size=(612, 792))  # US Letter
    out = io.BytesIO()
    pdf.save(out)
    with pytest.raises(UnprintablePdfError, match="not A4 portrait"):
        double.channel().send(outgoing(out.getvalue()))
    assert double.double.requests == []


# -- keys from settings ----------------------------------------------------------------


def settings_for(double: DoubleHarness, tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env(
        {"LETTERS_VAR_DIR": str(tmp_path / "var"), "LETTERS_DIGIPOST_URL": double.url, **env}
    )


def test_a_missing_key_file_names_the_setting(double: DoubleHarness, tmp_path: Path) -> None:
    settings = settings_for(double, tmp_path, LETTERS_DIGIPOST_KEY=str(tmp_path / "nope.p12"))
    with pytest.raises(ConfigurationError, match="LETTERS_DIGIPOST_KEY: cannot read"):
        open_api(settings.digipost)


def test_a_wrong_password_names_the_setting_but_not_the_password(
    double: DoubleHarness, tmp_path: Path
) -> None:
    key_file = tmp_path / "sender.p12"
    write_pkcs12(sender_keys(), key_file, "the-right-one")
    settings = settings_for(
        double,
        tmp_path,
        LETTERS_DIGIPOST_KEY=str(key_file),
        LETTERS_DIGIPOST_KEY_PASSWORD="a-wrong-secret",  # noqa: S106 - the test's point
    )
    with pytest.raises(ConfigurationError) as caught:
        open_api(settings.digipost)
    assert "LETTERS_DIGIPOST_KEY_PASSWORD" in str(caught.value)
    assert "a-wrong-secret" not in str(caught.value)
    assert "a-wrong-secret" not in repr(settings)


def test_a_pkcs12_key_with_its_password_signs_requests(
    double: DoubleHarness, tmp_path: Path
) -> None:
    key_file = tmp_path / "sender.p12"
    write_pkcs12(sender_keys(), key_file, TEST_KEY_PASSWORD + "-other")
    settings = settings_for(
        double,
        tmp_path,
        LETTERS_DIGIPOST_KEY=str(key_file),
        LETTERS_DIGIPOST_KEY_PASSWORD=TEST_KEY_PASSWORD + "-other",
        LETTERS_DIGIPOST_SENDER_ID="1000001",
    )
    api = open_api(settings.digipost)
    # No pinned certificate: Digipost's comes from the entry point.
    assert api.config.digipost_certificate is None
    assert api.identify(DIGIPOST_USER).result == "DIGIPOST"


def test_a_remote_digipost_requires_a_real_key(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"LETTERS_VAR_DIR": str(tmp_path), "LETTERS_DIGIPOST_URL": "https://api.digipost.no/"}
    )
    with pytest.raises(ConfigurationError, match="LETTERS_DIGIPOST_KEY: the enterprise key"):
        open_api(settings.digipost)
