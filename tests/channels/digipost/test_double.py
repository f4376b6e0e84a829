"""The local Digipost double speaks the protocol: raw signed HTTP requests against it.

These tests build requests by hand, so they check the double's side of the
protocol independently of our client: signatures, dates, hashes, schema,
duplicate ids, and the error format.
"""

from __future__ import annotations

import http.client
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from lxml import etree

from channels.digipost import signing, xml
from channels.digipost.client import _multipart
from channels.digipost.double import DigipostDouble, DoubleConfig
from channels.digipost.keys import KeyPair
from tests.support.digipost import (
    DIGIPOST_USER,
    SENDER_ID,
    UNIDENTIFIED_PERSON,
    DoubleHarness,
    digipost_keys,
    running_double,
    sender_keys,
    stranger_keys,
)

MESSAGE_TEMPLATE = """<?xml version="1.0" encoding="UTF-8"?>
<message xmlns="http://api.digipost.no/schema/v8">
  <message-id>{message_id}</message-id>
  <recipient><personal-identification-number>{nin}</personal-identification-number></recipient>
  <primary-document>
    {document}
  </primary-document>
</message>"""
GOOD_DOCUMENT = "<uuid>{uuid}</uuid><subject>Inkassovarsel</subject><file-type>pdf</file-type>"
PDF = b"%PDF-1.7\n% a test document\n%%EOF\n"


@pytest.fixture
def double(tmp_path: Path) -> Iterator[DoubleHarness]:
    with running_double(tmp_path / "double") as harness:
        yield harness


def send(
    harness: DoubleHarness,
    method: str,
    path: str,
    body: bytes | None = None,
    content_type: str = xml.MEDIA_TYPE,
    *,
    key: KeyPair | None = None,
    user_id: str = SENDER_ID,
    now: datetime | None = None,
    tamper: dict[str, str] | None = None,
    signed_path: str | None = None,
    sent_body: bytes | None = None,
) -> httpx.Response:
    """A signed request; ``tamper`` changes headers after signing, ``signed_path`` and
    ``sent_body`` sign one thing and send another."""
    headers = signing.request_headers(
        (key or sender_keys()).key,
        user_id,
        method,
        signed_path or path,
        "",
        body,
        now or datetime.now(UTC),
    )
    if body:
        headers["Content-Type"] = content_type
    headers.update(tamper or {})
    with harness.raw() as client:
        return client.request(method, path, content=sent_body or body, headers=headers)


def error_code(response: httpx.Response) -> str:
    return xml.parse_error(response.content).code


def identification(nin: str) -> bytes:
    return xml.identification_xml(nin)


def message(document: str | None = None, nin: str = DIGIPOST_USER) -> tuple[bytes, str, str]:
    document_uuid, message_id = str(uuid.uuid4()), str(uuid.uuid4())
    text = MESSAGE_TEMPLATE.format(
        message_id=message_id,
        nin=nin,
        document=(document or GOOD_DOCUMENT).format(uuid=document_uuid),
    )
    return text.encode(), document_uuid, message_id


def post_message(harness: DoubleHarness, body: bytes, parts: dict[str, bytes]) -> httpx.Response:
    boundary = uuid.uuid4().hex
    names = list(parts)
    multipart = _multipart(boundary, body, names[0], parts[names[0]]) if names else b""
    return send(
        harness,
        "POST",
        "/messages",
        multipart,
        f"{xml.MULTIPART_MEDIA_TYPE}; boundary={boundary}",
    )


def test_entry_point_lists_links_and_the_certificate_and_is_signed(double: DoubleHarness) -> None:
    response = send(double, "GET", "/")
    assert response.status_code == 200
    entry = xml.parse_entrypoint(response.content)
    assert {"CREATE_MESSAGE", "IDENTIFY_RECIPIENT", "DOCUMENT_EVENTS"} <= set(entry.links)
    assert entry.certificate_pem == digipost_keys().certificate_pem().strip()
    canonical = signing.canonical_response(200, "/", response.headers)
    assert signing.verify(
        digipost_keys().certificate.public_key(),  # type: ignore[arg-type]
        canonical,
        response.headers["X-Digipost-Signature"],
    )


def test_a_tampered_body_is_rejected(double: DoubleHarness) -> None:
    good = identification(DIGIPOST_USER)
    # The body changed after signing, hash header left as it was.
    changed = send(double, "POST", "/identification", good, sent_body=identification("15076500565"))
    assert (changed.status_code, error_code(changed)) == (400, "INVALID_SHA256")
    # The body changed and its hash header recomputed: the signature no longer matches.
    other = identification("15076500565")
    forged = send(
        double,
        "POST",
        "/identification",
        good,
        sent_body=other,
        tamper={"X-Content-SHA256": signing.content_sha256(other)},
    )
    assert (forged.status_code, error_code(forged)) == (403, "GENERAL_ERROR")
    message_text = xml.parse_error(forged.content).message
    assert "===START===POST\n/identification\n" in message_text
    assert "===SLUTT===" in message_text


