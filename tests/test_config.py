"""Settings from the environment, each declared once and documented from its declaration."""

from __future__ import annotations

import ast
import re
from collections.abc import Mapping
from datetime import time
from pathlib import Path

import pytest

from letters.config import PROJECT_ROOT as ROOT
from letters.config import SETTINGS, DigipostSettings, Setting, Settings
from letters.config.page import CONFIGURATION_PAGE, page_with_table
from letters.errors import ConfigurationError


def test_embedded_defaults_live_under_the_var_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    assert settings.embedded_broker and settings.broker_url is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'letters.db'}"
    assert settings.archive_url == str(tmp_path / "archive")
    assert settings.broker_dir == tmp_path / "broker"
    assert settings.concurrency == 1 and settings.heartbeat_s == 30
    assert settings.retry_delays_s == (10, 60, 600, 3600)
    assert (settings.digipost_backend, settings.print_backend) == ("digipost", "print_post")
    digipost = settings.digipost
    # No URL: a local Digipost double in the worker, with generated keys under var/.
    assert digipost.url is None and digipost.key is None and digipost.certificate is None
    assert digipost.keys_dir == tmp_path / "digipost"
    assert digipost.double_dir == tmp_path / "digipost-double"
    assert (digipost.connect_timeout_s, digipost.timeout_s, digipost.pool_size) == (10, 30, 10)
    assert digipost.authentication_level == "TWO_FACTOR" and digipost.sync_interval_s == 300


def test_digipost_settings_are_read_and_the_password_is_not_shown() -> None:
    settings = Settings.from_env(
        {
            "LETTERS_DIGIPOST_URL": "https://api.test.digipost.no/",
            "LETTERS_DIGIPOST_SENDER_ID": "123456",
            "LETTERS_DIGIPOST_KEY": "/etc/letters/digipost.p12",
            "LETTERS_DIGIPOST_KEY_PASSWORD": "hemmelig-passord",
            "LETTERS_DIGIPOST_CERTIFICATE": "/etc/letters/digipost.pem",
            "LETTERS_DIGIPOST_TIMEOUT": "2m",
            "LETTERS_DIGIPOST_POOL_SIZE": "50",
            "LETTERS_DIGIPOST_AUTHENTICATION_LEVEL": "password",
            "LETTERS_DIGIPOST_SYNC_INTERVAL": "0",
        }
    ).digipost
    assert digipost_fields(settings) == (
        "https://api.test.digipost.no/",
        "123456",
        Path("/etc/letters/digipost.p12"),
        120.0,
        50,
    )
    assert settings.authentication_level == "PASSWORD" and settings.sync_interval_s == 0
    assert "hemmelig-passord" not in repr(settings)


def digipost_fields(settings: DigipostSettings) -> tuple[object, ...]:
    return (settings.url, settings.sender_id, settings.key, settings.timeout_s, settings.pool_size)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LETTERS_DIGIPOST_SENDER_ID", "nordlys", "LETTERS_DIGIPOST_SENDER_ID: 'nordlys'"),
        ("LETTERS_DIGIPOST_AUTHENTICATION_LEVEL", "IDPORTEN_4", "is not PASSWORD or TWO_FACTOR"),
        ("LETTERS_DIGIPOST_TIMEOUT", "soon", "LETTERS_DIGIPOST_TIMEOUT: 'soon'"),
        ("LETTERS_DIGIPOST_POOL_SIZE", "0", "LETTERS_DIGIPOST_POOL_SIZE: must be"),
    ],
)
def test_bad_digipost_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({name: value})


def test_production_settings_are_read() -> None:
    settings = Settings.from_env(
        {
            "LETTERS_BROKER_URL": "amqp://u:p@mq:5672//",
            "LETTERS_DATABASE_URL": "postgresql+psycopg://db/letters",
            "LETTERS_CONCURRENCY": "4",
            "LETTERS_RETRY_DELAYS": "30s,5m",
            "LETTERS_QUEUE_PREFIX": "staging.",
        }
    )
    assert not settings.embedded_broker
    assert settings.concurrency == 4 and settings.retry_delays_s == (30, 300)
    assert settings.queue_prefix == "staging."


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_number_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_CONCURRENCY"):
        Settings.from_env({"LETTERS_CONCURRENCY": value})


