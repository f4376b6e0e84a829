"""Which channel a letter goes to, and why: the design guide's rule in one function."""

from __future__ import annotations

from dataclasses import dataclass

from channels.base import DIGIPOST, PRINT, Identification, RecipientDirectory
from letters.domain.model import Recipient


@dataclass(frozen=True, slots=True)
class Route:
    channel: str
    reason: str


def route(recipient: Recipient, directory: RecipientDirectory) -> Route:
    """Digipost when the debtor consented, has a national id and a Digipost mailbox.

    Print and post when there is no consent, no national id, or the directory
    confirms the person has no mailbox. When the directory cannot answer it
    raises a TransientError and the letter waits: an unreachable Digipost
    never sends a letter to print by mistake.
    """
    if not recipient.digital_consent:
        return Route(PRINT, "no consent to digital delivery")
    if not recipient.national_identity_number:
        return Route(PRINT, "no national identity number")
    found = directory.identify(recipient.national_identity_number)
    return Route(DIGIPOST if found is Identification.DIGIPOST else PRINT, _REASONS[found])


_REASONS = {
    Identification.DIGIPOST: "consented and has a Digipost mailbox",
    Identification.IDENTIFIED: "consented, but Digipost knows the person without a mailbox "
    "(IDENTIFIED)",
    Identification.UNIDENTIFIED: "consented, but Digipost has no user with this national "
    "identity number (UNIDENTIFIED)",
    Identification.INVALID: "consented, but Digipost does not accept the national identity "
    "number (INVALID)",
}
