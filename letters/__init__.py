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
"""

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
from letters.ledger import Ledger, verify_login
from letters.rendering.letter_service import LetterService
from letters.rendering.renderer import RenderedLetter

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
