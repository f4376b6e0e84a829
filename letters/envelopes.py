"""Window envelopes used for Norwegian letters, and where their window is on an A4 sheet.

Measured on the envelope, from the sheet's top-left corner once folded in
(``reference/norwegian-rules.md`` §3.1, after officeconsult.no). The print
house's envelope is a setting (``LETTERS_PRINT_ENVELOPE``); the templates put
the address block where it fits all four.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Window:
    """The window, in millimetres from the sheet's left and top edges."""

    left: float
    top: float
    right: float
    bottom: float

    def describe(self) -> str:
        return (
            f"{self.left:g}–{self.right:g} mm from the left, "
            f"{self.top:g}–{self.bottom:g} mm from the top"
        )


@dataclass(frozen=True, slots=True)
class Envelope:
    name: str
    folds: str
    window: Window


def _envelope(
    name: str, folds: str, left: float, top: float, height: float, width: float
) -> Envelope:
    return Envelope(name, folds, Window(left, top, left + width, top + height))


ENVELOPES: dict[str, Envelope] = {
    envelope.name: envelope
    for envelope in (
        _envelope("E65", "A4 folded in three", 15, 40, 30, 95),
        _envelope("C6/5", "A4 folded in three", 15, 39, 35, 100),
        _envelope("C5", "A4 folded once", 15, 44, 35, 105),
        _envelope("EC4", "A4 flat", 15, 42, 40, 100),
    )
}
DEFAULT_ENVELOPE = "E65"
