"""Letters: the letter generation and delivery service of a Norwegian debt collection agency.

The public API is what this package exports; everything else is internal and
may change. An integrator validates requests before publishing them, renders
a letter outside the queue, or checks a debtor portal login::

    from letters import InvalidRequest, load_profile, parse_request

    rules = load_profile(Path("agency.toml")).contract_rules
    try:
        request = parse_request(body, rules, today)
    except InvalidRequest as err:
        for problem in err.problems:  # field path and rule: problem.path, problem.rule
            ...

The error families are ``PermanentError`` (the letter cannot succeed as it
stands), ``TransientError`` (retry later) and ``ConfigurationError`` (the
service is set up wrongly), with ``InvalidRequest`` a permanent error that
carries one ``FieldProblem`` per broken rule.

Names are handed out on first use (PEP 562), as kombu's root does: importing
``letters.clock`` or the broker does not load WeasyPrint, SQLAlchemy or
pydantic because the package root names them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from letters.config import Settings
    from letters.domain.contract import SCHEMA, ContractRules, parse_request
    from letters.domain.model import LetterRequest
    from letters.domain.otp import PasswordRecord, Pepper
    from letters.domain.otp import verify as verify_password
    from letters.domain.pepper import load_pepper
    from letters.domain.profile import AgencyProfile, load_profile
    from letters.errors import (
        ConfigurationError,
        FieldProblem,
        InvalidRequest,
        LetterError,
        PermanentError,
        TransientError,
    )
    from letters.ledger import Ledger
    from letters.ledger.passwords import verify_login
    from letters.rendering.letter_service import LetterService
    from letters.rendering.renderer import RenderedLetter

# Each public name: the module that defines it, and its name there.
_EXPORTS: dict[str, tuple[str, str]] = {
    "SCHEMA": ("letters.domain.contract", "SCHEMA"),
    "AgencyProfile": ("letters.domain.profile", "AgencyProfile"),
    "ConfigurationError": ("letters.errors", "ConfigurationError"),
    "ContractRules": ("letters.domain.contract", "ContractRules"),
    "FieldProblem": ("letters.errors", "FieldProblem"),
    "InvalidRequest": ("letters.errors", "InvalidRequest"),
    "Ledger": ("letters.ledger", "Ledger"),
    "LetterError": ("letters.errors", "LetterError"),
    "LetterRequest": ("letters.domain.model", "LetterRequest"),
    "LetterService": ("letters.rendering.letter_service", "LetterService"),
    "PasswordRecord": ("letters.domain.otp", "PasswordRecord"),
    "Pepper": ("letters.domain.otp", "Pepper"),
    "PermanentError": ("letters.errors", "PermanentError"),
    "RenderedLetter": ("letters.rendering.renderer", "RenderedLetter"),
    "Settings": ("letters.config", "Settings"),
    "TransientError": ("letters.errors", "TransientError"),
    "load_pepper": ("letters.domain.pepper", "load_pepper"),
    "load_profile": ("letters.domain.profile", "load_profile"),
    "parse_request": ("letters.domain.contract", "parse_request"),
    "verify_login": ("letters.ledger.passwords", "verify_login"),
    "verify_password": ("letters.domain.otp", "verify"),
}

__all__ = [
    "SCHEMA",
    "AgencyProfile",
    "ConfigurationError",
    "ContractRules",
    "FieldProblem",
    "InvalidRequest",
    "Ledger",
    "LetterError",
    "LetterRequest",
    "LetterService",
    "PasswordRecord",
    "Pepper",
    "PermanentError",
    "RenderedLetter",
    "Settings",
    "TransientError",
    "load_pepper",
    "load_profile",
    "parse_request",
    "verify_login",
    "verify_password",
]


def __getattr__(name: str) -> Any:
    try:
        module, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'letters' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # found once; later look-ups do not come here
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