def test_s3_settings_are_read() -> None:
    s3 = Settings.from_env(
        {
            "LETTERS_S3_ENDPOINT_URL": "http://minio:9000",
            "LETTERS_S3_REGION": "eu-west-1",
            "LETTERS_ARCHIVE_SSE": "aws:kms",
            "LETTERS_ARCHIVE_KMS_KEY_ID": "alias/letters",
            "LETTERS_ARCHIVE_RETENTION_DAYS": "3653",
        }
    ).s3
    assert (s3.endpoint_url, s3.region, s3.archive_sse, s3.archive_kms_key_id) == (
        "http://minio:9000",
        "eu-west-1",
        "aws:kms",
        "alias/letters",
    )
    assert s3.archive_retention_days == 3653
    assert Settings.from_env({"LETTERS_ARCHIVE_SSE": "none"}).s3.archive_sse is None


def test_a_bad_encryption_setting_is_named() -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_ARCHIVE_SSE: 'DES'"):
        Settings.from_env({"LETTERS_ARCHIVE_SSE": "DES"})


def test_print_settings_have_defaults_and_are_read(tmp_path: Path) -> None:
    default = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)}).print
    assert default.url == str(tmp_path / "print") and default.batch_size == 500
    assert default.cutoff == time(16, 0) and default.envelope == "E65"
    assert (default.max_pages, default.interval_s, default.sse) == (10, 60, "AES256")
    custom = Settings.from_env(
        {
            "LETTERS_PRINT_URL": "s3://print-house/in",
            "LETTERS_PRINT_BATCH_SIZE": "2000",
            "LETTERS_PRINT_CUTOFF": "7:30",
            "LETTERS_PRINT_ENVELOPE": "c5",
            "LETTERS_PRINT_INTERVAL": "0",
            "LETTERS_PRINT_SSE": "none",
        }
    ).print
    assert (custom.url, custom.batch_size, custom.cutoff) == (
        "s3://print-house/in",
        2000,
        time(7, 30),
    )
    assert (custom.envelope, custom.interval_s, custom.sse) == ("C5", 0, None)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LETTERS_PRINT_CUTOFF", "4pm", "not a time of day"),
        ("LETTERS_PRINT_CUTOFF", "24:00", "not a time of day"),
        ("LETTERS_PRINT_ENVELOPE", "DL", "is not one of E65, C6/5, C5, EC4"),
        ("LETTERS_PRINT_BATCH_SIZE", "0", "whole number of 1 or more"),
        ("LETTERS_PRINT_SSE", "aes", "is not AES256, aws:kms or none"),
    ],
)
def test_bad_print_settings_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}: .*{message}"):
        Settings.from_env({name: value})


def test_unchecked_rates_are_allowed_only_on_the_embedded_default(tmp_path: Path) -> None:
    embedded = {"LETTERS_VAR_DIR": str(tmp_path)}
    assert not Settings.from_env(embedded).allow_unchecked_rates
    allowed = embedded | {"LETTERS_ALLOW_UNCHECKED_RATES": "1"}
    assert Settings.from_env(allowed).allow_unchecked_rates
    for shared in (
        {"LETTERS_BROKER_URL": "amqp://guest:guest@127.0.0.1:5672//"},
        {"LETTERS_DATABASE_URL": "postgresql+psycopg://letters@db/letters"},
    ):
        with pytest.raises(ConfigurationError, match="LETTERS_ALLOW_UNCHECKED_RATES: only the"):
            Settings.from_env(allowed | shared)


# -- the declarations -----------------------------------------------------------------------


def test_the_configuration_page_lists_every_setting_as_declared() -> None:
    page = CONFIGURATION_PAGE.read_text(encoding="utf-8")
    assert page_with_table(page) == page, "run: python -m letters.config.page --write"
    names = [s.name for s in SETTINGS]
    assert len(names) == len(set(names)) > 60
    assert all(s.doc and s.default_doc for s in SETTINGS)


def test_every_declared_setting_is_read_into_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    read: set[str] = set()
    original = Setting.read

    def recording(self: Setting[object], env: Mapping[str, str]) -> object:
        read.add(self.name)
        return original(self, env)

    monkeypatch.setattr(Setting, "read", recording)
    Settings.from_env({})
    assert read == {s.name for s in SETTINGS}


def _docstrings(tree: ast.AST) -> set[int]:
    found = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            found.add(id(body[0].value))
    return found


def test_a_settings_variable_is_spelled_only_in_its_declaration() -> None:
    spelled = []
    for path in sorted(
        [*ROOT.joinpath("letters").rglob("*.py"), *ROOT.joinpath("channels").rglob("*.py")]
    ):
        if path == ROOT / "letters" / "config" / "declared.py":
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and re.search(r"LETTERS_[A-Z0-9_]+", node.value)
            ):
                spelled.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert spelled == [], "import the setting from letters.config.declared instead"
