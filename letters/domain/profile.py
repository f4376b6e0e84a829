"""The agency profile: who sends the letters, how debtors pay, and the letter rules."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import iban as no_iban
from stdnum.no import kontonr, orgnr

from letters.domain.contract import ContractRules
from letters.domain.deadline import check_deadline_days
from letters.domain.kid import MAX_LENGTH, MIN_LENGTH, KidMethod
from letters.domain.letter_order import OrderRules
from letters.domain.letter_types import Language, LetterType
from letters.errors import ConfigurationError

_DEFAULT_UNREAD_DAYS = 7


@dataclass(frozen=True, slots=True)
class UnreadRule:
    """Print and post a copy of a Digipost letter of these types not opened in ``days``."""

    letter_types: frozenset[LetterType] = frozenset()
    days: int = _DEFAULT_UNREAD_DAYS


@dataclass(frozen=True, slots=True)
class AgencyProfile:
    name: str
    organization_number: str
    address_lines: tuple[str, ...]
    postal_code: str
    city: str
    phone: str
    email: str
    portal_url: str
    licensed: bool
    opening_hours: dict[Language, str]
    account_number: str
    iban: str
    bic: str
    kid_method: KidMethod
    kid_length: int
    deadline_days: dict[LetterType, int]
    order: OrderRules = field(default_factory=OrderRules)
    # GDPR art. 14: how to reach the data protection officer, and the privacy policy.
    privacy_officer_email: str = ""
    privacy_policy_url: str = ""
    # Free public debt advice the letters point to (NAV's økonomi- og gjeldsrådgivning).
    debt_help_phone: str = ""
    # Which letters are printed when unread in Digipost (on with LETTERS_PRINT_WHEN_UNREAD).
    print_when_unread: UnreadRule = field(default_factory=UnreadRule)

    @property
    def contract_rules(self) -> ContractRules:
        return ContractRules(kid_method=self.kid_method, kid_length=self.kid_length)


def load_profile(path: Path) -> AgencyProfile:
    """Read and check a profile file; every mistake names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigurationError(f"LETTERS_AGENCY_PROFILE: cannot read {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(
            f"LETTERS_AGENCY_PROFILE: {path} is not valid TOML: {err}"
        ) from err

    def get(section: str, key: str) -> Any:
        node: Any = data
        for part in section.split("."):
            node = node.get(part, {}) if isinstance(node, dict) else {}
        if not isinstance(node, dict) or key not in node:
            raise ConfigurationError(f"{path}: [{section}] {key} is missing")
        return node[key]

    def fail(section: str, key: str, rule: str) -> ConfigurationError:
        return ConfigurationError(f"{path}: [{section}] {key} {rule}")

    org = str(get("agency", "organization_number"))
    if not orgnr.is_valid(org):
        raise fail("agency", "organization_number", "is not a valid organisation number")
    account = str(get("payment", "account_number"))
    iban = str(get("payment", "iban")).replace(" ", "")
    try:
        kontonr.validate(account)
        no_iban.validate(iban)
    except StdnumError as err:
        raise fail("payment", "account_number/iban", f"is not valid: {err}") from err
    if kontonr.to_iban(account) != iban:
        raise fail("payment", "iban", "does not belong to the account number")
    try:
        method = KidMethod(str(get("rules", "kid_method")).lower())
    except ValueError as err:
        raise fail("rules", "kid_method", "must be mod10 or mod11") from err
    length = get("rules", "kid_length")
    if not isinstance(length, int) or not MIN_LENGTH <= length <= MAX_LENGTH:
        raise fail(
            "rules", "kid_length", f"must be a whole number from {MIN_LENGTH} to {MAX_LENGTH}"
        )
    hours = get("agency", "opening_hours")
    days_raw = get("rules", "deadline_days")
    try:
        days = {LetterType(k): int(v) for k, v in days_raw.items()}
        opening = {lang: str(hours[lang.value]) for lang in Language}
    except (ValueError, KeyError, AttributeError) as err:
        raise ConfigurationError(f"{path}: [rules.deadline_days] or opening_hours: {err}") from err
    missing = set(LetterType) - days.keys()
    if missing:
        raise fail("rules.deadline_days", ", ".join(sorted(missing)), "is missing")
    check_deadline_days(days)
    order_raw = (
        data.get("rules", {}).get("order", {}) if isinstance(data.get("rules"), dict) else {}
    )
    if not isinstance(order_raw, dict):
        raise fail("rules", "order", "must be a table of true/false switches")
    known = {f.name for f in fields(OrderRules)}
    for key, value in order_raw.items():
        if key not in known:
            raise fail("rules.order", key, f"is not a rule ({', '.join(sorted(known))})")
        if not isinstance(value, bool):
            raise fail("rules.order", key, "must be true or false")
    order = OrderRules(**order_raw)
    unread = _unread_rule(data, fail)
    return AgencyProfile(
        name=str(get("agency", "name")),
        organization_number=org,
        address_lines=tuple(get("agency", "address_lines")),
        postal_code=str(get("agency", "postal_code")),
        city=str(get("agency", "city")),
        phone=str(get("agency", "phone")),
        email=str(get("agency", "email")),
        portal_url=str(get("agency", "portal_url")),
        licensed=bool(get("agency", "licensed")),
        opening_hours=opening,
        account_number=kontonr.compact(account),
        iban=iban,
        bic=str(get("payment", "bic")),
        kid_method=method,
        kid_length=length,
        deadline_days=days,
        order=order,
        privacy_officer_email=str(get("agency.privacy", "officer_email")),
        privacy_policy_url=str(get("agency.privacy", "policy_url")),
        debt_help_phone=str(get("debt_help", "phone")),
        print_when_unread=unread,
    )


def _unread_rule(data: dict[str, Any], fail: Any) -> UnreadRule:
    rules = data.get("rules", {})
    raw = rules.get("print_when_unread", {}) if isinstance(rules, dict) else {}
    section = "rules.print_when_unread"
    if not isinstance(raw, dict):
        raise fail("rules", "print_when_unread", "must be a table (letter_types, days)")
    unknown = set(raw) - {"letter_types", "days"}
    if unknown:
        raise fail(section, ", ".join(sorted(unknown)), "is not a setting (letter_types, days)")
    days = raw.get("days", _DEFAULT_UNREAD_DAYS)
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 60:
        raise fail(section, "days", "must be a whole number of days from 1 to 60")
    names = raw.get("letter_types", [])
    if not isinstance(names, list):
        raise fail(section, "letter_types", "must be a list of letter types")
    try:
        types = frozenset(LetterType(str(name)) for name in names)
    except ValueError as err:
        known = ", ".join(t.value for t in LetterType)
        raise fail(
            section, "letter_types", f"names a letter type that is not one ({known})"
        ) from err
    return UnreadRule(types, days)
