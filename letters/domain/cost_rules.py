"""The costs a letter may claim: inkassoforskriften §§ 1-2, 1-3 and chapter 2, by the rate table.

A cost is either *incurred* by the letter (a cost its type charges, without
``charged_on``) or *carried forward* from an earlier letter (with the day
that letter charged it, or a cost its type does not charge: a reminder fee in
an inkassovarsel). The timing rules and the caps apply to every fee on the
day it was charged (the letter date when the day is not given: the
collection rate never falls). A cost carried forward must also have been
one its letter's sender could charge: collection costs only from a letter
the agency sent, never from the creditor's own payment demand, which carries
at most the payment-demand fee.

- A reminder fee is incurred by a purring, a notice fee by an inkassovarsel,
  each at most 1/20 of the collection rate on the day the letter is sent and
  only when it is sent at least 14 days after the due date (§ 1-2 (1), (2)).
- The creditor's own payment-demand fee (egeninkasso) is incurred by a
  betalingsoppfordring, at most 3/20, and only after a reminder's or
  inkassovarsel's deadline of at least 14 days was missed (§ 1-2 (3)); it is
  not charged beside collection costs.
- A reminder fee together with a notice fee, or a second reminder fee, only
  when a purring's deadline of at least 14 days was missed first; at most two
  reminder fees, or one with a notice fee (§ 1-3).
- Collection costs (salær) within the chapter 2 cap for the claim's size; the
  higher cap only once a betalingsoppfordring's deadline was missed by more
  than the table's days (§ 2-3); VAT on top when all or more than half of the
  claim arises from activity outside the VAT system (§ 2-2, per claim).
- Other costs are out-of-court collection costs too: they count inside the
  chapter 2 cap, so only a betalingsoppfordring or a varsel may claim them.
- The court fee and the costs of enforcement are never claimed in these
  letters: they arise only once the request for enforcement is filed.
- A later letter lists every cost an earlier letter of the case claimed, or
  lists it as waived: a cost left out of a payment demand cannot be claimed
  later.

``cost_problems`` needs only the request; ``history_problems`` also needs
the case's earlier letters (``letters.domain.letter_order.PriorLetter``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal

from letters.domain.letter_order import NAMES, PriorLetter
from letters.domain.letter_types import LetterType
from letters.domain.model import Claim, Cost, CostCode, LetterRequest
from letters.domain.rates import RateTable
from letters.domain.text import money_text
from letters.errors import FieldProblem, InvalidRequest

LABELS = {
    CostCode.REMINDER_FEE: "reminder fee",
    CostCode.COLLECTION_NOTICE_FEE: "collection notice fee",
    CostCode.PAYMENT_DEMAND_FEE: "payment demand fee",
    CostCode.COLLECTION_COSTS: "collection costs",
    CostCode.ENFORCEMENT_COSTS: "enforcement costs",
    CostCode.OTHER_COSTS: "other costs",
}

# The costs each letter may incur itself (without charged_on).
INCURRED_BY = {
    LetterType.PURRING: frozenset({CostCode.REMINDER_FEE}),
    LetterType.INKASSOVARSEL: frozenset({CostCode.COLLECTION_NOTICE_FEE}),
    LetterType.BETALINGSOPPFORDRING: frozenset(
        {CostCode.COLLECTION_COSTS, CostCode.PAYMENT_DEMAND_FEE, CostCode.OTHER_COSTS}
    ),
    LetterType.VARSEL_RETTSLIG_PAGANG: frozenset({CostCode.COLLECTION_COSTS, CostCode.OTHER_COSTS}),
}
# The share of the collection rate a fee may be, and the regulation's paragraph.
FEE_SHARE = {
    CostCode.REMINDER_FEE: (Decimal(1) / 20, "1/20", "inkassoforskriften § 1-2 (1)"),
    CostCode.COLLECTION_NOTICE_FEE: (Decimal(1) / 20, "1/20", "inkassoforskriften § 1-2 (2)"),
    CostCode.PAYMENT_DEMAND_FEE: (Decimal(3) / 20, "3/20", "inkassoforskriften § 1-2 (3)"),
}
FEE_WAIT_DAYS = 14
FEE_WAIT_CODES = frozenset({CostCode.REMINDER_FEE, CostCode.COLLECTION_NOTICE_FEE})
# The costs the chapter 2 cap covers: every out-of-court collection cost.
CAPPED_CODES = frozenset({CostCode.COLLECTION_COSTS, CostCode.OTHER_COSTS})
# The letters that may charge collection costs, when the agency sent them.
SALARY_LETTERS = frozenset({LetterType.BETALINGSOPPFORDRING, LetterType.VARSEL_RETTSLIG_PAGANG})


def vat_on_costs(claims: Sequence[Claim]) -> bool:
    """Whether VAT is added to the collection costs: when all or more than half of the
    claim (by principal) arises from activity outside the VAT system (§ 2-2)."""
    outside = sum((c.principal for c in claims if c.outside_vat), Decimal(0))
    total = sum((c.principal for c in claims), Decimal(0))
    return outside > 0 and outside * 2 > total


def capped_costs(costs: Sequence[Cost]) -> Decimal:
    return sum((c.amount for c in costs if c.code in CAPPED_CODES), Decimal(0))


def incurs(request: LetterRequest, cost: Cost) -> bool:
    """Whether this letter charges the cost, rather than carry it forward from an earlier one.

    A cost the letter's type does not charge (a reminder fee in an inkassovarsel)
    is carried forward even without ``charged_on``; so is one with a day.
    """
    return cost.charged_on is None and cost.code in INCURRED_BY[request.letter_type]


def _count(costs: Sequence[Cost], code: CostCode) -> int:
    return sum(c.code is code for c in costs)


def cost_problems(
    request: LetterRequest, letter_date: date, table: RateTable
) -> list[FieldProblem]:
    """The cost rules that need only the request, for a letter dated ``letter_date``."""
    case = request.case
    name = NAMES[request.letter_type]
    problems: list[FieldProblem] = []
    add = problems.append
    add_all = problems.extend
    for i, cost in enumerate(case.costs):
        path = f"case.costs[{i}]"
        label = LABELS[cost.code]
        if cost.code is CostCode.ENFORCEMENT_COSTS:
            add(
                FieldProblem(
                    f"{path}.code",
                    f"enforcement_costs must not be claimed in a {name}: the court fee and the "
                    "costs of enforcement arise only once the request for enforcement is filed "
                    "with the namsmann (the letter names the fee as a future cost)",
                )
            )
            continue
        if cost.amount <= 0:
            add(FieldProblem(f"{path}.amount", "must be greater than zero"))
        charged_on = cost.charged_on or letter_date
        if cost.charged_on is not None and cost.charged_on > letter_date:
            add(
                FieldProblem(
                    f"{path}.charged_on",
                    f"must not be after the letter date {letter_date.isoformat()}",
                )
            )
        if cost.code in FEE_WAIT_CODES:
            add_all(_fee_timing_problems(request, cost, path, charged_on))
        if cost.code is CostCode.OTHER_COSTS and request.letter_type not in SALARY_LETTERS:
            add(
                FieldProblem(
                    f"{path}.code",
                    f"other costs must not be claimed in a {name}: out-of-court collection "
                    "costs are covered by collection costs within the chapter 2 cap "
                    "(inkassoforskriften § 2-1), which only a betalingsoppfordring or a varsel "
                    "may claim; before that only the fees of § 1-2",
                )
            )
        if cost.code in FEE_SHARE:
            share, written, basis = FEE_SHARE[cost.code]
            rate = table.collection_rate_on(charged_on)
            cap = (rate.value * share).quantize(Decimal("0.01"))
            if cost.amount > cap:
                add(
                    FieldProblem(
                        f"{path}.amount",
                        f"a {label} may be at most {written} of the collection rate on the day "
                        f"it is charged ({basis}): {money_text(cap)} on "
                        f"{charged_on.isoformat()}, got {money_text(cost.amount)}",
                    )
                )
    reminders = _count(case.costs, CostCode.REMINDER_FEE)
    notices = _count(case.costs, CostCode.COLLECTION_NOTICE_FEE)
    if reminders > 2 or (notices and reminders > 1):
        add(
            FieldProblem(
                "case.costs",
                "at most two reminder fees, or one reminder fee with a collection notice fee, "
                f"per claim (inkassoforskriften § 1-3); got {reminders} reminder fee(s) and "
                f"{notices} notice fee(s)",
            )
        )
    for code in (CostCode.COLLECTION_NOTICE_FEE, CostCode.PAYMENT_DEMAND_FEE):
        if _count(case.costs, code) > 1:
            add(FieldProblem("case.costs", f"at most one {LABELS[code]} per claim"))
    if _count(case.costs, CostCode.PAYMENT_DEMAND_FEE) and _count(
        case.costs, CostCode.COLLECTION_COSTS
    ):
        add(
            FieldProblem(
                "case.costs",
                "a payment demand fee is the creditor's own fee (inkassoforskriften § 1-2 (3)) "
                "and is not charged beside collection costs",
            )
        )
    salary = capped_costs(case.costs)
    if salary:
        claim = sum((c.principal for c in case.claims), Decimal(0))
        vat = vat_on_costs(case.claims)
        cap = table.collection_cost_cap(claim, letter_date, higher=True, vat=vat)
        if salary > cap:
            add(_salary_problem(salary, cap, claim, "the higher cap (inkassoforskriften § 2-3)"))
    for i, waived in enumerate(case.waived_costs):
        if waived.code is CostCode.ENFORCEMENT_COSTS:
            add(FieldProblem(f"case.waived_costs[{i}].code", "enforcement costs are never claimed"))
        if waived.amount <= 0:
            add(FieldProblem(f"case.waived_costs[{i}].amount", "must be greater than zero"))
    return problems


def _salary_problem(salary: Decimal, cap: Decimal, claim: Decimal, which: str) -> FieldProblem:
    return FieldProblem(
        "case.costs",
        f"collection costs and other costs of {money_text(salary)} together exceed {which} of "
        f"{money_text(cap)} for a claim of {money_text(claim)} (inkassoforskriften chapter 2)",
    )


def _fee_timing_problems(
    request: LetterRequest, cost: Cost, path: str, charged_on: date
) -> list[FieldProblem]:
    """A reminder or notice fee, incurred or carried forward, was charged at least 14 days
    after the due date of every claim due by then (§ 1-2 (1), (2))."""
    label = LABELS[cost.code]
    basis = FEE_SHARE[cost.code][2]
    due = [c.due_date for c in request.case.claims if c.due_date < charged_on]
    if not due:
        return [
            FieldProblem(
                f"{path}.charged_on",
                f"a {label} may be charged only after a claim is due ({basis}); none of "
                f"case.claims was due by {charged_on.isoformat()}",
            )
        ]
    last_due = max(due)
    if (charged_on - last_due).days >= FEE_WAIT_DAYS:
        return []
    field = "code" if incurs(request, cost) else "charged_on"
    return [
        FieldProblem(
            f"{path}.{field}",
            f"a {label} may be charged only by a letter sent at least {FEE_WAIT_DAYS} days "
            f"after the due date {last_due.isoformat()} ({basis}); it was charged on "
            f"{charged_on.isoformat()}",
        )
    ]


def _missed_deadline(
    prior: Sequence[PriorLetter], types: frozenset[LetterType], before: date
) -> bool:
    """Whether a letter of ``types`` set a deadline of 14 days or more, run out by ``before``."""
    return any(
        p.letter_type in types
        and p.sent_on is not None
        and p.deadline is not None
        and (p.deadline - p.sent_on).days >= FEE_WAIT_DAYS
        and p.deadline < before
        for p in prior
    )


def history_problems(
    request: LetterRequest, letter_date: date, prior: Sequence[PriorLetter], table: RateTable
) -> list[FieldProblem]:
    """The cost rules that depend on the case's earlier letters."""
    case = request.case
    problems: list[FieldProblem] = []
    add = problems.append
    purring = frozenset({LetterType.PURRING})
    reminders = [c for c in case.costs if c.code is CostCode.REMINDER_FEE]
    notices = [c for c in case.costs if c.code is CostCode.COLLECTION_NOTICE_FEE]
    second = sorted(reminders, key=lambda c: c.charged_on or letter_date)[1:] + notices
    if reminders and second:
        day = min(c.charged_on or letter_date for c in second)
        if not _missed_deadline(prior, purring, day):
            what = "a second reminder fee" if not notices else "a reminder fee with a notice fee"
            add(
                FieldProblem(
                    "case.costs",
                    f"{what} is allowed only when the debtor missed a purring's deadline of at "
                    f"least {FEE_WAIT_DAYS} days before {day.isoformat()} (inkassoforskriften "
                    "§ 1-3); the case has no such purring",
                )
            )
    for i, cost in enumerate(case.costs):
        if cost.code is CostCode.PAYMENT_DEMAND_FEE:
            types = frozenset({LetterType.PURRING, LetterType.INKASSOVARSEL})
            if not _missed_deadline(prior, types, cost.charged_on or letter_date):
                add(
                    FieldProblem(
                        f"case.costs[{i}].code",
                        "a payment demand fee needs a missed deadline of at least "
                        f"{FEE_WAIT_DAYS} days in a purring or inkassovarsel "
                        "(inkassoforskriften § 1-2 (3))",
                    )
                )
    salary = capped_costs(case.costs)
    if salary:
        claim = sum((c.principal for c in case.claims), Decimal(0))
        wait = timedelta(days=table.higher_cap_after_days(letter_date))
        higher = any(
            p.letter_type is LetterType.BETALINGSOPPFORDRING
            and p.deadline is not None
            and p.deadline + wait < letter_date
            for p in prior
        )
        if not higher:
            vat = vat_on_costs(case.claims)
            cap = table.collection_cost_cap(claim, letter_date, higher=False, vat=vat)
            if salary > cap:
                add(
                    _salary_problem(
                        salary,
                        cap,
                        claim,
                        "the ordinary cap (the higher one needs a betalingsoppfordring's "
                        f"deadline missed by more than {wait.days} days)",
                    )
                )
    problems += charged_by_problems(request, prior)
    problems += carried_forward_problems(request, prior)
    return problems


