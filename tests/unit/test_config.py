"""Settings from the environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from letters.config import Settings
from letters.errors import ConfigurationError


def test_embedded_defaults_live_under_the_var_folder(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    assert settings.embedded_broker and settings.broker_url is None
    assert settings.database_url == f"sqlite:///{tmp_path / 'letters.db'}"
    assert settings.archive_url == str(tmp_path / "archive")
    assert settings.broker_dir == tmp_path / "broker"
    assert settings.concurrency == 1 and settings.heartbeat == 30
    assert settings.retry_delays == (10, 60, 600, 3600)
    assert (settings.digipost_backend, settings.print_backend) == ("fake", "fake")


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
    assert settings.concurrency == 4 and settings.retry_delays == (30, 300)
    assert settings.queue_prefix == "staging."


@pytest.mark.parametrize("value", ["0", "-2", "two"])
def test_a_bad_number_names_the_variable(value: str) -> None:
    with pytest.raises(ConfigurationError, match="LETTERS_CONCURRENCY"):
        Settings.from_env({"LETTERS_CONCURRENCY": value})
