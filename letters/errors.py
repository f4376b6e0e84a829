"""Every error the service raises, in three families.

    LetterError
    ├── PermanentError          bad input or a refusal: never retried, dead-lettered
    │   ├── InvalidRequest      the request breaks the contract (carries FieldProblems)
    │   ├── TemplateError       a template does not compile or uses an undefined name
    │   └── RenderError         WeasyPrint could not produce the PDF
    └── TransientError          something we depend on is unavailable: retry later
    ConfigurationError          the service is set up wrongly: stop loudly

ConfigurationError is deliberately outside LetterError, so that a handler that
catches LetterError to dead-letter one message can never swallow it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar


class LetterError(Exception):
    """Root of the errors that concern one letter."""


class PermanentError(LetterError):
    """The letter cannot succeed as it stands; retrying will not help."""

    # False when the message is at fault rather than the letter its letter id names
    # (a second, different request under a letter id already taken): that letter is
    # left as it is when the message is dead-lettered.
    fails_the_letter: ClassVar[bool] = True


class TransientError(LetterError):
    """A dependency failed in a way that may pass; the letter should be retried."""


@dataclass(frozen=True, slots=True)
class FieldProblem:
    """One broken rule: ``path`` is the dotted field path, ``rule`` says what is wrong."""

    path: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.rule}" if self.path else self.rule


class InvalidRequest(PermanentError):
    """The request breaks the ``letters.request/1`` contract."""

    def __init__(self, problems: list[FieldProblem]) -> None:
        self.problems = tuple(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class TemplateError(PermanentError):
    """A template failed to compile or render; names the template and line."""

    def __init__(self, template: str, line: int | None, message: str) -> None:
        self.template = template
        self.line = line
        self.message = message
        where = f"{template}:{line}" if line else template
        super().__init__(f"template {where}: {message}")


class RenderError(PermanentError):
    """The HTML could not be turned into a valid PDF."""


class ConfigurationError(Exception):
    """The service is configured wrongly; the message names the setting."""
