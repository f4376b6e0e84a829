"""Structured logs accept only fields that cannot carry personal data."""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import pytest

from letters.logs import LOGGERS, JsonFormatter, log_event


def test_an_event_is_one_json_line_with_its_fields(caplog: pytest.LogCaptureFixture) -> None:
    logger = logging.getLogger("letters.test")
    with caplog.at_level(logging.INFO, logger="letters.test"):
        log_event(logger, "rendered", letter_id="l-1", case_number="2026-1", pages=2)
    line = JsonFormatter().format(caplog.records[0])
    assert "\n" not in line
    data = json.loads(line)
    assert data["event"] == "rendered" and data["level"] == "info"
    assert (data["letter_id"], data["case_number"], data["pages"]) == ("l-1", "2026-1", 2)


@pytest.mark.parametrize("field", ["name", "address", "national_identity_number", "password"])
def test_fields_that_could_carry_personal_data_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match="not allowed"):
        log_event(logging.getLogger("letters.test"), "oops", **{field: "x"})


def test_exceptions_are_logged_by_type_and_place_not_message() -> None:
    try:
        raise KeyError("Kari Nordmann")
    except KeyError:
        record = logging.LogRecord("t", logging.ERROR, __file__, 1, "failed", None, None)
        record.exc_info = sys.exc_info()
    data = json.loads(JsonFormatter().format(record))
    assert data["error"] == "KeyError"
    assert "Kari" not in json.dumps(data)


def test_logs_go_to_standard_error_as_it_is_when_they_are_written(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import io
    import logging

    from letters.logs import configure_logging

    configure_logging("INFO")
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    logging.getLogger("letters.test").info("one")
    monkeypatch.setattr("sys.stderr", later)
    first.close()  # a test's captured stream, gone: logging must not write to it
    logging.getLogger("letters.test").info("two")
    assert '"event": "two"' in later.getvalue()


def test_every_logger_the_code_names_is_in_the_table_and_every_one_in_the_table_is_used() -> None:
    root = Path(__file__).parents[1]
    named = {
        match
        for package in ("letters", "channels")
        for path in (root / package).rglob("*.py")
        for match in re.findall(r'getLogger\("([^"]+)"\)', path.read_text(encoding="utf-8"))
    }
    # WeasyPrint's own logger is quietened, not one of ours.
    assert named - {"weasyprint"} == set(LOGGERS), sorted(named ^ set(LOGGERS))
