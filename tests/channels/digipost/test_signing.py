"""Digipost request signing against fixed vectors.

The canonical strings follow reference/digipost-api.md §1.2–1.3 (Digipost's
security docs and the official clients). The expected signature was
computed independently with ``openssl dgst -sha256 -sign`` over the same
string with the key in tests/data, so a change in how we build or sign the
string fails here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from channels.digipost import signing

KEY_FILE = Path(__file__).parents[2] / "data" / "digipost-signing-vector-key.pem"
VECTOR_HEADERS = {
    "Date": "Wed, 29 Jun 2011 14:58:11 GMT",
    "X-Digipost-UserId": "9999",
    "X-Content-SHA256": "gvXOB75lBGBY6LVTAVVpapZkBOv531VUE0EHrP2rryE=",
}
VECTOR_CANONICAL = (
    "POST\n"
    "/messages\n"
    "date: Wed, 29 Jun 2011 14:58:11 GMT\n"
    "x-content-sha256: gvXOB75lBGBY6LVTAVVpapZkBOv531VUE0EHrP2rryE=\n"
    "x-digipost-userid: 9999\n"
    "parameter1=58&parameter2=test\n"
)
VECTOR_SIGNATURE = (
    "uza5Bx8upZBpcMSJh+hy4CNI76gpfHKoyyY25+RZN6GDMVzJM1Nf45hpzFKV2TlaNc5klSUkY1FnJQOwtzlZ5ACpwu9"
    "+/H1ZT5GyXrb9fQJDnJJgc6lzYy7JSQRPPZa26nwHG3A+Y1vgS0RBuVnUdGWGm44UpWhKNPbCwaQA4TZFmI9D5JXnvU"
    "l51AdFhAmzEcZOGzE0afFmo9W49KsJnnJb+lxdIqu5Rz1bExd7G2bw3gG/pnggxai6PIZZmdfmMw5/5ou3swz7G6nXO"
    "0qhbzdNeHbiLnYU2vn6z9wvyA4GDTDP7Sdz6YBeML2YXw7lg1BYIHQPBu6bXs0rboRJXA=="
)


def vector_key() -> rsa.RSAPrivateKey:
    key = load_pem_private_key(KEY_FILE.read_bytes(), None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def test_body_hash_matches_the_official_client_vector() -> None:
    # From the .NET client's AuthenticationHandlerTests.
    assert (
        signing.content_sha256(b"This is the content to hash.")
        == "gvXOB75lBGBY6LVTAVVpapZkBOv531VUE0EHrP2rryE="
    )


def test_canonical_post_string() -> None:
    query = "parameter1=58&parameter2=test"
    assert signing.canonical_request("post", "/messages", query, VECTOR_HEADERS) == (
        VECTOR_CANONICAL
    )


def test_canonical_string_lowercases_path_and_query_and_ignores_other_headers() -> None:
    headers = {**VECTOR_HEADERS, "Content-Type": "application/xml", "Accept": "x"}
    text = signing.canonical_request("POST", "/Messages", "Parameter1=58&parameter2=TEST", headers)
    assert text == VECTOR_CANONICAL


def test_a_get_has_no_hash_line_but_always_the_empty_query_line() -> None:
    headers = {"Date": "Wed, 29 Jun 2011 14:58:11 GMT", "X-Digipost-UserId": "9999"}
    assert signing.canonical_request("GET", "/", "", headers) == (
        "GET\n/\ndate: Wed, 29 Jun 2011 14:58:11 GMT\nx-digipost-userid: 9999\n\n"
    )


def test_signature_of_the_vector_is_the_expected_value() -> None:
    assert signing.sign(vector_key(), VECTOR_CANONICAL) == VECTOR_SIGNATURE
    public = vector_key().public_key()
    assert signing.verify(public, VECTOR_CANONICAL, VECTOR_SIGNATURE)
    assert not signing.verify(public, VECTOR_CANONICAL.replace("9999", "9998"), VECTOR_SIGNATURE)
    assert not signing.verify(public, VECTOR_CANONICAL, "not base64!")


def test_request_headers_sign_what_they_carry() -> None:
    moment = datetime(2011, 6, 29, 14, 58, 11, tzinfo=UTC)
    body = b"This is the content to hash."
    headers = signing.request_headers(
        vector_key(), "9999", "POST", "/messages", "parameter1=58&parameter2=test", body, moment
    )
    assert headers["Date"] == "Wed, 29 Jun 2011 14:58:11 GMT"
    assert headers["X-Content-SHA256"] == VECTOR_HEADERS["X-Content-SHA256"]
    assert headers["X-Digipost-Signature"] == VECTOR_SIGNATURE


def test_response_string_has_status_path_and_no_query_line() -> None:
    headers = {"Date": "Mon, 18 Nov 2013 09:06:42 GMT", "X-Content-SHA256": "lTap=", "Server": "x"}
    assert signing.canonical_response(200, "/Messages", headers) == (
        "200\n/messages\ndate: Mon, 18 Nov 2013 09:06:42 GMT\nx-content-sha256: lTap=\n"
    )


def test_clock_skew_limit_is_five_minutes() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert signing.within_skew(signing.http_date(now - timedelta(minutes=4, seconds=59)), now)
    assert not signing.within_skew(signing.http_date(now + timedelta(minutes=5, seconds=1)), now)
    assert not signing.within_skew("yesterday", now)
    assert not signing.within_skew(None, now)
