from __future__ import annotations

import base64
import hashlib
import os
import stat
from datetime import date, timedelta
from pathlib import Path

import pytest

from letters.config import Settings
from letters.domain import otp
from letters.domain.pepper import load_pepper
from letters.errors import ConfigurationError

PEPPER = otp.Pepper(b"p" * 32)


def test_passwords_are_unique_and_use_the_unambiguous_alphabet() -> None:
    seen = {otp.generate().reveal() for _ in range(2000)}
    assert len(seen) == 2000
    for value in seen:
        assert len(value) == otp.LENGTH
        assert set(value) <= set(otp.ALPHABET)
    assert not set("0O1IL5S8B2Z") & set(otp.ALPHABET)


def test_grouped_for_print_and_hidden_from_repr() -> None:
    password = otp.OneTimePassword("ACEF34679HKM")
    assert password.grouped() == "ACEF-3467-9HKM"
    assert "ACEF" not in repr(password) and "ACEF" not in str(password)
    assert "ACEF" not in f"{password}"


def test_hash_verifies_the_password_as_typed() -> None:
    password = otp.generate()
    record = otp.hash_password(password, date(2026, 12, 14), PEPPER)
    assert password.reveal() not in record.hash
    assert record.hash.startswith(f"hmac-sha256${PEPPER.key_id}$")
    today = date(2026, 11, 23)
    assert otp.verify(password.reveal(), record, today, [PEPPER])
    assert otp.verify(password.grouped().lower(), record, today, [PEPPER])
    assert otp.verify(" " + password.grouped().replace("-", " "), record, today, [PEPPER])


def test_wrong_password_fails() -> None:
    record = otp.hash_password(otp.OneTimePassword("ACEF34679HKM"), date(2026, 12, 14), PEPPER)
    assert not otp.verify("ACEF34679HKN", record, date(2026, 11, 23), [PEPPER])
    assert not otp.verify("", record, date(2026, 11, 23), [PEPPER])


def test_same_password_hashes_differently_each_time() -> None:
    password = otp.OneTimePassword("ACEF34679HKM")
    a = otp.hash_password(password, date(2026, 12, 14), PEPPER)
    b = otp.hash_password(password, date(2026, 12, 14), PEPPER)
    assert a.hash != b.hash


def test_expiry_is_21_days_and_never_before_the_deadline() -> None:
    letter_date = date(2026, 11, 23)
    assert otp.expiry(letter_date, date(2026, 12, 7)) == date(2026, 12, 14)
    late_deadline = date(2027, 1, 4)
    assert otp.expiry(letter_date, late_deadline) == late_deadline


def test_password_stops_working_after_its_last_day() -> None:
    password = otp.generate()
    record = otp.hash_password(password, date(2026, 12, 14), PEPPER)
    assert otp.verify(password.reveal(), record, date(2026, 12, 14), [PEPPER])
    assert not otp.verify(
        password.reveal(), record, date(2026, 12, 14) + timedelta(days=1), [PEPPER]
    )


def test_a_corrupt_record_never_verifies() -> None:
    record = otp.PasswordRecord(hash="scrypt$x$y", expires_on=date(2027, 1, 1))
    assert not otp.verify("ACEF34679HKM", record, date(2026, 1, 1), [PEPPER])


def test_a_hash_does_not_verify_without_its_pepper() -> None:
    password = otp.OneTimePassword("ACEF34679HKM")
    record = otp.hash_password(password, date(2026, 12, 14), PEPPER)
    today = date(2026, 11, 23)
    assert not otp.verify(password.reveal(), record, today)
    assert not otp.verify(password.reveal(), record, today, [otp.Pepper(b"q" * 32)])
    # A rotated pepper: the old one still checks the records it made.
    assert otp.verify(password.reveal(), record, today, [otp.Pepper(b"q" * 32), PEPPER])
    assert "ppp" not in repr(PEPPER) and PEPPER.key_id not in "p" * 32


def test_records_of_earlier_releases_still_verify() -> None:
    salt = b"s" * 16
    digest = hashlib.scrypt(b"ACEF34679HKM", salt=salt, n=2**14, r=8, p=1, maxmem=2**25, dklen=32)
    b64 = base64.b64encode
    legacy = f"scrypt$16384$8$1${b64(salt).decode()}${b64(digest).decode()}"
    record = otp.PasswordRecord(legacy, date(2026, 12, 14))
    assert otp.verify("acef-3467-9hkm", record, date(2026, 11, 23))
    assert not otp.verify("ACEF34679HKN", record, date(2026, 11, 23))


def test_the_embedded_default_makes_a_private_pepper_once(tmp_path: Path) -> None:
    settings = Settings.from_env({"LETTERS_VAR_DIR": str(tmp_path)})
    first = load_pepper(settings)
    assert load_pepper(settings) == first
    made = tmp_path / "password-pepper"
    assert stat.S_IMODE(os.stat(made).st_mode) == 0o600
    assert len(made.read_bytes().strip()) >= otp.PEPPER_MIN_BYTES


def test_a_shared_ledger_without_a_pepper_is_a_configuration_error(tmp_path: Path) -> None:
    env = {"LETTERS_VAR_DIR": str(tmp_path), "LETTERS_DATABASE_URL": "postgresql+psycopg://db/x"}
    with pytest.raises(ConfigurationError, match="LETTERS_PASSWORD_PEPPER_FILE is not set"):
        load_pepper(Settings.from_env(env))
    short = tmp_path / "short"
    short.write_bytes(b"too short")
    short.chmod(0o600)
    with pytest.raises(ConfigurationError, match="holds 9 bytes; at least 32 are needed"):
        load_pepper(Settings.from_env({**env, "LETTERS_PASSWORD_PEPPER_FILE": str(short)}))
    with pytest.raises(ConfigurationError, match="cannot read"):
        load_pepper(
            Settings.from_env({**env, "LETTERS_PASSWORD_PEPPER_FILE": str(tmp_path / "no")})
        )
    good = tmp_path / "good"
    good.write_bytes(b"k" * 40 + b"\n")
    good.chmod(0o600)
    pepper = load_pepper(Settings.from_env({**env, "LETTERS_PASSWORD_PEPPER_FILE": str(good)}))
    assert pepper == otp.Pepper(b"k" * 40)
