"""The units settings are written in, and the readers that turn a variable into a value.

Each reader is made with its default (``positive_int(500)``) and reads one
variable: ``reader(env, name)``. An unset or empty variable gives the
default; a value that is not what the setting takes raises
ConfigurationError naming the variable and what it takes.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import time
from pathlib import Path
from typing import TypeVar

from letters.errors import ConfigurationError

T = TypeVar("T")
Env = Mapping[str, str]
Reader = Callable[[Env, str], T]

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute|h|hour))?\s*$")
_PER = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600}
_DURATION_RE = re.compile(r"^\s*(\d+)\s*(ms|s|m|h|d)?\s*$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


@dataclass(frozen=True, slots=True)
class Rate:
    """A pace for bulk jobs: letters per second, parsed from ``20/s``, ``600/min`` or ``5000/h``."""

    per_second: float

    @classmethod
    def parse(cls, text: str) -> Rate:
        """``20/s``, ``600/min``, ``5000/h`` or a plain number per second."""
        match = _RATE.match(text)
        if not match or float(match[1]) <= 0:
            raise ValueError(f"not a rate like 20/s, 600/min or 5000/h: {text!r}")
        return cls(float(match[1]) / _PER[match[2] or "s"])

    @property
    def interval(self) -> float:
        return 1.0 / self.per_second

    def __str__(self) -> str:
        return f"{self.per_second:g}/s"


def parse_delays(text: str, setting: str) -> tuple[float, ...]:
    """``"10s,1m,10m,1h"`` → ``(10.0, 60.0, 600.0, 3600.0)``; an empty list disables retries."""
    delays: list[float] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        match = _DURATION_RE.match(part)
        if not match or int(match.group(1)) == 0:
            raise ConfigurationError(
                f"{setting}: {part!r} is not a positive duration such as 500ms, 10s, 1m, 1h or 1d"
            )
        delays.append(int(match.group(1)) * _UNIT_SECONDS[match.group(2)])
    return tuple(delays)


def delay_label(seconds: float) -> str:
    """The short name of a delay, used in retry queue names: 10s, 1m, 1h, 500ms."""
    if seconds < 1:
        return f"{round(seconds * 1000)}ms"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{round(seconds)}s"


# -- readers -------------------------------------------------------------------------------


def text(default: str = "") -> Reader[str]:
    """The variable as it is; the default when it is unset (not when it is empty)."""
    return lambda env, name: env.get(name, default)


def optional_text() -> Reader[str | None]:
    return lambda env, name: env.get(name) or None


def one_of(default: str, choices: tuple[str, ...], *, upper: bool = False) -> Reader[str]:
    def read(env: Env, name: str) -> str:
        raw = env.get(name) or default
        value = raw.upper() if upper else raw
        if value not in choices:
            raise ConfigurationError(f"{name}: {value!r} is not one of {', '.join(choices)}")
        return value

    return read


def positive_int(default: int) -> Reader[int]:
    def read(env: Env, name: str) -> int:
        raw = env.get(name)
        if raw is None or raw == "":
            return default
        try:
            value = int(raw)
        except ValueError:
            value = 0
        if value < 1:
            raise ConfigurationError(f"{name}: must be a whole number of 1 or more, got {raw!r}")
        return value

    return read


def optional_positive_int() -> Reader[int | None]:
    return lambda env, name: positive_int(1)(env, name) if env.get(name) else None


def whole_number(default: int) -> Reader[int]:
    def read(env: Env, name: str) -> int:
        raw = (env.get(name) or "").strip()
        if not raw:
            return default
        if not (raw.isascii() and raw.isdigit()):
            raise ConfigurationError(f"{name}: must be a whole number of 0 or more, got {raw!r}")
        return int(raw)

    return read


def seconds(default: str, *, allow_zero: bool = False) -> Reader[float]:
    """One duration (``500ms``, ``30s``, ``5m``, ``1h``, ``90d``), in seconds."""

    def read(env: Env, name: str) -> float:
        raw = env.get(name) or default
        if allow_zero and raw.strip() in ("0", "0s"):
            return 0.0
        delays = parse_delays(raw, name)
        if len(delays) != 1:
            raise ConfigurationError(f"{name}: one duration such as 30s, got {raw!r}")
        return delays[0]

    return read


def delays(default: str) -> Reader[tuple[float, ...]]:
    return lambda env, name: parse_delays(env.get(name, default), name)


def clock_time(default: str) -> Reader[time]:
    def read(env: Env, name: str) -> time:
        raw = (env.get(name) or default).strip()
        match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", raw)
        if not match:
            raise ConfigurationError(f"{name}: {raw!r} is not a time of day such as 16:00")
        return time(int(match.group(1)), int(match.group(2)))

    return read


def flag(default: bool = False) -> Reader[bool]:
    def read(env: Env, name: str) -> bool:
        raw = env.get(name, "").strip().lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "on"):
            return True
        if raw in ("0", "false", "no", "off"):
            return False
        raise ConfigurationError(f"{name}: {raw!r} is not on or off (true/false, 1/0, yes/no)")

    return read


def optional_path() -> Reader[Path | None]:
    return lambda env, name: Path(env[name]) if env.get(name) else None


def names() -> Reader[tuple[str, ...]]:
    """A comma-separated list, blanks dropped."""
    return lambda env, name: tuple(
        part.strip() for part in env.get(name, "").split(",") if part.strip()
    )


def paths() -> Reader[tuple[Path, ...]]:
    return lambda env, name: tuple(Path(part) for part in names()(env, name))


def port() -> Reader[int | None]:
    def read(env: Env, name: str) -> int | None:
        raw = (env.get(name) or "").strip()
        if not raw:
            return None
        if not raw.isdigit() or not 0 < int(raw) < 65536:
            raise ConfigurationError(f"{name}: must be a TCP port from 1 to 65535, got {raw!r}")
        return int(raw)

    return read


def millimetres(default: tuple[float, float, float]) -> Reader[tuple[float, float, float]]:
    def read(env: Env, name: str) -> tuple[float, float, float]:
        raw = (env.get(name) or "").strip()
        if not raw:
            return default
        try:
            left, top, size = (float(part) for part in raw.split(","))
        except ValueError:
            raise ConfigurationError(
                f"{name}: must be left,top,size in millimetres, such as 2,100,12; got {raw!r}"
            ) from None
        return (left, top, size)

    return read


def rate(default: str) -> Reader[Rate]:
    def read(env: Env, name: str) -> Rate:
        try:
            return Rate.parse(env.get(name) or default)
        except ValueError as err:
            raise ConfigurationError(f"{name}: {err}") from err

    return read


def encryption(default: str = "AES256") -> Reader[str | None]:
    """Server-side encryption of an S3 bucket: ``AES256``, ``aws:kms``, or ``none`` for the
    bucket's default (None)."""

    def read(env: Env, name: str) -> str | None:
        sse = env.get(name, default)
        if sse not in ("AES256", "aws:kms", "none"):
            raise ConfigurationError(f"{name}: {sse!r} is not AES256, aws:kms or none")
        return None if sse == "none" else sse

    return read
