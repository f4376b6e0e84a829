"""The documentation builds strictly, and the README stays a front page."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).parents[1]


def _build(root: Path, site: Path) -> subprocess.CompletedProcess[str]:
    mkdocs = Path(sys.executable).with_name("mkdocs")
    return subprocess.run(
        [str(mkdocs), "build", "--strict", "--site-dir", str(site)],
        cwd=root, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_the_docs_build_strictly(tmp_path: Path) -> None:
    result = _build(ROOT, tmp_path / "site")
    assert result.returncode == 0, result.stdout + result.stderr
    pages = {p.stem for p in (ROOT / "docs").glob("*.md")}
    assert len(pages) >= 10, pages
    built = {p.parent.name for p in (tmp_path / "site").glob("*/index.html")}
    assert pages - {"index"} <= built, pages - built


def _append(page: Path, text: str) -> None:
    page.write_text(page.read_text(encoding="utf-8") + text, encoding="utf-8")


def test_a_broken_link_or_a_page_left_out_fails_the_build(tmp_path: Path) -> None:
    for case, change in (
        ("link", lambda docs: _append(docs / "print.md", "\n[gone](gone.md)\n")),
        ("page", lambda docs: (docs / "stray.md").write_text("# Not in the navigation\n")),
    ):
        copy = tmp_path / case
        shutil.copytree(ROOT / "docs", copy / "docs")
        shutil.copy(ROOT / "mkdocs.yml", copy / "mkdocs.yml")
        change(copy / "docs")
        result = _build(copy, copy / "site")
        assert result.returncode != 0, (case, result.stdout + result.stderr)


def test_the_readme_is_a_front_page() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) < 200
    assert readme.splitlines()[2:6] == [
        "```sh",
        "./dev demo    # set up, then run the sample requests through the whole pipeline on "
        "embedded defaults",
        "./dev test    # set up, then run the whole test suite (needs the machine's RabbitMQ "
        "and PostgreSQL)",
        "```",
    ]
    for page in (ROOT / "docs").glob("*.md"):
        if page.stem != "index":
            assert f"(docs/{page.name})" in readme, f"the README does not point to {page.name}"
