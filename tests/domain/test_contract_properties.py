"""Property: any body, any JSON value, any mutation of a valid request either parses or is
refused with a field path and a rule; no other exception ever comes out.

These are the messages the workers take (``letters.request/1``) and the body
checks every consumer of a message body shares.
"""

from __future__ import annotations

import copy
import json
from datetime import date
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from letters.config import TEMPLATES_DIR
from letters.domain.contract import ContractRules, parse_request
from letters.domain.kid import KidMethod
from letters.domain.message_body import canonical_uuid, peek, peek_letter_id, request_object
from letters.domain.model import LetterRequest
from letters.errors import InvalidRequest
from letters.rendering.fonts import drawable
from tests.support.properties import PROPERTY, json_values

SAMPLE: dict[str, Any] = json.loads(
    (Path(__file__).parents[1] / "golden/inkassovarsel/nb/plain/request.json").read_text()
)
RULES = ContractRules(KidMethod.MOD10, 12, drawable=drawable(TEMPLATES_DIR.resolve()))
TODAY = date(2026, 11, 21)


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [path] + [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))]
    if isinstance(value, list):
        return [path] + [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))]
    return [path]


PATHS = [p for p in _leaf_paths(SAMPLE) if p]


def _assert_parses_or_is_refused(data: Any) -> LetterRequest | None:
    try:
        request = parse_request(data, RULES, TODAY)
    except InvalidRequest as err:
        refused = err
    else:
        assert canonical_uuid(request.letter_id) == request.letter_id
        return request
    assert refused.problems, "refused without a reason"
    for problem in refused.problems:
        assert isinstance(problem.path, str)
        assert isinstance(problem.rule, str) and problem.rule
        assert len(problem.rule) < 300, problem.rule
    return None


@PROPERTY
@given(json_values)
def test_any_json_value_parses_or_is_refused_with_a_path_and_a_rule(value: Any) -> None:
    _assert_parses_or_is_refused(value)


@PROPERTY
@given(st.sampled_from(PATHS), json_values)
def test_any_field_of_a_valid_request_replaced_by_anything(
    path: tuple[Any, ...], value: Any
) -> None:
    data = copy.deepcopy(SAMPLE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    _assert_parses_or_is_refused(data)


@PROPERTY
@given(st.sampled_from(PATHS))
def test_any_field_of_a_valid_request_left_out(path: tuple[Any, ...]) -> None:
    data = copy.deepcopy(SAMPLE)
    node = data
    for part in path[:-1]:
        node = node[part]
    del node[path[-1]]
    _assert_parses_or_is_refused(data)


@PROPERTY
@given(st.binary(max_size=200) | json_values.map(lambda v: json.dumps(v).encode()))
def test_any_body_is_an_object_or_refused_and_peeking_never_fails(body: bytes) -> None:
    refused: InvalidRequest | None = None
    try:
        data: dict[str, Any] | None = request_object(body)
    except InvalidRequest as err:
        refused, data = err, None
    assert refused is None or (refused.problems and all(p.rule for p in refused.problems))
    peeked = peek(body)
    assert peeked == (data or {})
    letter_id = peek_letter_id(peeked)
    assert letter_id is None or canonical_uuid(letter_id) == letter_id
    if data is not None:
        _assert_parses_or_is_refused(data)
