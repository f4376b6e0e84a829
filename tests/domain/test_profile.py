from __future__ import annotations

from dataclasses import fields
from pathlib import Path

import pytest

from letters.config import EXAMPLE_PROFILE
from letters.domain.deadline import QUIET_PERIODS, DeadlineExtensions
from letters.domain.kid import KidMethod, KidScheme
from letters.domain.letter_order import OrderRules
from letters.domain.letter_types import Language, LetterType
from letters.domain.profile import load_profile
from letters.errors import ConfigurationError


def test_example_profile_loads() -> None:
    profile = load_profile(EXAMPLE_PROFILE)
    assert profile.kid_method is KidMethod.MOD10
    assert profile.deadline_days[LetterType.INKASSOVARSEL] == 14
    assert profile.opening_hours[Language.EN]
    assert profile.iban == "NO4615034000015"
    # Every rule of the order of letters is on unless the agency switches it off.
    assert profile.order == OrderRules()
    assert all(getattr(profile.order, f.name) for f in fields(OrderRules))


def test_an_agency_switches_an_order_rule_off(tmp_path: Path) -> None:
    text = EXAMPLE_PROFILE.read_text(encoding="utf-8")
    path = tmp_path / "agency.toml"
    path.write_text(
        text.replace("betalingsoppfordring_before_varsel = true", "", 1).replace(
            "inkassovarsel_before_betalingsoppfordring = true",
            "inkassovarsel_before_betalingsoppfordring = false",
        ),
        encoding="utf-8",
    )
    order = load_profile(path).order
    assert order == OrderRules(inkassovarsel_before_betalingsoppfordring=False)


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            'organization_number = "924567805"',
            'organization_number = "924567806"',
            "[agency] organization_number is not a valid organisation number",
        ),
        ('iban = "NO4615034000015"', 'iban = "NO2415034000023"', "[payment] iban does not belong"),
        (
            'account_number = "15034000015"',
            'account_number = "15034000016"',
            "account_number/iban is not valid",
        ),
        (
            'kid_method = "mod10"',
            'kid_method = "luhn"',
            "[rules] kid_method must be mod10 or mod11",
        ),
        (
            "kid_length = 12",
            "kid_length = 30",
            "[rules] kid_length must be a whole number from 4 to 25",
        ),
        (
            "inkassovarsel = 14",
            "inkassovarsel = 10",
            "inkassovarsel is 10; the legal minimum is 14",
        ),
        ('name = "Nordlys Inkasso AS"\n', "", "[agency] name is missing"),
        (
            "one_running_letter_per_type = true",
            "one_running_letter_per_type = 1",
            "[rules.order] one_running_letter_per_type must be true or false",
        ),
        (
            "one_running_letter_per_type = true",
            "one_letter_per_week = true",
            "[rules.order] one_letter_per_week is not a rule (betalingsoppfordring_before_varsel",
        ),
        ("[agency]", "[agency", "is not valid TOML"),
        ("days = 7", "days = 0", "[rules.print_when_unread] days must be a whole number"),
        (
            '"varsel_rettslig_pagang"]',
            '"varsel"]',
            "[rules.print_when_unread] letter_types names a letter type that is not one",
        ),
        ("days = 7", "weeks = 1", "[rules.print_when_unread] weeks is not a setting"),
        # Review N-G4: a debtor abroad must be able to dial the number as printed.
        (
            'phone = "+47 21 00 45 00"',
            'phone = "21 00 45 00"',
            '[agency] phone must be in international form, such as "+47 55 55 33 39"',
        ),
        (
            'phone = "+47 55 55 33 39"',
            'phone = "55553339"',
            "[debt_help] phone must be in international form",
        ),
        ('kid_scheme = "case_number"', 'kid_scheme = "random"', "[rules] kid_scheme must be"),
        (
            "claim_enforcement_request_cost = true",
            'claim_enforcement_request_cost = "yes"',
            "[rules] claim_enforcement_request_cost must be true or false",
        ),
        (
            "extra_days_abroad = 7",
            "extra_days_abroad = 45",
            "[rules.deadline_extensions] extra_days_abroad must be a whole number of days",
        ),
        (
            'quiet_periods = ["christmas", "easter", "july"]',
            'quiet_periods = ["christmas", "pinse"]',
            "[rules.deadline_extensions] quiet_periods must be a list of christmas, easter, july",
        ),
    ],
)
def test_profile_mistakes_name_the_key(tmp_path: Path, old: str, new: str, message: str) -> None:
    text = EXAMPLE_PROFILE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "agency.toml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ConfigurationError) as err:
        load_profile(path)
    assert message in str(err.value)


def test_the_deadline_extensions_and_the_kid_scheme_come_from_the_profile(tmp_path: Path) -> None:
    example = load_profile(EXAMPLE_PROFILE)
    assert example.deadline_extensions == DeadlineExtensions(7, frozenset(QUIET_PERIODS))
    assert example.kid_scheme is KidScheme.CASE_NUMBER and example.claims_request_cost
    text = EXAMPLE_PROFILE.read_text(encoding="utf-8")
    path = tmp_path / "agency.toml"
    path.write_text(
        text.replace("extra_days_abroad = 7", "extra_days_abroad = 0")
        .replace('quiet_periods = ["christmas", "easter", "july"]', "quiet_periods = []")
        .replace('kid_scheme = "case_number"', 'kid_scheme = "any_valid"'),
        encoding="utf-8",
    )
    profile = load_profile(path)
    assert profile.deadline_extensions == DeadlineExtensions(0, frozenset())
    assert profile.kid_scheme is KidScheme.ANY_VALID
    assert profile.contract_rules.kid_scheme is KidScheme.ANY_VALID
