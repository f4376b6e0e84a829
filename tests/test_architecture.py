"""The layout holds: import contracts (import-linter), one writer of the history, helpers once.

The contracts live in ``pyproject.toml`` under ``[tool.importlinter]``; each
test here either runs them or shows that they catch a wrong import.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
PACKAGES = ("letters", "channels")
CONTRACTS = {
    "layers": "Each layer imports only the layers below it",
    "ledger-tables": "Only the ledger package touches the ledger's tables",
    "digipost-double": "The local Digipost double is imported only where one is started",
    "print-house-double": "The local print house is imported only by the commands that start",
    "pure-channels": "Channels are vendor adapters: no ledger, storage, delivery or broker",
    "independent-providers": "Each provider's package stands alone: none imports another",
    "vendor-sqlalchemy": "SQLAlchemy and Alembic are the ledger's alone",
    "vendor-kombu": "kombu and amqp are the broker adapter's (messaging, and the worker's",
    "vendor-httpx": "httpx is the Digipost client's alone",
    "vendor-weasyprint": "WeasyPrint and pydyf are the renderer's alone",
    "vendor-boto3": "boto3 and botocore are the stores' and the key store's alone",
    "light-foundations": "The foundations, the stores and the broker do not pull in validation",
    "no-cycles": "No import cycles between sibling packages or modules",
}
# One wrong import per contract, appended to a copy of the tree.
WRONG_IMPORTS = {
    "layers": ("letters/domain/kid.py", "import letters.delivery.pipeline"),
    "ledger-tables": (
        "letters/delivery/routing.py",
        "from letters.ledger.schema import letters as _t",
    ),
    "digipost-double": ("letters/cli/status.py", "import channels.digipost.double"),
    "print-house-double": (
        "letters/delivery/print_answers.py",
        "import channels.print_post.double",
    ),
    "pure-channels": ("channels/print_post/channel.py", "import letters.storage"),
    "independent-providers": ("channels/fake.py", "import channels.print_post.sheet_codes"),
    "vendor-sqlalchemy": ("letters/delivery/routing.py", "import sqlalchemy"),
    "vendor-kombu": ("letters/worker/periodic.py", "import kombu"),
    "vendor-httpx": ("letters/delivery/digipost_sync.py", "import httpx"),
    "vendor-weasyprint": ("channels/print_post/assembly.py", "import pydyf"),
    "vendor-boto3": ("letters/ledger/store.py", "import boto3"),
    "light-foundations": ("letters/storage/directory.py", "import pydantic"),
    "no-cycles": ("letters/ledger/schema.py", "import letters.ledger.store"),
}


def _lint_imports(cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run(
        [str(lint), "--no-cache"], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )


def _source_files() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def test_the_import_contracts_hold() -> None:
    result = _lint_imports(ROOT)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in result.stdout


@pytest.mark.parametrize("contract", sorted(WRONG_IMPORTS))
def test_a_wrong_import_breaks_its_contract(tmp_path: Path, contract: str) -> None:
    for item in (*PACKAGES, "pyproject.toml"):
        source = ROOT / item
        if source.is_dir():
            shutil.copytree(source, tmp_path / item, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(source, tmp_path / item)
    module, line = WRONG_IMPORTS[contract]
    with open(tmp_path / module, "a", encoding="utf-8") as out:
        out.write(f"\n{line}  # noqa\n")
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    result = _lint_imports(tmp_path, env)
    assert result.returncode == 1, result.stdout + result.stderr
    report = " ".join(result.stdout.split())
    verdict = report.split(CONTRACTS[contract], 1)[1].split(maxsplit=40)
    assert next(w for w in verdict if w in {"KEPT", "BROKEN"}) == "BROKEN", report


def _table_writes(path: Path) -> list[tuple[str, int]]:
    """``insert(t)``, ``update(t)`` and ``delete(t)`` calls in a file, with the table's name."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id in {"insert", "update", "delete"}
            and node.args
            and isinstance(node.args[0], ast.Name)
        ):
            found.append((node.args[0].id, node.lineno))
    return found


def test_only_the_history_module_writes_letters_and_their_events() -> None:
    writers = {
        f"{path.relative_to(ROOT)}:{line}"
        for path in _source_files()
        for table, line in _table_writes(path)
        if table in {"letters", "letter_events"}
    }
    assert writers, "the scan found no writes at all; it is looking in the wrong place"
    assert {w.split(":")[0] for w in writers} == {"letters/ledger/history.py"}, sorted(writers)


def test_no_table_is_written_outside_the_ledger_package() -> None:
    outside = [
        f"{path.relative_to(ROOT)}:{line} writes {table}"
        for path in _source_files()
        if not path.is_relative_to(ROOT / "letters" / "ledger")
        for table, line in _table_writes(path)
    ]
    assert outside == []


@pytest.mark.parametrize(
    "definition",
    [
        "def utcnow",
        "def today_in_norway",
        "def as_utc",
        "def sha256_hex",
        'ZoneInfo("Europe/Oslo")',
    ],
)
def test_shared_helpers_are_defined_once(definition: str) -> None:
    places = [
        path.relative_to(ROOT).as_posix()
        for path in _source_files()
        if definition in path.read_text(encoding="utf-8")
    ]
    assert len(places) == 1, places


def _store_constructions(path: Path) -> list[str]:
    """Calls that build one of the ledger's stores, as ``Class:line``."""
    from letters.ledger.stores import STORE_CLASSES

    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
            if name in STORE_CLASSES:
                found.append(f"{name}:{node.lineno}")
    return found


def test_only_the_ledger_builds_its_stores() -> None:
    built = {
        str(path.relative_to(ROOT)): calls
        for path in _source_files()
        if (calls := _store_constructions(path))
    }
    inside = {p for p in built if p.startswith("letters/ledger/")}
    assert "letters/ledger/stores.py" in inside, "the scan finds no store built at all"
    assert {p: c for p, c in built.items() if p not in inside} == {}


def test_the_ledger_hands_out_a_small_face() -> None:
    """The ledger, a letter's record and statuses, the locks and the errors; a store's
    value types come from their own modules, its verbs through ``ledger.<store>``."""
    import letters.ledger as ledger_package

    face = set(ledger_package.__all__)
    assert face == {n for n in vars(ledger_package) if not n.startswith("_")} - {
        # Submodules, bound on the package as they are imported.
        n
        for n, v in vars(ledger_package).items()
        if type(v).__name__ == "module"
    }
    assert "Ledger" in face and "LetterStatus" in face
    assert len(face) <= 20, sorted(face)
