"""What text from the case system may hold, and how a rejected value is quoted.

Every text field is NFC-normalised first, so a name typed with combining
accents counts its letters once against the window's 42 characters. Then it
must hold no control characters, no bidirectional or other invisible
formatting characters (U+202E turns "Kari Nordmann" into "nnamdroN iraK" on
the page), no private-use, unassigned or surrogate code points, and no space
but the ordinary one.

A refusal names the field and the rule, never the value: a national identity
number or a name in the wrong field would otherwise travel with the reason to
the worker log, the ledger, the case system's events and the operations page.
Where the value's form helps (a date typed as 17.05.2026), ``shape`` tells
its length and the kinds of characters in it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Collection

# General categories no letter text may contain: controls, formats (the bidi
# controls, zero-width characters, soft hyphens), surrogates, private use,
# unassigned, and the line and paragraph separators.
_FORBIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# A schema name is the one value a refusal repeats: it cannot hold anyone's data.
_SCHEMA_NAME_RE = re.compile(r"[a-z][a-z0-9_.]{0,40}/[0-9]{1,4}")


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


def shape(value: object) -> str:
    """What a rejected value looks like, without any of it: "11 characters: digits"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, int | float):
        return "a JSON number"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "an object"
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    if not value:
        return "an empty string"
    kinds = [name for name, test in _CHARACTER_KINDS if any(test(c) for c in value)]
    return f"{len(value)} character(s): {', '.join(kinds)}"


_CHARACTER_KINDS = (
    ("digits", lambda c: c.isascii() and c.isdigit()),
    ("letters", str.isalpha),
    ("spaces", str.isspace),
    ("punctuation", lambda c: c.isascii() and not c.isalnum() and not c.isspace()),
    ("other characters", lambda c: not c.isascii() and not c.isalpha() and not c.isspace()),
)


def got(value: object) -> str:
    """The end of a rule that says what came instead: "; got 11 character(s): digits"."""
    return f"; got {shape(value)}"


def got_schema(value: object) -> str:
    """What came instead of a schema name: the name itself if it is one, else its shape."""
    if isinstance(value, str) and _SCHEMA_NAME_RE.fullmatch(value):
        return f'; got "{value}"'
    return got(value)


def money_text(amount: object) -> str:
    """An amount in an error message: "37.50 kr"."""
    return f"{amount} kr"
