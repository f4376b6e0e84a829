from __future__ import annotations

from datetime import date, timedelta

from letters.domain import otp


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
    record = otp.hash_password(password, date(2026, 12, 14))
    assert password.reveal() not in record.hash
    assert record.hash.startswith("scrypt$16384$8$1$")
    today = date(2026, 11, 23)
    assert otp.verify(password.reveal(), record, today)
    assert otp.verify(password.grouped().lower(), record, today)
    assert otp.verify(" " + password.grouped().replace("-", " "), record, today)


def test_wrong_password_fails() -> None:
    record = otp.hash_password(otp.OneTimePassword("ACEF34679HKM"), date(2026, 12, 14))
    assert not otp.verify("ACEF34679HKN", record, date(2026, 11, 23))
    assert not otp.verify("", record, date(2026, 11, 23))


def test_same_password_hashes_differently_each_time() -> None:
    password = otp.OneTimePassword("ACEF34679HKM")
    a = otp.hash_password(password, date(2026, 12, 14))
    b = otp.hash_password(password, date(2026, 12, 14))
    assert a.hash != b.hash


def test_expiry_is_21_days_and_never_before_the_deadline() -> None:
    letter_date = date(2026, 11, 23)
    assert otp.expiry(letter_date, date(2026, 12, 7)) == date(2026, 12, 14)
    late_deadline = date(2027, 1, 4)
    assert otp.expiry(letter_date, late_deadline) == late_deadline


def test_password_stops_working_after_its_last_day() -> None:
    password = otp.generate()
    record = otp.hash_password(password, date(2026, 12, 14))
    assert otp.verify(password.reveal(), record, date(2026, 12, 14))
    assert not otp.verify(password.reveal(), record, date(2026, 12, 14) + timedelta(days=1))


def test_a_corrupt_record_never_verifies() -> None:
    record = otp.PasswordRecord(hash="scrypt$x$y", expires_on=date(2027, 1, 1))
    assert not otp.verify("ACEF34679HKM", record, date(2026, 1, 1))
