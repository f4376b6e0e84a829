"""The local double's check of a message against the v8 schema's structure.

Digipost validates each message against ``api_v8.xsd`` and answers
``SCHEMA_VALIDATION_ERROR``. The double checks the part of the schema that a
sender of PDF letters can touch: which elements, in which order, how many,
and the simple types that matter (uuid, national id, enumerations, lengths,
the ``inkasso`` data type). Elements of the schema that this service never
sends are accepted by name and not looked into.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from lxml import etree

from channels.digipost.xml import DATATYPES_NS, NS, q

UNBOUNDED = 10**6
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")

TextCheck = Callable[[str], str | None]  # a problem, or None


class SchemaViolation(ValueError):
    """Where and how the message breaks the schema (the double's error message)."""


@dataclass(frozen=True, slots=True)
class El:
    name: str
    min: int = 1
    max: int = 1
    # Children, for a complex element; a text check for a simple one; neither: anything.
    children: Sequence[El | Choice] | None = None
    text: TextCheck | None = None
    ns: str = NS


@dataclass(frozen=True, slots=True)
class Choice:
    options: Sequence[El]
    min: int = 1
    max: int = 1


def _max_length(limit: int) -> TextCheck:
    return lambda v: f"is longer than {limit} characters" if len(v) > limit else None


def _exact_digits(count: int) -> TextCheck:
    def check(value: str) -> str | None:
        ok = len(value) == count and value.isascii() and value.isdigit()
        return None if ok else f"must be exactly {count} digits"

    return check


def _one_of(*values: str) -> TextCheck:
    return lambda v: None if v in values else f"must be one of {', '.join(values)}"


def _uuid(value: str) -> str | None:
    return None if _UUID.match(value) else "must be a lower-case UUID"


def _not_blank(value: str) -> str | None:
    return "must not be blank" if not value.strip() else None


def _decimal(value: str) -> str | None:
    try:
        Decimal(value)
    except InvalidOperation:
        return "must be a decimal number"
    return None


def _long(value: str) -> str | None:
    return (
        None
        if value.isascii() and value.isdigit() and len(value) <= 18
        else "must be a whole number"
    )


def _web_url(value: str) -> str | None:
    return None if value.startswith(("https://", "http://")) else "must be an http(s) URL"


def _dt(name: str, text: TextCheck | None = None, min: int = 1) -> El:
    return El(name, min=min, text=text, ns=DATATYPES_NS)


_EXTERNAL_LINK: list[El | Choice] = [
    _dt("url", _web_url),
    _dt("deadline", min=0),
    _dt("description", _max_length(300), min=0),
    _dt("button-text", _max_length(30), min=0),
]
INKASSO = El(
    "inkasso",
    ns=DATATYPES_NS,
    children=[
        El("link", min=0, children=_EXTERNAL_LINK, ns=DATATYPES_NS),
        _dt("due-date", _not_blank),
        _dt("sum", _decimal, min=0),
        _dt("account", _exact_digits(11), min=0),
        _dt("kid", _max_length(25), min=0),
    ],
)

DOCUMENT: list[El | Choice] = [
    El("uuid", min=0, text=_uuid),
    El("subject", min=0, text=_max_length(255)),
    El("file-type", text=_not_blank),
    Choice([El("opening-receipt"), El("opened")], min=0),
    El("sms-notification", min=0),
    El("email-notification", min=0),
    El(
        "authentication-level",
        min=0,
        text=_one_of("PASSWORD", "TWO_FACTOR", "IDPORTEN_3", "IDPORTEN_4"),
    ),
    El("sensitivity-level", min=0, text=_one_of("NORMAL", "SENSITIVE")),
    El("encrypted", min=0),
    El("content-hash", min=0),
    El("link", min=0, max=UNBOUNDED),
    El("data-type", min=0, children=[Choice([INKASSO])]),
]

RECIPIENT: list[El | Choice] = [
    Choice(
        [
            El("personal-identification-number", text=_exact_digits(11)),
            El("organisation-number", text=_exact_digits(9)),
            El("digipost-address"),
            El("email-details"),
            El("peppol-addresses"),
            El("name-and-address"),
            El("bank-account-number", text=_exact_digits(11)),
        ]
    ),
    El("print-details", min=0),
]

MESSAGE = El(
    "message",
    children=[
        El("message-id", min=0, text=_not_blank),
        Choice([El("sender-id", text=_long), El("sender-organization")], min=0),
        El("recipient", children=RECIPIENT),
        El("delivery-time", min=0),
        El("invoice-reference", min=0, text=_max_length(100)),
        El("primary-document", children=DOCUMENT),
        El("attachment", min=0, max=201, children=DOCUMENT),
        El("print-if-unread", min=0),
        El("request-for-registration", min=0),
        El("batch", min=0),
    ],
)


def validate_message(root: etree._Element) -> None:
    """Raise SchemaViolation at the first element that breaks the schema."""
    if root.tag != q(MESSAGE.name):
        raise SchemaViolation(f"the root element must be <message> in {NS}")
    _validate(root, MESSAGE, "message")


def _validate(element: etree._Element, spec: El, path: str) -> None:
    if spec.text is not None:
        problem = spec.text((element.text or "").strip())
        if problem:
            raise SchemaViolation(f"{path}: {problem}")
    if spec.children is None:
        return
    children = [child for child in element if isinstance(child.tag, str)]
    position = 0
    for particle in spec.children:
        position = _match(particle, children, position, path)
    if position < len(children):
        unexpected = etree.QName(children[position]).localname
        raise SchemaViolation(
            f"{path}: element <{unexpected}> is not allowed here (wrong order, repeated, "
            "or unknown)"
        )


def _match(particle: El | Choice, children: list[etree._Element], start: int, path: str) -> int:
    position, count = start, 0
    options = particle.options if isinstance(particle, Choice) else [particle]
    while count < particle.max and position < len(children):
        child = children[position]
        chosen = next((o for o in options if child.tag == q(o.name, o.ns)), None)
        if chosen is None:
            break
        _validate(child, chosen, f"{path}/{chosen.name}")
        position, count = position + 1, count + 1
    if count < particle.min:
        names = " or ".join(f"<{o.name}>" for o in options)
        raise SchemaViolation(f"{path}: required element {names} is missing")
    return position
