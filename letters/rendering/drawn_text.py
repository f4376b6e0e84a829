"""Draw a stencil's text once: later letters replay what drawing it did.

WeasyPrint draws a line of text glyph by glyph in Python
(``weasyprint.draw.text.draw_first_line``): a fifth of a letter's render. A
stencil's text boxes are the same objects, at the same place, for every letter
laid out on the stencil, so what drawing one does is the same every time: the
PDF operators it adds to the page's stream, and the glyph widths and Unicode
mappings it records in the document's fonts. Inside :func:`drawn_once` the
first drawing of a text box is recorded on the box, and a later drawing of the
same box at the same place replays the record: the same stream calls in the
same order, and the same font entries (never overwriting one already there,
as drawing it would not).

A box drawn with emoji images, or anything else this does not record, is
drawn as WeasyPrint draws it. tests/rendering/test_stencil.py holds stencil
letters byte for byte equal to letters laid out in full, and pins
``draw_first_line``'s signature.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import weasyprint.draw.text as weasyprint_text

WEASYPRINT_DRAW_FIRST_LINE = weasyprint_text.draw_first_line
PINNED_SIGNATURE = "(stream, textbox, text_overflow, block_ellipsis, matrix)"
_DRAWN = "_letters_drawn"
# The stream calls draw_first_line makes; anything else it asks of the stream is read only.
_RECORDED_CALLS = ("set_text_matrix", "show_text", "set_font_size", "set_text_rise")
_patching = threading.Lock()


class _TouchedKeys:
    """A font's dictionary, noting every key read or written."""

    def __init__(self, real: dict[Any, Any]) -> None:
        self.real = real
        self.keys: list[Any] = []

    def __contains__(self, key: Any) -> bool:
        self.keys.append(key)
        return key in self.real

    def __getitem__(self, key: Any) -> Any:
        self.keys.append(key)
        return self.real[key]

    def __setitem__(self, key: Any, value: Any) -> None:
        self.keys.append(key)
        self.real[key] = value

    def entries(self) -> dict[Any, Any]:
        return {key: self.real[key] for key in self.keys if key in self.real}


class _RecordedFont:
    def __init__(self, font: Any, recording: _RecordingStream) -> None:
        self._font = font
        self._recording = recording
        self.widths = _TouchedKeys(font.widths)
        self.to_unicode = _TouchedKeys(font.to_unicode)

    def __getattr__(self, name: str) -> Any:
        if name == "get_unused_glyph_id":
            # A glyph the font lacks (WeasyPrint warns, and the renderer refuses the letter).
            self._recording.complete = False
        return getattr(self._font, name)


class _RecordingStream:
    """The page's stream, noting the calls that change it."""

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.fonts: list[tuple[int, Any, _RecordedFont]] = []
        self.complete = True

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._stream, name)
        if name not in _RECORDED_CALLS:
            return real

        def recorded(*args: Any) -> Any:
            self.calls.append((name, args))
            return real(*args)

        return recorded

    def add_font(self, pango_font: Any) -> tuple[_RecordedFont, Any]:
        font, size = self._stream.add_font(pango_font)
        recorded = _RecordedFont(font, self)
        self.fonts.append((len(self.calls), pango_font, recorded))
        self.calls.append(("add_font", (pango_font,)))
        return recorded, size


class _Drawing:
    """What drawing one text box did, to do again."""

    def __init__(self, key: tuple[Any, ...], recording: _RecordingStream) -> None:
        self.key = key
        self.calls = recording.calls
        self.font_entries = {
            index: (font.widths.entries(), font.to_unicode.entries())
            for index, _, font in recording.fonts
        }

    def replay(self, stream: Any) -> None:
        for index, (name, args) in enumerate(self.calls):
            if name == "add_font":
                font, _ = stream.add_font(*args)
                widths, to_unicode = self.font_entries[index]
                for glyph, width in widths.items():
                    font.widths.setdefault(glyph, width)
                for glyph, text in to_unicode.items():
                    font.to_unicode.setdefault(glyph, text)
            else:
                getattr(stream, name)(*args)


def _draw_or_replay(
    stream: Any, textbox: Any, text_overflow: Any, block_ellipsis: Any, matrix: Any
) -> Any:
    key = (tuple(matrix.values), text_overflow, block_ellipsis)
    drawn = textbox.__dict__.get(_DRAWN)
    if drawn is not None and drawn.key == key:
        drawn.replay(stream)
        return []
    recording = _RecordingStream(stream)
    emojis = WEASYPRINT_DRAW_FIRST_LINE(recording, textbox, text_overflow, block_ellipsis, matrix)
    if not emojis and recording.complete:
        textbox.__dict__[_DRAWN] = _Drawing(key, recording)
    return emojis


@contextmanager
def drawn_once() -> Iterator[None]:
    """Within the block, a text box drawn again at the same place replays its first drawing."""
    with _patching:
        weasyprint_text.draw_first_line = _draw_or_replay
        try:
            yield
        finally:
            weasyprint_text.draw_first_line = WEASYPRINT_DRAW_FIRST_LINE
