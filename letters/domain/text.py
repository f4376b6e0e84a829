"""What text from the case system may hold, and how a rejected value is quoted.

Every text field is NFC-normalised first, so a name typed with combining
accents counts its letters once against the window's 42 characters. Then it
must hold no control characters, no bidirectional or other invisible
formatting characters (U+202E turns "Kari Nordmann" into "nnamdroN iraK" on
the page), no private-use, unassigned or surrogate code points, and no space
but the ordinary one. A value quoted in an error is a short, escaped prefix:
reasons travel to logs, headers and the ledger.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection

# General categories no letter text may contain: controls, formats (the bidi
# controls, zero-width characters, soft hyphens), surrogates, private use,
# unassigned, and the line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
QUOTE_CHARS = 24


def nfc(value: str) -> str:
    return unicodedata.normalize("NFC", value)


def text_problem(value: str, drawable: Collection[int] | None = None) -> str | None:
    """Why ``value`` (already NFC) cannot be printed in a letter, or None."""
    for position, char in enumerate(value, start=1):
        category = unicodedata.category(char)
        if category in _FORBIDDEN_CATEGORIES or (category == "Zs" and char != " "):
            kind = (
                "a control character" if category == "Cc" else "an invisible or special character"
            )
            return f"must not contain {kind} (U+{ord(char):04X} at position {position})"
    if drawable is not None:
        missing = sorted({char for char in value if ord(char) not in drawable and char != " "})
        if missing:
            shown = ", ".join(f"U+{ord(c):04X}" for c in missing[:3])
            more = f" and {len(missing) - 3} more" if len(missing) > 3 else ""
            return f"holds characters the letter's fonts cannot print ({shown}{more})"
    return None


def quote(value: object, limit: int = QUOTE_CHARS) -> str:
    """A short, escaped prefix of a rejected value, safe for a log line or a header."""
    text = value if isinstance(value, str) else repr(value)
    head = text[:limit]
    escaped = head.encode("ascii", "backslashreplace").decode("ascii")
    escaped = "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in escaped)
    return repr(escaped) + ("…" if len(text) > limit else "")


def money_text(amount: object) -> str:
    """An amount in an error message: "37.50 kr"."""
    return f"{amount} kr"
