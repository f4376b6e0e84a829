"""The preview site in a real browser: Debian's headless Chromium, driven by Selenium.

``letters preview --serve`` runs as its own process on a copy of the templates
(nb/purring and en/purring approved, then nb/purring reworded), and Chromium
reads the pages as a reviewer would. A screenshot of the changed template's
page is kept under ``var/test-artifacts/``.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest

from letters.config import PROJECT_ROOT
from letters.review.build import approve
from tests.support.browser import headless_chromium
from tests.support.review import (
    ARTIFACTS,
    NB_PURRING_NEW,
    NB_PURRING_OLD,
    edit,
    settings_for,
    template_folder,
)
from tests.support.stacks import wait_for

EN_PURRING_OLD = "please ignore this reminder."
EN_PURRING_NEW = "please ignore this letter."


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("preview")
    templates = template_folder(tmp)
    settings = settings_for(templates, tmp)
    approve(settings, "nb/purring", "Kari Jurist")
    approve(settings, "en/purring", "Kari Jurist")
    edit(templates / "nb" / "purring.html", NB_PURRING_OLD, NB_PURRING_NEW)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")}
    env.update(LETTERS_TEMPLATES_DIR=str(templates), LETTERS_VAR_DIR=str(tmp / "var"))
    log = tmp / "serve.log"
    with open(log, "wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "letters.cli", "preview", "--serve", "--port", "0",
             "--out", str(tmp / "site")],
            env=env, stdout=out, stderr=subprocess.STDOUT, cwd=PROJECT_ROOT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 180
        url = None
        while url is None and time.monotonic() < deadline and server.poll() is None:
            found = re.search(r"serving the preview on (\S+)", log.read_text(encoding="utf-8"))
            url = found.group(1) if found else None
            time.sleep(0.3)
        assert url, f"the preview server did not start:\n{log.read_text(encoding='utf-8')}"
        yield {"url": url, "templates": templates, "log": log}
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with headless_chromium() as driver:
        yield driver


def _loaded(browser: Any, image: Any) -> None:
    script = "return arguments[0].complete && arguments[0].naturalWidth > 0"
    wait_for(lambda: browser.execute_script(script, image), what="the page image")


def test_the_index_lists_all_eight_templates(site: dict[str, Any], browser: Any) -> None:
    browser.get(site["url"])
    rows = browser.find_elements("css selector", "tr[data-template]")
    assert sorted(r.get_attribute("data-template") for r in rows) == sorted(
        f"{lang}/{t}"
        for t in ("purring", "inkassovarsel", "betalingsoppfordring", "varsel_rettslig_pagang")
        for lang in ("nb", "en")
    )
    states = {r.get_attribute("data-template"): r.get_attribute("data-state") for r in rows}
    assert states["en/purring"] == "approved"
    assert states["nb/purring"] == "changed"
    assert states["nb/inkassovarsel"] == "not approved"
    for row in rows:
        assert re.search(r"sha256:[0-9a-f]{16}", row.text), row.text


def test_a_template_page_shows_both_languages_side_by_side(
    site: dict[str, Any], browser: Any
) -> None:
    browser.get(site["url"])
    browser.find_element("link text", "en/inkassovarsel").click()
    wait_for(lambda: browser.current_url.endswith("inkassovarsel.html#en"))
    plain = browser.find_element("css selector", '[data-scenario="plain"]')
    columns = plain.find_elements("css selector", "[data-column]")
    assert [c.get_attribute("data-column") for c in columns] == ["nb", "en"]
    nb, en = columns
    # Side by side: the same row, Bokmål on the left.
    assert nb.location["y"] == en.location["y"] and nb.location["x"] < en.location["x"]
    assert "Bokmål" in nb.text and "English" in en.text
    for column in columns:
        _loaded(browser, column.find_element("css selector", "img"))
    many = browser.find_element("css selector", '[data-scenario="many_claims"] [data-column="en"]')
    assert len(many.find_elements("css selector", ".page img")) == 2


def test_a_changed_template_shows_what_changed_and_that_it_is_not_approved(
    site: dict[str, Any], browser: Any
) -> None:
    browser.get(site["url"] + "purring.html")
    section = browser.find_element("css selector", 'section[data-language="nb"]')
    assert section.get_attribute("data-state") == "changed"
    assert "changed" in section.find_element("css selector", ".state").text
    removed = [e.text for e in section.find_elements("css selector", "[data-text-diff] del")]
    inserted = [e.text for e in section.find_elements("css selector", "[data-text-diff] ins")]
    assert "denne påminnelsen." in removed and "dette brevet." in inserted
    marked = section.find_elements("css selector", "img[data-changed-page]")
    assert marked
    _loaded(browser, marked[0])
    english = browser.find_element("css selector", 'section[data-language="en"]')
    assert english.get_attribute("data-state") == "approved"
    assert not english.find_elements("css selector", "[data-changes]")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    shot = ARTIFACTS / "preview-purring-changed.png"
    section.find_element("css selector", "[data-changes]").screenshot(str(shot))
    assert shot.stat().st_size > 10_000


def _state_of(browser: Any, language: str) -> str | None:
    """The review state a language's section shows; None while the page reloads."""
    from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException

    try:
        section = browser.find_element("css selector", f'section[data-language="{language}"]')
        return section.get_attribute("data-state")  # type: ignore[no-any-return]
    except (StaleElementReferenceException, NoSuchElementException):
        # The page reloaded between finding the section and reading it.
        return None


def test_the_served_site_renders_again_when_a_template_changes(
    site: dict[str, Any], browser: Any
) -> None:
    browser.get(site["url"] + "purring.html")
    english = browser.find_element("css selector", 'section[data-language="en"]')
    assert english.get_attribute("data-state") == "approved"
    edit(site["templates"] / "en" / "purring.html", EN_PURRING_OLD, EN_PURRING_NEW)
    # The open page reloads itself once the server has rendered the template again.
    wait_for(
        lambda: _state_of(browser, "en") == "changed",
        timeout=90,
        what="the page to show en/purring changed",
    )
    section = browser.find_element("css selector", 'section[data-language="en"]')
    inserted = [e.text for e in section.find_elements("css selector", "[data-text-diff] ins")]
    removed = [e.text for e in section.find_elements("css selector", "[data-text-diff] del")]
    assert inserted[:1] == ["letter."]
    assert removed[:1] == ["reminder."]
    browser.save_screenshot(str(ARTIFACTS / "preview-purring-after-edit.png"))
