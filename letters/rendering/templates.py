"""The Jinja2 side of rendering: the environment, the template files of a letter and its version.

A letter's template is ``<language>/<letter_type>.html``; it extends the shared
``<language>/_base.html`` (which extends ``layout.html``), imports the
language's ``_parts.html`` and uses ``letter.css``
and the bundled fonts. The template version is a content hash of exactly those
files, so any change to a word, a rule or a font gives a new version.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from letters.domain.letter_types import Language, LetterType
from letters.errors import TemplateError
from letters.rendering import formatting

SHARED_FILES = ("layout.html", "letter.css")
FONT_GLOB = "fonts/*"


def template_name(letter_type: LetterType, language: Language) -> str:
    return f"{language.value}/{letter_type.value}.html"


def _nowrap(value: object) -> Markup:
    """Text that never breaks across lines: a phone number, an address on the web."""
    return Markup('<span class="nowrap">{}</span>').format(value)


class TemplateSet:
    """The template folder: a strict Jinja2 environment and per-template versions."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self.env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(self.root),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters.update(
            money=formatting.money,
            money_text=formatting.money_text,
            whole_kroner=formatting.whole_kroner,
            nowrap=_nowrap,
            long_date=formatting.long_date,
            short_date=formatting.short_date,
            date_span=formatting.date_span,
            percent=formatting.percent,
            decimal=formatting.number,
            account=formatting.account_number,
            iban=formatting.iban,
            orgnr=formatting.organization_number,
        )
        self._versions: dict[tuple[LetterType, Language], tuple[tuple[int, ...], str]] = {}

    def files_of(self, letter_type: LetterType, language: Language) -> list[Path]:
        """Every file that shapes this template's output, in a stable order."""
        files = [self.root / name for name in SHARED_FILES]
        files += sorted(self.root.glob(FONT_GLOB))
        files += [
            self.root / language.value / "_base.html",
            self.root / language.value / "_parts.html",
            self.root / template_name(letter_type, language),
        ]
        return files

    def version(self, letter_type: LetterType, language: Language) -> str:
        """``sha256:`` and the first 16 hex digits of the hash of the template's files."""
        files = self.files_of(letter_type, language)
        try:
            stamp = tuple(x for f in files for x in (f.stat().st_mtime_ns, f.stat().st_size))
        except FileNotFoundError as err:
            raise TemplateError(
                template_name(letter_type, language), None, f"missing file {err.filename}"
            ) from err
        cached = self._versions.get((letter_type, language))
        if cached and cached[0] == stamp:
            return cached[1]
        digest = hashlib.sha256()
        for f in files:
            digest.update(f.relative_to(self.root).as_posix().encode() + b"\0")
            digest.update(f.read_bytes())
        version = "sha256:" + digest.hexdigest()[:16]
        self._versions[(letter_type, language)] = (stamp, version)
        return version

    def render_html(
        self, letter_type: LetterType, language: Language, context: dict[str, Any]
    ) -> str:
        name = template_name(letter_type, language)
        with _template_errors(name, self.root):
            return self.env.get_template(name).render(context)


@contextmanager
def _template_errors(name: str, root: Path) -> Iterator[None]:
    """Turn Jinja2's errors into TemplateError naming the template file and line."""
    try:
        yield
    except jinja2.TemplateSyntaxError as err:
        raise TemplateError(err.name or name, err.lineno, err.message or str(err)) from err
    except jinja2.TemplateNotFound as err:
        raise TemplateError(name, None, f"template not found: {err.name}") from err
    except jinja2.UndefinedError as err:
        template, line = _innermost_template_frame(err, name, root)
        raise TemplateError(template, line, err.message or str(err)) from err


def _innermost_template_frame(
    err: BaseException, fallback: str, root: Path
) -> tuple[str, int | None]:
    """Jinja2 rewrites tracebacks so template frames carry the template's file and line;
    the innermost one is where the undefined name was used."""
    found: tuple[str, int | None] = (fallback, None)
    tb = err.__traceback__
    while tb is not None:
        path = Path(tb.tb_frame.f_code.co_filename)
        if path.is_relative_to(root):
            found = (path.relative_to(root).as_posix(), tb.tb_lineno)
        tb = tb.tb_next
    return found