def test_a_tampered_date_is_rejected(double: DoubleHarness) -> None:
    later = signing.http_date(datetime.now(UTC) + timedelta(seconds=30))
    response = send(
        double, "POST", "/identification", identification(DIGIPOST_USER), tamper={"Date": later}
    )
    assert (response.status_code, error_code(response)) == (403, "GENERAL_ERROR")


def test_a_tampered_path_is_rejected(double: DoubleHarness) -> None:
    response = send(double, "GET", "/events?from=x", signed_path="/")
    assert (response.status_code, error_code(response)) == (403, "GENERAL_ERROR")


def test_a_date_more_than_five_minutes_off_is_rejected(double: DoubleHarness) -> None:
    old = datetime.now(UTC) - timedelta(minutes=6)
    response = send(double, "GET", "/", now=old)
    assert (response.status_code, error_code(response)) == (
        400,
        "DATE_HEADER_OUTSIDE_ACCEPTED_INTERVAL",
    )


def test_unknown_senders_and_unknown_keys_are_rejected(double: DoubleHarness) -> None:
    unknown = send(double, "GET", "/", user_id="999")
    assert (unknown.status_code, error_code(unknown)) == (403, "UNKNOWN_USER_ID")
    wrong_key = send(double, "GET", "/", key=stranger_keys())
    assert (wrong_key.status_code, error_code(wrong_key)) == (403, "GENERAL_ERROR")


def test_missing_headers_are_named(double: DoubleHarness) -> None:
    body = identification(DIGIPOST_USER)
    with double.raw() as client:
        no_user = client.post("/identification", content=body)
        assert error_code(no_user) == "INVALID_USER_ID_HEADER"
        no_date = client.post(
            "/identification", content=body, headers={"X-Digipost-UserId": SENDER_ID}
        )
        assert error_code(no_date) == "MISSING_DATE_HEADER"
    no_hash = send(double, "POST", "/identification", body, tamper={"X-Content-SHA256": ""})
    assert error_code(no_hash) == "MISSING_SHA256"


@pytest.mark.parametrize(
    ("nin", "result"),
    [
        (DIGIPOST_USER, "DIGIPOST"),
        ("15076500565", "IDENTIFIED"),
        (UNIDENTIFIED_PERSON, "UNIDENTIFIED"),
        ("12038510183", "INVALID"),
        ("123", "INVALID"),
    ],
)
def test_identify_answers_from_the_registry(double: DoubleHarness, nin: str, result: str) -> None:
    response = send(double, "POST", "/identification", identification(nin))
    assert response.status_code == 200
    assert xml.parse_identification_result(response.content).result == result


def test_a_valid_message_is_delivered_with_the_content_hash(double: DoubleHarness) -> None:
    body, document_uuid, message_id = message()
    response = post_message(double, body, {document_uuid: PDF})
    assert response.status_code == 200, response.text
    delivery = xml.parse_message_delivery(response.content)
    assert (delivery.message_id, delivery.status, delivery.delivery_method) == (
        message_id,
        "DELIVERED",
        "DIGIPOST",
    )
    root = etree.fromstring(response.content)
    content_hash = root.find(f"{xml.q('primary-document')}/{xml.q('content-hash')}")
    assert content_hash is not None and content_hash.text == signing.content_sha256(PDF)
    assert double.double.store.pdf(document_uuid) == PDF


