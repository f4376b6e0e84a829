"""What a process pays for importing a part of the service: the foundations, the broker
and the stores load no validation or rendering library, because the package root hands
out its names lazily (PEP 562). Each check runs in a fresh interpreter."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
HEAVY = ("pydantic", "weasyprint", "sqlalchemy", "stdnum")
FOUNDATIONS = (
    "letters",
    "letters.clock",
    "letters.config",
    "letters.digests",
    "letters.envelopes",
    "letters.errors",
    "letters.local_http",
    "letters.logs",
    "letters.metrics",
    "letters.secret_files",
)
# What each part may load of HEAVY: the ledger is SQLAlchemy's.
PARTS = {
    "the foundations": (FOUNDATIONS, ()),
    "the broker": (("letters.messaging.broker", "letters.messaging.topology"), ()),
    "the stores": (("letters.storage",), ()),
    "the ledger": (("letters.ledger",), ("sqlalchemy",)),
}


def _loaded(modules: tuple[str, ...], root: Path = ROOT) -> list[str]:
    """Which of HEAVY a fresh interpreter holds after importing ``modules``."""
    program = (
        "import importlib, json, sys\n"
        f"for name in {list(modules)!r}: importlib.import_module(name)\n"
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=root, env=env, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


@pytest.mark.parametrize("part", sorted(PARTS))
def test_a_part_of_the_service_loads_only_its_own_libraries(part: str) -> None:
    modules, allowed = PARTS[part]
    assert _loaded(modules) == list(allowed)


def test_the_root_still_hands_out_every_public_name() -> None:
    import letters

    assert sorted(letters.__all__) == sorted(letters._EXPORTS)
    for name in letters.__all__:
        assert getattr(letters, name) is not None
    with pytest.raises(AttributeError, match="no attribute 'Nothing'"):
        _ = letters.Nothing  # type: ignore[attr-defined]


def test_an_eager_import_in_the_root_is_caught(tmp_path: Path) -> None:
    shutil.copytree(
        ROOT / "letters", tmp_path / "letters", ignore=shutil.ignore_patterns("__pycache__")
    )
    root = tmp_path / "letters" / "__init__.py"
    root.write_text(
        root.read_text() + "\nfrom letters.rendering.letter_service import LetterService\n"
    )
    assert "weasyprint" in _loaded(FOUNDATIONS, tmp_path)


def test_the_command_line_s_help_loads_no_renderer() -> None:
    program = (
        "import contextlib, json, sys\n"
        "from letters.cli import main\n"
        "with contextlib.redirect_stdout(sys.stderr), contextlib.suppress(SystemExit):\n"
        "    main(['--help'])\n"
        "print(json.dumps([m for m in ('weasyprint', 'pydyf') if m in sys.modules]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", program], cwd=ROOT, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "render" in result.stderr and json.loads(result.stdout) == []
