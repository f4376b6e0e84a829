"""The ``letters`` command line: exit codes, messages and files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from letters.cli import main
from letters.config import PROJECT_ROOT
from tests.support.rates import suite_rates_env
from tests.support.rendering import GOLDEN_DIR

REQUEST = GOLDEN_DIR / "varsel_rettslig_pagang/en/foreign_address/request.json"


def test_render_one_request_to_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "letter.pdf"
    html = tmp_path / "letter.html"
    assert main(["render", str(REQUEST), "-o", str(out), "--html", str(html)]) == 0
    assert out.read_bytes().startswith(b"%PDF-1.7")
    page = html.read_text(encoding="utf-8")
    assert "Notice of legal enforcement" in page
    assert "****-****-****" in page  # the password stays in the PDF only
    assert "letter.css" in page
    printed = capsys.readouterr().out
    assert "varsel_rettslig_pagang/en" in printed and "page(s)" in printed


def test_render_many_requests_to_a_folder(tmp_path: Path) -> None:
    requests = sorted(GOLDEN_DIR.glob("purring/*/plain/request.json"))
    assert main(["render", *map(str, requests), "-o", str(tmp_path / "out")]) == 0
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    ids = sorted(json.loads(r.read_text())["letter_id"] + ".pdf" for r in requests)
    assert names == ids


def test_invalid_request_exits_2_with_one_error_per_line_path_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads(REQUEST.read_text())
    data["case"]["claims"][0]["principal"] = "-3"
    data["language"] = "de"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    out = tmp_path / "bad.pdf"
    assert main(["render", str(bad), "-o", str(out)]) == 2
    assert not out.exists()
    lines = capsys.readouterr().err.splitlines()
    # A warning the service logs (the rate table ends soon) may come first.
    problems = lines[lines.index(f"{bad}: invalid request") + 1 :]
    assert "case.claims[0].principal: must not be negative" in problems
    assert "language: must be one of 'nb' or 'en'; got 2 character(s): letters" in problems


def test_render_refuses_a_letter_its_reported_history_forbids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = json.loads((PROJECT_ROOT / "samples" / "betalingsoppfordring-nb-plain.json").read_text())
    # The creditor's purring stays (the fees the letter carries need it, § 1-3); its
    # inkassovarsel is reported later, with a deadline still running.
    purring = [e for e in data["case"]["earlier_letters"] if e["letter_type"] == "purring"]
    data["case"]["earlier_letters"] = [
        *purring,
        {"letter_type": "inkassovarsel", "sent_on": "2026-11-20", "deadline": "2026-12-04",
         "sent_by": "Fjellkraft AS"},
    ]  # fmt: skip
    early = tmp_path / "early.json"
    early.write_text(json.dumps(data))
    out = tmp_path / "early.pdf"
    assert main(["render", str(early), "-o", str(out), "--today", "2026-12-01"]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert "letter_type: inkassoloven § 10 (1): a betalingsoppfordring may be sent only" in err
    assert (
        "the inkassovarsel of 2026-11-20 (sent by Fjellkraft AS (case.earlier_letters[1]))" in err
    )
    assert "deadline 2026-12-04" in err
    # After that deadline the same letter renders.
    assert main(["render", str(early), "-o", str(out), "--today", "2026-12-05"]) == 0
    assert out.exists()


def test_unreadable_request_and_bad_arguments_exit_2(tmp_path: Path) -> None:
    assert main(["render", str(tmp_path / "missing.json"), "-o", str(tmp_path / "x.pdf")]) == 2
    assert main(["render", "--no-such-flag"]) == 2
    assert main(["render", str(REQUEST), "-o", str(tmp_path / "x.pdf"), "--today", "tomorrow"]) == 2


def test_help_exits_0() -> None:
    assert main(["--help"]) == 0
    assert main(["render", "--help"]) == 0


def test_a_bad_agency_profile_stops_with_a_message_naming_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("LETTERS_AGENCY_PROFILE", str(tmp_path / "nope.toml"))
    assert main(["render", str(REQUEST), "-o", str(tmp_path / "x.pdf")]) == 1
    assert "LETTERS_AGENCY_PROFILE" in capsys.readouterr().err


def test_the_installed_command_runs(tmp_path: Path) -> None:
    out = tmp_path / "x.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "letters.cli", "render", str(REQUEST), "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, **suite_rates_env()},
    )
    assert result.returncode == 0, result.stderr
    assert out.exists()


def test_demo_runs_the_samples_through_the_whole_pipeline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [k for k in os.environ if k.startswith("LETTERS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("LETTERS_VAR_DIR", str(tmp_path))
    assert main(["demo"]) == 0
    out = capsys.readouterr().out.splitlines()
    samples = len(list((PROJECT_ROOT / "samples").glob("*.json")))
    summary = next(i for i, line in enumerate(out) if "letter(s) finished" in line)
    assert out[summary].startswith(f"{samples} of {samples} letter(s) finished")
    assert len(list((tmp_path / "archive").rglob("*.pdf"))) == samples
    consenting = [
        p
        for p in (PROJECT_ROOT / "samples").glob("*.json")
        if json.loads(p.read_text(encoding="utf-8"))["recipient"]["digital_consent"]
    ]
    assert 0 < len(consenting) < samples
    # Consenting sample debtors have a mailbox at the local Digipost double.
    mailbox = list((tmp_path / "digipost-double" / "documents").glob("*.pdf"))
    assert len(mailbox) == len(consenting)
    # Everyone else is in a print batch, cut at the end of the demo, with its manifest.
    manifests = list((tmp_path / "print").glob("*/*.json"))
    assert manifests, "the demo left no print batch"
    printed = [
        letter
        for manifest in manifests
        for letter in json.loads(manifest.read_text(encoding="utf-8"))["letters"]
    ]
    assert len(printed) == samples - len(consenting)
    for manifest in manifests:
        assert manifest.with_suffix(".pdf").is_file() and manifest.with_suffix(".csv").is_file()
    assert "print batch " in "\n".join(out)
    assert f"  {len(consenting)} to the local Digipost double's mailbox" in "\n".join(out)


def test_keys_rotate_moves_the_data_keys_to_a_new_master_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from letters.ledger.keys import make_key_file

    monkeypatch.setenv("LETTERS_VAR_DIR", str(tmp_path / "var"))
    request = tmp_path / "request.json"
    request.write_bytes(REQUEST.read_bytes())
    assert main(["publish", str(request)]) == 0
    assert main(["worker", "--until-empty"]) == 0
    capsys.readouterr()
    new = make_key_file(tmp_path / "new-master-key")
    monkeypatch.setenv("LETTERS_LEDGER_KEY_FILE", str(new))
    old = tmp_path / "var" / "ledger-master-key"
    monkeypatch.setenv("LETTERS_LEDGER_RETIRED_KEY_FILES", str(old))
    assert main(["keys", "rotate"]) == 0
    assert "re-wrapped 1 data key(s)" in capsys.readouterr().out
    monkeypatch.delenv("LETTERS_LEDGER_RETIRED_KEY_FILES")
    # Only the new key now, and the letter's request opens.
    letter_id = json.loads(REQUEST.read_bytes())["letter_id"]
    assert main(["status", letter_id, "--json"]) == 0
    assert main(["keys", "rotate"]) == 0
    assert "re-wrapped 0 data key(s)" in capsys.readouterr().out


def test_version_and_help_in_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"letters {version('letters')}"
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    assert "The letters command line" in out and "``" not in out
    assert main(["resend", "--help"]) == 0
    assert "``" not in capsys.readouterr().out
