"""The channel shape, the registry, routing and the recording fake."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from channels import build_channels
from channels.base import (
    ChannelUnavailableError,
    DeliveryRefusedError,
    Identification,
    OutgoingLetter,
    ReceiptStatus,
)
from channels.fake import FakeChannel, FakeDirectory
from letters.config import Settings
from letters.delivery.routing import route
from letters.domain.model import Address, Recipient
from letters.errors import ConfigurationError, TransientError

ADDRESS = Address(("Storgata 1",), "0155", "OSLO", "NO")


def recipient(consent: bool, nin: str | None = "15076500565") -> Recipient:
    return Recipient("Kari Nordmann", ADDRESS, nin, consent)


def letter(letter_id: str = "l-1") -> OutgoingLetter:
    return OutgoingLetter(
        letter_id=letter_id,
        case_number="2026-0045127",
        letter_type="purring",
        language="nb",
        letter_date=date(2026, 11, 23),
        deadline=date(2026, 12, 7),
        kid="20260045127",
        amount_due=Decimal("1303.34"),
        account_number="15034000015",
        page_count=1,
        pdf_sha256="00" * 32,
        pdf=b"%PDF-1.7",
        recipient=recipient(True),
    )


class _Unreachable:
    def identify(self, national_identity_number: str) -> Identification:
        raise ChannelUnavailableError("digipost down")


@pytest.mark.parametrize(
    ("consent", "nin", "not_users", "expected"),
    [
        (False, "15076500565", set(), ("print", "no consent to digital delivery")),
        (True, None, set(), ("print", "no national identity number")),
        (True, "15076500565", set(), ("digipost", "consented and has a Digipost mailbox")),
        (True, "15076500565", {"15076500565"}, ("print", "consented, but Digipost has no user")),
    ],
)
def test_routing_rule(
    consent: bool, nin: str | None, not_users: set[str], expected: tuple[str, str]
) -> None:
    decision = route(recipient(consent, nin), FakeDirectory(not_digipost=not_users))
    assert decision.channel == expected[0]
    assert decision.reason.startswith(expected[1])


def test_an_unreachable_directory_never_falls_back_to_print() -> None:
    with pytest.raises(TransientError):
        route(recipient(True), _Unreachable())


def test_the_fake_records_and_is_idempotent_on_letter_id() -> None:
    fake = FakeChannel("digipost")
    first = fake.send(letter())
    again = fake.send(letter())
    assert first.status is ReceiptStatus.DELIVERED and not first.duplicate
    assert again.duplicate
    assert fake.delivered_ids() == ["l-1"]
    assert fake.attempts == [("l-1", "ok"), ("l-1", "ok")]


def test_the_fake_fails_when_told() -> None:
    fake = FakeChannel("print")
    fake.fail_next(ChannelUnavailableError("later"), DeliveryRefusedError("never"))
    with pytest.raises(ChannelUnavailableError):
        fake.send(letter())
    with pytest.raises(DeliveryRefusedError):
        fake.send(letter())
    assert fake.send(letter()).channel == "print"


def test_the_fake_follows_a_plan_on_disk_across_instances(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps({"letters": {"l-2": ["transient", "ok"]}}))
    with pytest.raises(ChannelUnavailableError):
        FakeChannel("print", tmp_path).send(letter("l-2"))
    receipt = FakeChannel("print", tmp_path).send(letter("l-2"))
    assert not receipt.duplicate
    assert FakeChannel("print", tmp_path).send(letter("l-2")).duplicate
    record = json.loads((tmp_path / "print" / "l-2.json").read_text())
    assert record["case_number"] == "2026-0045127"
    assert "Kari" not in (tmp_path / "print" / "l-2.json").read_text()


def test_the_registry_builds_the_configured_backends(tmp_path: Path) -> None:
    channels = build_channels(Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)}))
    assert set(channels.channels) == {"digipost", "print"}
    assert channels.get("print").name == "print"
    with pytest.raises(ConfigurationError, match="did you mean 'fake'"):
        build_channels(Settings.from_env({"LETTERS_CHANNEL_PRINT": "fakee"}))
    with pytest.raises(ConfigurationError, match="no channel configured"):
        channels.get("pigeon")
