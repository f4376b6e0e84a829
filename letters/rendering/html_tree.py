"""The letter's HTML parsed by libxml2 (lxml's C parser) into the tree WeasyPrint lays out.

WeasyPrint parses HTML with tinyhtml5, in pure Python: about 6 ms of a
letter's render. lxml parses the same markup in well under a millisecond,
and its tree, moved to the standard library's ElementTree (which WeasyPrint
walks) through lxml's serialiser and the C expat parser, is the tree tinyhtml5
makes once the whitespace around ``<head>`` and after ``</body>`` is placed
where HTML5 places it. tests/rendering/test_html_tree.py holds the two trees
equal on every golden request and review scenario, and pins the WeasyPrint
internals used here: an upgrade that changes them fails that test.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any

import cssselect2
import lxml.etree
import lxml.html
from weasyprint import HTML


def parse_letter_html(markup: str) -> ET.Element:
    """The element tree tinyhtml5 would make of ``markup`` (HTML elements without a namespace)."""
    root = lxml.html.document_fromstring(markup)
    # HTML5 drops whitespace before <head>, and moves text after </body> and </html>
    # into the body; libxml2 keeps them where they stand.
    root.text = None
    body = root.find("body")
    # libxml2 drops what follows </html>; HTML5 keeps it (whitespace, in a letter) in the body.
    end = markup.rfind("</html>")
    beyond = markup[end + len("</html>") :] if end >= 0 else ""
    after = ((body.tail if body is not None else None) or "") + (beyond if beyond.isspace() else "")
    if body is not None and after:
        if len(body):
            body[-1].tail = (body[-1].tail or "") + after
        else:
            body.text = (body.text or "") + after
        body.tail = None
    root.tail = None
    # The XML is lxml's serialisation of one element: no DTD, so no entity to expand.
    parser = ET.XMLParser(target=ET.TreeBuilder(insert_comments=True))  # noqa: S314
    parser.feed(lxml.etree.tostring(root, encoding="unicode"))
    tree: ET.Element = parser.close()
    return tree


def weasyprint_html(markup: str, base_url: str, url_fetcher: Any) -> HTML:
    """A WeasyPrint ``HTML`` document of ``markup``, as ``HTML(string=…)`` makes it but
    parsed by :func:`parse_letter_html`. The attributes set are those of
    ``HTML.__init__`` in WeasyPrint 70 (pinned by the test); the letters have no
    ``<base>`` element, so the base URL is the one given."""
    return html_of_tree(parse_letter_html(markup), base_url, url_fetcher)


def html_of_tree(tree: ET.Element, base_url: str, url_fetcher: Any) -> HTML:
    """A WeasyPrint ``HTML`` document of an element tree :func:`parse_letter_html` made."""
    document: HTML = HTML.__new__(HTML)
    document.base_url = base_url
    document.url_fetcher = url_fetcher
    document.media_type = "print"
    document.wrapper_element = cssselect2.ElementWrapper.from_html_root(tree, content_language=None)
    document.etree_element = document.wrapper_element.etree_element
    return document
