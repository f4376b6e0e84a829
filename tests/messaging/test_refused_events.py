"""What a refused body tells the case system: never more than the body proves, never a crash.

The dead-letter path reads a body that failed validation, so any field may
hold any JSON value: a dict as the language once made the worker exit in its
own error handler, and every later message was left in the queue.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from letters.config import PROJECT_ROOT
from letters.worker.disposition import refused_request
from tests.support.properties import PROPERTY, json_values

SAMPLE = json.loads((PROJECT_ROOT / "samples" / "purring-nb-plain.json").read_bytes())


@PROPERTY
@given(st.sampled_from(["letter_type", "language", "case", "schema"]), json_values)
def test_a_field_replaced_by_any_json_is_reported_or_left_out(field: str, value: Any) -> None:
    body = copy.deepcopy(SAMPLE)
    body[field] = value
    refused = refused_request(body)
    if refused is not None:
        expected_type = value if field == "letter_type" else "purring"
        assert refused.letter_type is None or refused.letter_type == expected_type
        assert refused.language is None or isinstance(refused.language, str)
        assert refused.case_number is None or isinstance(refused.case_number, str)


@PROPERTY
@given(json_values)
def test_any_case_value_is_safe(value: Any) -> None:
    body = copy.deepcopy(SAMPLE)
    body["case"] = {"case_number": value}
    refused = refused_request(body)
    assert refused is not None
    assert refused.case_number is None or refused.case_number == value


def test_unhashable_language_and_type_are_left_out() -> None:
    body = {**SAMPLE, "language": {"nb": 1}, "letter_type": ["purring"]}
    refused = refused_request(body)
    assert refused is not None
    assert (refused.language, refused.letter_type) == (None, None)
    assert refused.case_number == SAMPLE["case"]["case_number"]
