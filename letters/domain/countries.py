"""Countries an address may be in: ISO 3166-1's officially assigned alpha-2 codes.

Babel (CLDR) knows more territory codes than ISO 3166-1 assigns: regions
(``001``, ``150``), groupings (``EU``, ``EZ``, ``UN``, ``QO``), codes ISO only
reserves (``AC``, ``CP``, ``DG``, ``EA``, ``IC``, ``TA``), user-assigned ones
(``XK``, ``XA``, ``XB``) and the unknown region ``ZZ``. None of those is a
country a letter can be posted to, so they are taken out.
"""

from __future__ import annotations

from babel import Locale

# Known to CLDR with two letters, but not assigned as a country by ISO 3166-1.
NOT_ASSIGNED = frozenset(
    {
        "AC", "CP", "CQ", "DG", "EA", "IC", "TA",  # exceptionally reserved
        "EU", "EZ", "UN", "QO",  # groupings
        "XA", "XB", "XK",  # user-assigned (XK: Kosovo in CLDR)
        "ZZ",  # unknown region
    }
)  # fmt: skip

ASSIGNED = frozenset(
    code
    for code in map(str, Locale("en").territories)
    if len(code) == 2 and code.isascii() and code.isalpha() and code not in NOT_ASSIGNED
)
