"""Realistic sample data for the template previews, covering the edge cases legal must see.

Every scenario starts from the sample request of its letter type and
language (``samples/``) and changes one thing: long names and addresses, a
foreign address, claims enough to run over two pages, no interest or costs,
large amounts. The letter date and the password are fixed, so a preview only
changes when the template does.
"""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from letters.config import PROJECT_ROOT
from letters.domain.letter_types import Language, LetterType
from letters.domain.otp import OneTimePassword, generate

SAMPLES_DIR = PROJECT_ROOT / "samples"
PREVIEW_DATE = date(2026, 11, 23)

Request = dict[str, Any]


def _plain(request: Request) -> Request:
    return request


def _long_names(request: Request) -> Request:
    # As long as the contract allows, with the letters Norwegian names bring.
    request["recipient"]["name"] = "Bjørnstjerne Æsøy-Ødegård Løvåsen"
    request["recipient"]["address"] = {
        "lines": ["c/o Åse Kjærstad-Blåfjell", "Øvre Ærfuglveien 123 B, leil. H0304"],
        "postal_code": "9990",
        "city": "BÅTSFJORD",
        "country_code": "NO",
    }
    request["case"]["creditor"]["name"] = "Sør-Trøndelag Kraft- og Energiselskap Øst AS"
    return request


def _foreign_address(request: Request) -> Request:
    request["recipient"]["address"] = {
        "lines": ["Drottninggatan 45"],
        "postal_code": "111 21",
        "city": "STOCKHOLM",
        "country_code": "SE",
    }
    request["recipient"]["digital_consent"] = False
    return request


def _many_claims(request: Request) -> Request:
    first = request["case"]["claims"][0]
    request["case"]["claims"] = [
        {
            **first,
            "description": f"{first['description']} ({number + 1} av 24)",
            "invoice_number": str(int(first["invoice_number"]) + number),
            "principal": str(Decimal(first["principal"]) + number * 13),
        }
        for number in range(24)
    ]
    return request


def _no_interest(request: Request) -> Request:
    request["case"].pop("interest", None)
    request["case"]["costs"] = []
    return request


def _large_amounts(request: Request) -> Request:
    for claim in request["case"]["claims"]:
        claim["principal"] = "1234567.89"
    request["case"]["payments"] = [{"paid_on": "2026-11-02", "amount": "100000.00"}]
    return request


SCENARIOS: dict[str, Callable[[Request], Request]] = {
    "plain": _plain,
    "long_names": _long_names,
    "foreign_address": _foreign_address,
    "many_claims": _many_claims,
    "no_interest": _no_interest,
    "large_amounts": _large_amounts,
}


def scenario_request(
    letter_type: LetterType, language: Language, scenario: str, samples: Path = SAMPLES_DIR
) -> Request:
    path = samples / f"{letter_type.value}-{language.value}-plain.json"
    request: Request = copy.deepcopy(json.loads(path.read_bytes()))
    request["letter_id"] = f"00000000-0000-4000-8000-{list(SCENARIOS).index(scenario) + 1:012d}"
    request["letter_date"] = PREVIEW_DATE.isoformat()
    return SCENARIOS[scenario](request)


def preview_password(scenario: str) -> OneTimePassword:
    """The same password for a scenario every time, so previews compare page by page."""
    draw = random.Random(f"preview/{scenario}")  # noqa: S311 - not a real password
    return generate(draw.randrange)
