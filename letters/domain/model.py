"""The letter request as the rest of the service sees it: validated, immutable."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from letters.domain.letter_types import Language, LetterType


class CostCode(StrEnum):
    """Costs the case system may add; the templates hold the label of each."""

    REMINDER_FEE = "reminder_fee"  # purregebyr, inkassoforskriften § 1-2 (1)
    COLLECTION_NOTICE_FEE = "collection_notice_fee"  # gebyr for inkassovarsel, § 1-2 (2)
    PAYMENT_DEMAND_FEE = "payment_demand_fee"  # gebyr for betalingsoppfordring, § 1-2 (3)
    COLLECTION_COSTS = "collection_costs"  # inkassosalær, inkassoforskriften kap. 2
    ENFORCEMENT_COSTS = "enforcement_costs"  # rettsgebyr and costs of enforcement
    OTHER_COSTS = "other_costs"


@dataclass(frozen=True, slots=True)
class Creditor:
    name: str
    organization_number: str


@dataclass(frozen=True, slots=True)
class Claim:
    description: str
    invoice_number: str
    due_date: date
    principal: Decimal
    invoice_date: date | None = None
    # The claim arises from activity outside the VAT system, so the creditor cannot
    # deduct VAT on collection costs; when all or more than half of the claims do, VAT
    # is added to the collection costs (inkassoforskriften § 2-2).
    outside_vat: bool = False


class PaymentTarget(StrEnum):
    """What a payment paid off."""

    # Costs, then interest, then principal (oldest due first): the order a creditor
    # applies a payment in when the debtor said nothing.
    USUAL_ORDER = "usual_order"
    # The debtor chose the principal (Lovavdelingen 1999: the debtor decides what a
    # voluntary payment covers); what is left goes to interest, then costs.
    PRINCIPAL = "principal"


@dataclass(frozen=True, slots=True)
class Payment:
    paid_on: date
    amount: Decimal
    applied_to: PaymentTarget = PaymentTarget.USUAL_ORDER
    # The claim whose principal it pays first (None: the oldest due first).
    invoice_number: str | None = None


@dataclass(frozen=True, slots=True)
class Interest:
    """Interest is charged; the service computes it from the rate table.

    ``from_date``: the first day interest runs, when later than the day after
    each claim's due date (None: from the day after the due date).
    """

    from_date: date | None = None


@dataclass(frozen=True, slots=True)
class Cost:
    code: CostCode
    amount: Decimal
    # The day an earlier letter charged it; None when this letter incurs it.
    charged_on: date | None = None


@dataclass(frozen=True, slots=True)
class EarlierLetter:
    """A letter of the case that this service did not send (the creditor's own
    inkassovarsel, say), as the case system reports it."""

    letter_type: LetterType
    sent_on: date
    deadline: date
    sent_by: str


@dataclass(frozen=True, slots=True)
class Case:
    case_number: str
    kid: str | None
    creditor: Creditor
    claims: tuple[Claim, ...]
    interest: Interest | None
    costs: tuple[Cost, ...]
    payments: tuple[Payment, ...] = ()
    earlier_letters: tuple[EarlierLetter, ...] = ()
    # Costs an earlier letter claimed that the creditor no longer claims.
    waived_costs: tuple[Cost, ...] = ()

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), Decimal(0))


@dataclass(frozen=True, slots=True)
class Address:
    lines: tuple[str, ...]
    postal_code: str
    city: str
    country_code: str

    @property
    def is_domestic(self) -> bool:
        return self.country_code == "NO"

    def __repr__(self) -> str:
        return f"Address(<hidden>, country_code={self.country_code!r})"


@dataclass(frozen=True, slots=True)
class Recipient:
    name: str
    address: Address
    national_identity_number: str | None
    digital_consent: bool

    def __repr__(self) -> str:
        # Personal data stays out of reprs, so a stray log of this object is harmless.
        return "Recipient(<personal data hidden>)"


@dataclass(frozen=True, slots=True)
class LetterRequest:
    letter_id: str
    letter_type: LetterType
    language: Language
    letter_date: date | None
    requested_deadline: date | None
    case: Case
    recipient: Recipient
