"""The repository layout rules that keep imports working."""

from __future__ import annotations

import queue
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_queue_folder_holds_no_python() -> None:
    assert (ROOT / "queue").is_dir()
    assert not list((ROOT / "queue").rglob("*.py"))


def test_standard_library_queue_is_not_shadowed() -> None:
    assert hasattr(queue, "SimpleQueue")
    assert not str(Path(queue.__file__)).startswith(str(ROOT / "queue"))


def test_bundled_fonts_carry_their_licence() -> None:
    fonts = ROOT / "templates" / "fonts"
    assert list(fonts.glob("*.ttf"))
    assert "SIL Open Font License" in (fonts / "OFL.txt").read_text(encoding="utf-8")


def test_harfbuzz_subset_is_available() -> None:
    # Without it WeasyPrint falls back to fontTools: 4-5 times slower and not reproducible.
    from weasyprint.text.ffi import harfbuzz_subset

    assert harfbuzz_subset is not None, "install libharfbuzz-subset0 (./dev does)"