def charged_by_problems(request: LetterRequest, prior: Sequence[PriorLetter]) -> list[FieldProblem]:
    """Collection costs carried forward come from a betalingsoppfordring or varsel the agency
    sent; from a payment demand the creditor sent itself, only the payment demand fee."""
    problems = []
    for i, cost in enumerate(request.case.costs):
        if cost.charged_on is None or cost.code not in CAPPED_CODES:
            continue
        label = LABELS[cost.code]
        same_day = [p for p in prior if p.sent_on == cost.charged_on]
        if any(p.by_agency and p.letter_type in SALARY_LETTERS for p in same_day):
            continue
        if same_day:
            letter = same_day[0]
            why = f"{letter.describe()} was not a betalingsoppfordring or varsel the agency sent"
            if letter.letter_type is LetterType.BETALINGSOPPFORDRING and not letter.by_agency:
                why = (
                    f"{letter.describe()} was the creditor's own payment demand, which may "
                    "charge at most the payment demand fee of 3/20 of the collection rate "
                    "(inkassoforskriften § 1-2 (3)), never collection costs"
                )
        else:
            why = f"no earlier letter of the case was sent on {cost.charged_on.isoformat()}"
        problems.append(
            FieldProblem(
                f"case.costs[{i}].charged_on",
                f"{label} carried forward must come from a betalingsoppfordring or varsel the "
                f"agency sent (inkassoforskriften chapter 2: collection costs compensate a "
                f"debt collector's work); {why}",
            )
        )
    return problems


