"""The ``letters.case/1`` message: the case system says a case changed state.

``{"schema": "letters.case/1", "case_number": "2026-0045127", "state": "disputed",
"at": "2026-11-24T10:15:00+01:00", "reference": "INN-88123"}``. Validated as
strictly as a request: unknown fields, a state the service does not know, a
time without an offset or a reference that is not a reference are refused,
each naming the field. A reference is an identifier of the case system's
(``INN-88123``), never free text: it is kept and shown on the operations page
as it came, so a note with a name or an address in it would put them there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError

from letters.domain.message_body import CASE_SCHEMA, DEFAULT_LIMITS, BodyLimits, request_object
from letters.domain.request_shape import (
    EARLIEST_DATE,
    LATEST_DATE,
    Code,
    case_number_problem,
    problem_from_pydantic,
)
from letters.domain.text import got, got_schema
from letters.errors import FieldProblem, InvalidRequest

STATES = ("open", "paid", "closed", "disputed", "on_hold")
_TIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]{1,6})?)?(Z|[+-][0-9]{2}:[0-9]{2})"
)


def _moment(value: object) -> datetime:
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 time string with an offset")
    if not _TIME_RE.fullmatch(value):
        raise ValueError(
            "must be an ISO 8601 time with an offset, such as 2026-11-24T10:15:00+01:00"
            f"{got(value)}"
        )
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"is not a time that exists{got(value)}") from None
    if not EARLIEST_DATE <= moment.date() <= LATEST_DATE:
        raise ValueError(f"must be from {EARLIEST_DATE} to {LATEST_DATE}")
    return moment.astimezone(UTC)


Moment = Annotated[datetime, BeforeValidator(_moment)]

_REFERENCE_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:/-]{0,39}")
REFERENCE_RULE = (
    "must be an identifier of up to 40 letters, digits and . _ : / -, with a digit in it, "
    "such as INN-88123, and not 11 digits, the shape of a national identity number "
    "(free text may hold personal data, and is refused)"
)


def _reference(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if (
        not _REFERENCE_RE.fullmatch(value)
        or not any(c.isdigit() for c in value)
        or re.fullmatch(r"[0-9]{11}", value.replace("-", "").replace(".", ""))
    ):
        raise ValueError(f"{REFERENCE_RULE}{got(value)}")
    return value


Reference = Annotated[str, BeforeValidator(_reference)]


class _CaseMessageShape(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    schema_: Literal["letters.case/1"] = Field(alias="schema")
    case_number: Code
    state: Literal["open", "paid", "closed", "disputed", "on_hold"]
    at: Moment
    reference: Reference | None = None


@dataclass(frozen=True, slots=True)
class CaseStateChange:
    case_number: str
    state: str
    # When the case changed, in UTC; the latest change of a case wins.
    at: datetime
    reference: str | None


def parse_case_message(
    raw: bytes | str | dict[str, Any], limits: BodyLimits = DEFAULT_LIMITS
) -> CaseStateChange:
    """Validate a ``letters.case/1`` message; InvalidRequest names every field at fault."""
    data = request_object(raw, limits) if isinstance(raw, bytes | str) else raw
    try:
        shape = _CaseMessageShape.model_validate(data)
    except ValidationError as err:
        problems = [_with_states(problem_from_pydantic(e), data) for e in err.errors()]
        raise InvalidRequest(problems) from None
    if problem := case_number_problem("case_number", shape.case_number):
        raise InvalidRequest([problem])
    return CaseStateChange(shape.case_number, shape.state, shape.at, shape.reference)


def _with_states(problem: FieldProblem, data: Any) -> FieldProblem:
    """Name the schema and the states in the words a case system developer looks for."""
    if problem.path == "state":
        return FieldProblem("state", f"must be one of {', '.join(STATES)}")
    if problem.path == "schema":
        came = got_schema(data.get("schema")) if "schema" in data else ""
        return FieldProblem("schema", f'must be "{CASE_SCHEMA}"{came}')
    if problem.rule == "is not a field of letters.request/1":
        return FieldProblem(problem.path, f"is not a field of {CASE_SCHEMA}")
    return problem
