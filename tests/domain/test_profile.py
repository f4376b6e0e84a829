from __future__ import annotations

from pathlib import Path

import pytest

from letters.config import EXAMPLE_PROFILE
from letters.domain.kid import KidMethod
from letters.domain.letter_types import Language, LetterType
from letters.domain.profile import load_profile
from letters.errors import ConfigurationError


def test_example_profile_loads() -> None:
    profile = load_profile(EXAMPLE_PROFILE)
    assert profile.kid_method is KidMethod.MOD10
    assert profile.deadline_days[LetterType.INKASSOVARSEL] == 14
    assert profile.opening_hours[Language.EN]
    assert profile.iban == "NO4615034000015"


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
        ("[agency]", "[agency", "is not valid TOML"),
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