@pytest.mark.parametrize(
    ("document", "problem"),
    [
        (
            "<uuid>{uuid}</uuid><file-type>pdf</file-type><subject>S</subject>",
            "element <subject> is not allowed here (wrong order",
        ),
        ("<uuid>{uuid}</uuid><subject>S</subject>", "required element <file-type> is missing"),
        (
            "<uuid>{uuid}</uuid><file-type>pdf</file-type><sensitivity-level>SECRET"
            "</sensitivity-level>",
            "sensitivity-level: must be one of NORMAL, SENSITIVE",
        ),
        (
            "<uuid>{uuid}</uuid><file-type>pdf</file-type><sensitivity-level>SENSITIVE"
            "</sensitivity-level><authentication-level>PASSWORD</authentication-level>",
            "<authentication-level> is not allowed here",
        ),
        (
            "<uuid>{uuid}</uuid><file-type>pdf</file-type><data-type><inkasso "
            'xmlns="http://api.digipost.no/schema/datatypes"><sum>1</sum></inkasso></data-type>',
            "inkasso: required element <due-date> is missing",
        ),
        (
            "<uuid>{uuid}</uuid><file-type>pdf</file-type><data-type><inkasso "
            'xmlns="http://api.digipost.no/schema/datatypes"><due-date>2026-12-07T00:00:00+01:00'
            "</due-date><account>1503.40.00015</account></inkasso></data-type>",
            "account: must be exactly 11 digits",
        ),
    ],
    ids=["order", "required", "enumeration", "order-of-levels", "inkasso-due-date", "account"],
)
def test_a_message_that_breaks_the_schema_is_refused(
    double: DoubleHarness, document: str, problem: str
) -> None:
    body, document_uuid, _ = message(document)
    response = post_message(double, body, {document_uuid: PDF})
    assert (response.status_code, error_code(response)) == (400, "SCHEMA_VALIDATION_ERROR")
    assert problem in xml.parse_error(response.content).message
    assert double.double.mailbox() == []


def test_a_ten_digit_national_id_breaks_the_schema(double: DoubleHarness) -> None:
    body, document_uuid, _ = message(nin="0303911001")
    response = post_message(double, body, {document_uuid: PDF})
    assert error_code(response) == "SCHEMA_VALIDATION_ERROR"
    assert "exactly 11 digits" in xml.parse_error(response.content).message


def test_parts_must_be_named_by_document_uuid(double: DoubleHarness) -> None:
    body, _document_uuid, _ = message()
    response = post_message(double, body, {str(uuid.uuid4()): PDF})
    assert (response.status_code, error_code(response)) == (400, "DOCUMENTS_AND_FILES_MISMATCH")


def test_a_reused_message_id_is_refused(double: DoubleHarness) -> None:
    body, document_uuid, _ = message()
    assert post_message(double, body, {document_uuid: PDF}).status_code == 200
    again = post_message(double, body, {document_uuid: PDF})
    assert (again.status_code, error_code(again)) == (400, "DUPLICATE_MESSAGE")
    assert xml.parse_error(again.content).type == "CLIENT_DATA"
    assert len(double.double.mailbox()) == 1


def test_a_non_user_without_print_details_is_an_unknown_recipient(double: DoubleHarness) -> None:
    body, document_uuid, _ = message(nin=UNIDENTIFIED_PERSON)
    response = post_message(double, body, {document_uuid: PDF})
    assert (response.status_code, error_code(response)) == (404, "UNKNOWN_RECIPIENT")


def test_error_answers_are_signed_too(double: DoubleHarness) -> None:
    response = send(double, "GET", "/", user_id="999")
    assert response.status_code == 403
    canonical = signing.canonical_response(403, "/", response.headers)
    assert response.headers["X-Content-SHA256"] == signing.content_sha256(response.content)
    assert signing.verify(
        digipost_keys().certificate.public_key(),  # type: ignore[arg-type]
        canonical,
        response.headers["X-Digipost-Signature"],
    )


@pytest.mark.parametrize("length", ["abc", "-5", "1e3", "0x10"])
def test_a_bad_content_length_is_an_error_answer_not_a_traceback(
    double: DoubleHarness, length: str
) -> None:
    host, port = double.url.removeprefix("http://").rstrip("/").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=5)
    try:
        conn.putrequest("POST", "/-/faults")
        conn.putheader("Content-Length", length)
        conn.endheaders()
        answer = conn.getresponse()
        assert answer.status == 400
        assert b"Bad Content-Length" in answer.read()
    finally:
        conn.close()


@pytest.mark.parametrize("body", [b"not json", b'[{"kind": "error", "nonsense": 1}]', b"[1]"])
def test_a_bad_control_request_is_an_error_answer(double: DoubleHarness, body: bytes) -> None:
    with double.raw() as client:
        answer = client.post("/-/faults", content=body)
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("bad control request")


def test_random_faults_fail_about_the_share_asked_for(tmp_path: Path) -> None:
    harness_double = DigipostDouble(
        DoubleConfig(
            state_dir=tmp_path / "double",
            keys=digipost_keys(),
            senders={SENDER_ID: sender_keys().certificate},
            fail_rate=0.25,
            seed=3,
        )
    )
    faults = [harness_double.take_fault("/identification") for _ in range(2000)]
    failed = sum(1 for f in faults if f is not None)
    assert 400 < failed < 600
    assert {f.kind for f in faults if f} == {"error", "drop", "late"}
