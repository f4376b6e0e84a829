"""The order of letters in a case, as the law and the agency's practice set it.

- A betalingsoppfordring only after the deadline of an inkassovarsel for the
  case has passed (inkassoloven § 10 (1)).
- A varsel om rettslig pågang only after the deadline of a betalingsoppfordring
  has passed (the agency's order: enforcement is threatened last).
- No second letter of a type while an earlier one's deadline still runs, or
  while an earlier one is still on its way.
- A letter that came back as returned mail was not received: no later letter
  rests on it, and it does not stop a new letter of its type.

The earlier letters are the ledger's (letters this service sent or is sending)
and those the case system reports (``case.earlier_letters``: the creditor's
own inkassovarsel, say). Which rules apply is the agency's choice (the
profile's ``[rules.order]``); all apply unless it says otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from letters.domain.letter_types import LetterType
from letters.domain.model import Cost, LetterRequest
from letters.errors import FieldProblem, InvalidRequest

NAMES = {
    LetterType.PURRING: "purring",
    LetterType.INKASSOVARSEL: "inkassovarsel",
    LetterType.BETALINGSOPPFORDRING: "betalingsoppfordring",
    LetterType.VARSEL_RETTSLIG_PAGANG: "varsel om rettslig pågang",
}


@dataclass(frozen=True, slots=True)
class OrderRules:
    inkassovarsel_before_betalingsoppfordring: bool = True
    betalingsoppfordring_before_varsel: bool = True
    one_running_letter_per_type: bool = True


@dataclass(frozen=True, slots=True)
class PriorLetter:
    """An earlier letter of the case, as far as the order of letters is concerned."""

    letter_type: LetterType
    # None: accepted but not left yet, its deadline not fixed.
    sent_on: date | None
    deadline: date | None
    # How a person finds it: "letter <id>" or "sent by <who> (case.earlier_letters[0])".
    known_as: str
    # The costs it claimed, where the ledger knows them (its own letters).
    costs: tuple[Cost, ...] = ()
    # Sent by the agency (the ledger's letters, and reported letters sent in its name),
    # rather than by the creditor itself.
    by_agency: bool = True
    # It came back from the post: it was not received, so nothing may rest on it.
    returned: bool = False

    def describe(self) -> str:
        if self.returned:
            return (
                f"the {NAMES[self.letter_type]} {self.known_as} came back as returned mail "
                "and was not received"
            )
        if self.sent_on is None or self.deadline is None:
            return f"the {NAMES[self.letter_type]} {self.known_as}, still on its way"
        return (
            f"the {NAMES[self.letter_type]} of {self.sent_on.isoformat()} ({self.known_as}), "
            f"deadline {self.deadline.isoformat()}"
        )


# (the letter, the letter that must come first, the rule's name, the switch in OrderRules)
_PRECEDENTS = (
    (
        LetterType.BETALINGSOPPFORDRING,
        LetterType.INKASSOVARSEL,
        "inkassoloven § 10 (1)",
        "inkassovarsel_before_betalingsoppfordring",
    ),
    (
        LetterType.VARSEL_RETTSLIG_PAGANG,
        LetterType.BETALINGSOPPFORDRING,
        "the agency's order of letters (rules.order)",
        "betalingsoppfordring_before_varsel",
    ),
)


def order_problem(
    letter_type: LetterType,
    case_number: str,
    leaves_on: date,
    earlier: Sequence[PriorLetter],
    rules: OrderRules,
) -> str | None:
    """Why a letter of ``letter_type`` may not leave on ``leaves_on``, or None."""
    name = NAMES[letter_type]
    for later, first, basis, switch in _PRECEDENTS:
        if letter_type is not later or not getattr(rules, switch):
            continue
        candidates = [p for p in earlier if p.letter_type is first]
        passed = [
            p
            for p in candidates
            if p.deadline is not None and p.deadline < leaves_on and not p.returned
        ]
        if passed:
            continue
        needed = f"{basis}: a {name} may be sent only after the deadline of {_a(NAMES[first])}"
        if not candidates:
            return f"{needed} has passed; case {case_number} has no {NAMES[first]}"
        latest = candidates[-1]
        return (
            f"{needed} has passed; {latest.describe()}, and this letter would leave on "
            f"{leaves_on.isoformat()}"
        )
    if rules.one_running_letter_per_type:
        for prior in earlier:
            if (
                prior.letter_type is letter_type
                and not prior.returned
                and (prior.deadline is None or prior.deadline >= leaves_on)
            ):
                return (
                    f"the agency's order of letters (rules.order): no second {name} for case "
                    f"{case_number} while an earlier one runs; {prior.describe()}, and this "
                    f"letter would leave on {leaves_on.isoformat()}"
                )
    return None


def _a(name: str) -> str:
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"


def reported_letters(request: LetterRequest, agency_name: str) -> list[PriorLetter]:
    """The earlier letters the request itself reports (``case.earlier_letters``); one is the
    agency's when its ``sent_by`` is the agency's name."""
    return [
        PriorLetter(
            earlier.letter_type,
            earlier.sent_on,
            earlier.deadline,
            f"sent by {earlier.sent_by} (case.earlier_letters[{index}])",
            by_agency=_same_name(earlier.sent_by, agency_name),
        )
        for index, earlier in enumerate(request.case.earlier_letters)
    ]


def _same_name(a: str, b: str) -> bool:
    return " ".join(a.casefold().split()) == " ".join(b.casefold().split())


def check_order(
    request: LetterRequest, leaves_on: date, prior: Sequence[PriorLetter], rules: OrderRules
) -> None:
    """Raise InvalidRequest, on ``letter_type``, naming the rule and the earlier letter."""
    ordered = sorted(prior, key=lambda p: p.sent_on or date.max)
    problem = order_problem(
        request.letter_type, request.case.case_number, leaves_on, ordered, rules
    )
    if problem:
        raise InvalidRequest([FieldProblem("letter_type", problem)])
