"""The agency profile: who sends the letters, how debtors pay, and the letter rules."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from stdnum.exceptions import ValidationError as StdnumError
from stdnum.no import iban as no_iban
from stdnum.no import kontonr, orgnr

from letters.config.declared import AGENCY_PROFILE
from letters.domain.contract import ContractRules
from letters.domain.deadline import QUIET_PERIODS, DeadlineExtensions, check_deadline_days
from letters.domain.kid import MAX_LENGTH, MIN_LENGTH, KidMethod, KidScheme
from letters.domain.letter_order import OrderRules
from letters.domain.letter_types import Language, LetterType
from letters.errors import ConfigurationError

_DEFAULT_UNREAD_DAYS = 7
# A phone number in the letters, in the international form a debtor abroad can dial.
_PHONE_RE = re.compile(r"\+47( [0-9]{2,3}){3,4}")
_PRIVACY_TEXTS = ("legal_basis", "recipients", "retention")


@dataclass(frozen=True, slots=True)
class PrivacyText:
    """What the privacy notice says in one language beyond what the law fixes (GDPR art. 14):
    the legal basis, the recipients and how long the data are kept."""

    legal_basis: str
    recipients: str
    retention: str


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
    # GDPR art. 14 (1)(c), (e) and (2)(a), per language.
    privacy_texts: dict[Language, PrivacyText] = field(default_factory=dict)
    # Free public debt advice the letters point to (NAV's økonomi- og gjeldsrådgivning).
    debt_help_phone: str = ""
    # Which KID a request may carry.
    kid_scheme: KidScheme = KidScheme.CASE_NUMBER
    # Whether the agency claims the cost of preparing a request for utlegg (at most one
    # rettsgebyr), which a varsel then names as a cost to come.
    claims_request_cost: bool = False
    # Longer deadlines than the legal minimum: abroad, and not ending in holiday weeks.
    deadline_extensions: DeadlineExtensions = field(default_factory=DeadlineExtensions)
    # Which letters are printed when unread in Digipost (on with LETTERS_PRINT_WHEN_UNREAD).
    print_when_unread: UnreadRule = field(default_factory=UnreadRule)

    @property
    def contract_rules(self) -> ContractRules:
        return ContractRules(
            kid_method=self.kid_method, kid_length=self.kid_length, kid_scheme=self.kid_scheme
        )


def load_profile(path: Path) -> AgencyProfile:
    """Read and check a profile file; every mistake names the file and the key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as err:
        raise ConfigurationError(f"{AGENCY_PROFILE}: cannot read {path}: {err}") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigurationError(f"{AGENCY_PROFILE}: {path} is not valid TOML: {err}") from err

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
    for section, key in (("agency", "phone"), ("debt_help", "phone")):
        if not _PHONE_RE.fullmatch(str(get(section, key))):
            raise fail(section, key, 'must be in international form, such as "+47 55 55 33 39"')
    try:
        scheme = KidScheme(str(data.get("rules", {}).get("kid_scheme", KidScheme.CASE_NUMBER)))
    except ValueError as err:
        raise fail("rules", "kid_scheme", "must be case_number or any_valid") from err
    privacy = {}
    for lang in Language:
        section = f"agency.privacy.{lang.value}"
        texts = {key: _text(get(section, key), fail, section, key) for key in _PRIVACY_TEXTS}
        privacy[lang] = PrivacyText(**texts)
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
        privacy_texts=privacy,
        debt_help_phone=str(get("debt_help", "phone")),
        print_when_unread=unread,
        kid_scheme=scheme,
        claims_request_cost=_switch(data, "claim_enforcement_request_cost", fail),
        deadline_extensions=_deadline_extensions(data, fail),
    )


def _switch(data: dict[str, Any], key: str, fail: Any) -> bool:
    rules = data.get("rules", {})
    value = rules.get(key, False) if isinstance(rules, dict) else False
    if not isinstance(value, bool):
        raise fail("rules", key, "must be true or false")
    return value


def _text(value: Any, fail: Any, section: str, key: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise fail(section, key, "must be a sentence of text")
    # Runs of ordinary white space become one space; a no-break space stays where it is.
    return re.sub(r"[ \t\r\n]+", " ", value).strip()


def _deadline_extensions(data: dict[str, Any], fail: Any) -> DeadlineExtensions:
    rules = data.get("rules", {})
    raw = rules.get("deadline_extensions", {}) if isinstance(rules, dict) else {}
    section = "rules.deadline_extensions"
    if not isinstance(raw, dict):
        raise fail(
            "rules", "deadline_extensions", "must be a table (extra_days_abroad, quiet_periods)"
        )
    unknown = set(raw) - {"extra_days_abroad", "quiet_periods"}
    if unknown:
        raise fail(section, ", ".join(sorted(unknown)), "is not a setting")
    default = DeadlineExtensions()
    days = raw.get("extra_days_abroad", default.abroad_days)
    if not isinstance(days, int) or isinstance(days, bool) or not 0 <= days <= 30:
        raise fail(section, "extra_days_abroad", "must be a whole number of days from 0 to 30")
    periods = raw.get("quiet_periods", list(default.quiet_periods))
    if not isinstance(periods, list) or not set(periods) <= set(QUIET_PERIODS):
        raise fail(section, "quiet_periods", f"must be a list of {', '.join(QUIET_PERIODS)}")
    return DeadlineExtensions(days, frozenset(periods))


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