def carried_forward_problems(
    request: LetterRequest, prior: Sequence[PriorLetter]
) -> list[FieldProblem]:
    """Every cost an earlier letter claimed is claimed again or listed as waived."""
    present = Counter((c.code, c.amount) for c in (*request.case.costs, *request.case.waived_costs))
    problems = []
    missing_seen: set[tuple[CostCode, Decimal]] = set()
    for letter in prior:
        needed = Counter((c.code, c.amount) for c in letter.costs)
        for (code, amount), count in needed.items():
            if present[(code, amount)] >= count or (code, amount) in missing_seen:
                continue
            missing_seen.add((code, amount))
            problems.append(
                FieldProblem(
                    "case.costs",
                    f"{letter.describe()} claimed a {LABELS[code]} of {money_text(amount)}; "
                    "list it in case.costs (with charged_on) or in case.waived_costs: a cost "
                    "left out of a later letter cannot be claimed again",
                )
            )
    return problems


def check_costs(
    request: LetterRequest, letter_date: date, prior: Sequence[PriorLetter], table: RateTable
) -> None:
    """Raise InvalidRequest naming every cost rule the letter, dated ``letter_date``, breaks."""
    problems = cost_problems(request, letter_date, table) + history_problems(
        request, letter_date, prior, table
    )
    if problems:
        raise InvalidRequest(problems)
