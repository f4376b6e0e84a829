"""The C parser the renderer uses makes the tree WeasyPrint's own parser (tinyhtml5) makes.

The renderer gives WeasyPrint a tree parsed by lxml (letters/rendering/html_tree.py).
These tests hold that tree equal to tinyhtml5's for every golden request, in the
one-page and the multi-page markup, and for any text a request can carry; and they
pin the WeasyPrint internals the renderer relies on to build the ``HTML`` document.

libxml2 is not an HTML5 parser: it does not add the ``<tbody>`` HTML5 implies,
for one. The templates write theirs; a template that leans on such a rule fails
the first test here, before any letter is rendered with it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import tinyhtml5
import weasyprint
from hypothesis import given, settings
from hypothesis import strategies as st
from markupsafe import escape

from letters.domain.text import text_problem
from letters.rendering.html_tree import parse_letter_html, weasyprint_html
from letters.rendering.letter_service import LetterService
from tests.support.rendering import TEST_TODAY, golden_cases, password_for

CASES = golden_cases()


def _tinyhtml5(markup: str) -> str:
    return ET.tostring(tinyhtml5.parse(markup, namespace_html_elements=False), encoding="unicode")


def _ours(markup: str) -> str:
    return ET.tostring(parse_letter_html(markup), encoding="unicode")


@pytest.mark.parametrize("case_dir", CASES, ids=lambda p: "/".join(p.parts[-3:]))
def test_every_golden_letter_parses_to_the_tree_weasyprint_would_make(
    service: LetterService, case_dir: Path
) -> None:
    raw = (case_dir / "request.json").read_bytes()
    letter = service.compose_request(raw, TEST_TODAY, password_for(json.loads(raw)["letter_id"]))
    for multi_page in (False, True):
        markup = service.renderer.html(letter, multi_page=multi_page)
        assert _ours(markup) == _tinyhtml5(markup)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60).filter(lambda t: text_problem(t) is None))
def test_any_text_a_request_may_carry_parses_as_weasyprint_would_parse_it(text: str) -> None:
    # What the contract lets through (no control or invisible characters), escaped by
    # Jinja's autoescape as the templates do.
    value = escape(text)
    markup = (
        '<!doctype html>\n<html lang="nb">\n<head>\n<meta charset="utf-8">\n'
        f'<title>{value}</title>\n</head>\n<body>\n<p class="name">{value}</p>\n'
        f'<table><tbody><tr><td data-v="{value}">{value}</td></tr></tbody></table>\n'
        "</body>\n</html>\n"
    )
    assert _ours(markup) == _tinyhtml5(markup)


def test_the_document_has_what_weasyprint_s_own_constructor_sets() -> None:
    # The renderer sets these attributes itself (html_tree.weasyprint_html); a WeasyPrint
    # that sets others, or sets them differently, must be looked at before upgrading.
    assert weasyprint.__version__ == "70.0"
    markup = (
        '<!doctype html><html lang="en"><head><title>t</title></head><body><p>x</p></body></html>'
    )
    theirs = weasyprint.HTML(string=markup, base_url="file:///letters/")
    ours = weasyprint_html(markup, "file:///letters/", theirs.url_fetcher)
    assert set(vars(ours)) == set(vars(theirs))
    assert (ours.base_url, ours.media_type) == (theirs.base_url, theirs.media_type)
    assert type(ours.wrapper_element) is type(theirs.wrapper_element)
    assert ET.tostring(ours.etree_element) == ET.tostring(theirs.etree_element)
    assert ours.write_pdf() == theirs.write_pdf()
