"""A process with another master key, index key or pepper than the ledger's refuses to start
(privacy finding 3 and 5); the embedded default never makes a lost key again; a key file
others can read is refused."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest

from letters.ledger.keys import INDEX_KEY_FILE_NAME, MASTER_KEY_FILE_NAME
from tests.support.stacks import Stack, needs_no_interest, sample_request

EXIT_CONFIGURATION = 1  # the command line's code for a configuration error


def _sent_one(stack: Stack) -> Path:
    stack.publish(needs_no_interest())
    stack.run_worker()
    assert len(stack.delivered()) == 1
    stack.ledger.close()
    return Path(stack.env["LETTERS_VAR_DIR"])


def _replace(path: Path) -> None:
    path.write_bytes(base64.b64encode(os.urandom(32)) + b"\n")
    path.chmod(0o600)


@pytest.mark.parametrize(
    ("file_name", "setting"),
    [
        (MASTER_KEY_FILE_NAME, "LETTERS_LEDGER_KEY_FILE"),
        (INDEX_KEY_FILE_NAME, "LETTERS_LEDGER_INDEX_KEY_FILE"),
        ("password-pepper", "LETTERS_PASSWORD_PEPPER_FILE"),
    ],
)
def test_a_worker_with_another_secret_refuses_to_start(
    embedded: Stack, file_name: str, setting: str
) -> None:
    var = _sent_one(embedded)
    _replace(var / file_name)
    embedded.publish(sample_request())
    result = embedded.run("worker", "--until-empty")
    assert result.returncode == EXIT_CONFIGURATION, result.stderr[-2000:]
    assert f"configuration error: {setting}" in result.stderr
    assert len(embedded.delivered()) == 1, "nothing was sent with the wrong secret"


def test_the_embedded_default_does_not_make_a_lost_master_key_again(embedded: Stack) -> None:
    var = _sent_one(embedded)
    (var / MASTER_KEY_FILE_NAME).unlink()
    result = embedded.run("status", "--national-id", "03039110015")
    assert result.returncode == EXIT_CONFIGURATION, result.stderr[-2000:]
    assert "LETTERS_LEDGER_KEY_FILE" in result.stderr and "Restore the key file" in result.stderr
    assert not (var / MASTER_KEY_FILE_NAME).exists()


def test_a_replaced_pepper_is_accepted_on_purpose(embedded: Stack) -> None:
    var = _sent_one(embedded)
    _replace(var / "password-pepper")
    accepted = embedded.run("keys", "accept", "LETTERS_PASSWORD_PEPPER_FILE")
    assert accepted.returncode == 0, accepted.stderr
    embedded.publish(sample_request())
    embedded.run_worker()
    assert len(embedded.delivered()) == 2


@pytest.mark.parametrize("mode", [0o644, 0o666, 0o640])
def test_a_key_file_others_can_read_is_refused(embedded: Stack, mode: int) -> None:
    var = _sent_one(embedded)
    (var / MASTER_KEY_FILE_NAME).chmod(mode)
    result = embedded.run("status", "--national-id", "03039110015")
    assert result.returncode == EXIT_CONFIGURATION, result.stderr[-2000:]
    assert f"{mode:04o}" in result.stderr and "too open" in result.stderr
