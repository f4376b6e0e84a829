"""A local Digipost double for tests, with keys made once per test session."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from channels.digipost.channel import DigipostChannel, DigipostDirectory, SendOptions
from channels.digipost.client import ApiConfig, DigipostApi
from channels.digipost.connect import close_apis
from channels.digipost.double import DigipostDouble, DoubleConfig
from channels.digipost.keys import KeyPair, generate_pair, write_pem

SENDER_ID = "1000001"
# Valid Norwegian national identity numbers, one for each identify answer.
DIGIPOST_USER = "03039110015"  # the sample debtors' number
IDENTIFIED_PERSON = "15076500565"
UNIDENTIFIED_PERSON = "01019010046"
INVALID_PERSON = "12038510183"
RECIPIENTS: dict[str, tuple[str, str | None]] = {
    DIGIPOST_USER: ("DIGIPOST", None),
    IDENTIFIED_PERSON: ("IDENTIFIED", "alias-15076500565"),
    INVALID_PERSON: ("INVALID", "INVALID_PERSONAL_IDENTIFICATION_NUMBER"),
}


@functools.cache
def sender_keys() -> KeyPair:
    return generate_pair("test sender")


@functools.cache
def digipost_keys() -> KeyPair:
    return generate_pair("test Digipost")


@functools.cache
def stranger_keys() -> KeyPair:
    return generate_pair("someone Digipost does not know")


@dataclass
class DoubleHarness:
    double: DigipostDouble
    url: str
    apis: list[DigipostApi] = field(default_factory=list)

    def api(self, key: KeyPair | None = None, timeout_s: float = 5.0) -> DigipostApi:
        api = DigipostApi(
            ApiConfig(
                base_url=self.url,
                sender_id=SENDER_ID,
                key=(key or sender_keys()).key,
                digipost_certificate=digipost_keys().certificate,
                connect_timeout_s=timeout_s,
                timeout_s=timeout_s,
            )
        )
        self.apis.append(api)
        return api

    def channel(self, api: DigipostApi | None = None) -> DigipostChannel:
        return DigipostChannel(api or self.api(), SendOptions())

    def directory(self, api: DigipostApi | None = None) -> DigipostDirectory:
        return DigipostDirectory(api or self.api())

    def raw(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=5.0)

    def write_keys(self, folder: Path) -> dict[str, str]:
        """The settings that let a worker process use these keys against this double."""
        write_pem(sender_keys(), folder / "sender.pem", folder / "sender-cert.pem")
        write_pem(digipost_keys(), folder / "digipost.pem", folder / "digipost-cert.pem")
        return {
            "LETTERS_DIGIPOST_URL": self.url,
            "LETTERS_DIGIPOST_SENDER_ID": SENDER_ID,
            "LETTERS_DIGIPOST_KEY": str(folder / "sender.pem"),
            "LETTERS_DIGIPOST_CERTIFICATE": str(folder / "digipost-cert.pem"),
        }


@contextmanager
def running_double(state_dir: Path) -> Iterator[DoubleHarness]:
    double = DigipostDouble(
        DoubleConfig(
            state_dir=state_dir,
            keys=digipost_keys(),
            senders={SENDER_ID: sender_keys().certificate},
            recipients=dict(RECIPIENTS),
        )
    )
    harness = DoubleHarness(double, double.start())
    try:
        yield harness
    finally:
        for api in harness.apis:
            api.close()
        close_apis()
        double.stop()
