"""Fuzz: seeded, mutated bodies through a real worker on each transport, every body accounted for.

    ./dev fuzz [--bodies 1000] [--transport embedded|rabbitmq|both] [--seed 1]

The bodies come from the sample requests, each changed in one of the ways a
hostile or buggy case system would: lone surrogates, deep nesting, digits
that are not ASCII, huge values, the same letter id in other spellings or with
another body, bidirectional and control characters, characters the fonts
lack, regions for countries, week dates and far-off years, blank names, any
field replaced by any JSON or left out, and bodies that are not JSON, not
UTF-8, not an object or too large; a share stays valid. All are published at
once (the fake channels stand in for Digipost and print) and a worker runs
until the queue is empty. Then each body is looked up:

- accepted: its letter is in the ledger (an accepted body must be valid, as
  ``parse_request`` here judges it; a second spelling of the same letter is
  the same letter);
- dead-lettered: the ledger holds a dead letter with its body's SHA-256 and
  a reason;
- lost: neither; crashed: the worker exited non-zero or logged a traceback.

Exits 1 if any body is lost, any invalid one accepted, any valid one refused
(other than by a conflict), any accepted letter left undelivered, or any
worker crashed.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from kombu import Connection
from sqlalchemy import create_engine, select, text
from sqlalchemy.pool import NullPool

from benchmarks.summary import print_summary
from channels.fake import delivered_records
from letters.clock import today_in_norway
from letters.config import PROJECT_ROOT, Settings
from letters.digests import sha256_hex
from letters.domain.contract import parse_request
from letters.domain.kid import KidMethod, make_kid
from letters.domain.message_body import canonical_uuid
from letters.errors import InvalidRequest
from letters.ledger import Ledger
from letters.ledger.schema import dead_letters, letters
from letters.messaging.broker import Publisher, topology_for
from letters.rendering.letter_service import LetterService
from tests.support.rates import suite_rates_env, use_suite_rates
from tests.support.stacks import secrets_env

BROKER_URL = os.environ.get("LETTERS_TEST_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
POSTGRES_ADMIN_URL = os.environ.get(
    "LETTERS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SAMPLES = sorted((PROJECT_ROOT / "samples").glob("*.json"))
TEXT_FIELDS = [
    ("recipient", "name"),
    ("recipient", "address", "city"),
    ("recipient", "address", "lines", 0),
    ("case", "creditor", "name"),
    ("case", "claims", 0, "description"),
    ("case", "claims", 0, "invoice_number"),
]
DIGIT_FIELDS = [
    (("case", "kid"), "2026004512{}"),
    (("recipient", "address", "postal_code"), "01{}5"),
    (("case", "claims", 0, "principal"), "12{}9.00"),
    (("case", "case_number"), "2026-004{}127"),
    (("recipient", "national_identity_number"), "150765{}0565"),
    (("case", "creditor", "organization_number"), "99887{}660"),
]
OTHER_DIGITS = "²٣３۴५"
INVISIBLE = "\u202e\u202d\u2066\u200b\u200d\u00ad\ufeff\x07\x1b\u2028"
UNDRAWABLE = ["😀", "مرحبا", "你好", "\u2011", "𝔘"]
NOT_COUNTRIES = ["001", "150", "EU", "QO", "XK", "ZZ", "UN", "AC", "no", "NOR"]
ODD_DATES = ["2026-W37-2", "2026-329", "20261123", "9999-12-30", "0001-01-01", "2026-02-30"]


@dataclass
class Body:
    kind: str
    raw: bytes
    # The letter id this body should end as (its canonical spelling), if any.
    letter_id: str | None = None


@dataclass
class Counts:
    transport: str
    bodies: int = 0
    valid: int = 0
    accepted: int = 0
    dead_lettered: int = 0
    lost: list[str] = field(default_factory=list)
    invalid_accepted: list[str] = field(default_factory=list)
    valid_refused: list[str] = field(default_factory=list)
    crashed: int = 0
    # Letters accepted but not delivered by the fake channels.
    undelivered: int = 0
    by_kind: Counter[str] = field(default_factory=Counter)


def _set(data: dict[str, Any], path: tuple[Any, ...], value: Any) -> None:
    node: Any = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value


def _leaf_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaf_paths(v, (*path, k))] or [path]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaf_paths(v, (*path, i))] or [path]
    return [path]


def _random_json(chance: random.Random, depth: int = 0) -> Any:
    def word() -> str:
        return "".join(
            chance.choice("0123456789abc -.:\u00e5") for _ in range(chance.randrange(12))
        )

    makers: list[Callable[[], Any]] = [
        lambda: None,
        lambda: True,
        lambda: chance.randint(-(10**6), 10**6),
        lambda: chance.random() * 1e6,
        lambda: "",
        word,
        lambda: chance.choice(["2026-11-23", "NO", "purring", "nb", "letters.request/1"]),
    ]
    if depth < 2:
        makers.append(lambda: [_random_json(chance, depth + 1) for _ in range(chance.randrange(3))])
        makers.append(
            lambda: {word(): _random_json(chance, depth + 1) for _ in range(chance.randrange(3))}
        )
    return chance.choice(makers)()


def generate(count: int, seed: int) -> list[Body]:
    chance = random.Random(seed)  # noqa: S311 - reproducible test input, not secrets
    samples = [json.loads(p.read_text(encoding="utf-8")) for p in SAMPLES]
    valid_ids: list[tuple[str, dict[str, Any]]] = []

    def fresh() -> dict[str, Any]:
        data = copy.deepcopy(chance.choice(samples))
        data["letter_id"] = str(uuid.UUID(int=chance.getrandbits(128), version=4))
        # A case of its own: two letters of a type for one case is the order rule's business.
        case = data["case"]
        case["case_number"] = f"2026-{chance.randrange(10**7):07d}"
        if case.get("kid"):
            case["kid"] = make_kid(case["case_number"].replace("-", "").zfill(11), KidMethod.MOD10)
        return data

    def encode(data: Any) -> bytes:
        return json.dumps(data, ensure_ascii=chance.random() < 0.5).encode("utf-8", "surrogatepass")

    def valid() -> Body:
        data = fresh()
        if chance.random() < 0.2 and data["recipient"].get("national_identity_number"):
            nin = data["recipient"]["national_identity_number"]
            data["recipient"]["national_identity_number"] = f"{nin[:6]} {nin[6:]}"
        valid_ids.append((data["letter_id"], data))
        return Body("valid", encode(data), data["letter_id"])

    def other_spelling() -> Body:
        if not valid_ids:
            return valid()
        letter_id, data = chance.choice(valid_ids)
        spelled = chance.choice(
            [
                letter_id.upper(),
                letter_id.replace("-", ""),
                "{" + letter_id + "}",
                "urn:uuid:" + letter_id,
            ]
        )
        return Body("other spelling", encode({**data, "letter_id": spelled}), letter_id)

    def conflict() -> Body:
        if not valid_ids:
            return valid()
        letter_id, data = chance.choice(valid_ids)
        changed = copy.deepcopy(data)
        changed["case"]["claims"][0]["principal"] = "777.00"
        return Body("same id, other body", encode(changed), letter_id)

    def surrogate() -> Body:
        data = fresh()
        path = chance.choice([("letter_id",), *TEXT_FIELDS])
        _set(data, path, "x\udc00y")
        return Body("lone surrogate", encode(data))

    def nested() -> Body:
        depth = chance.choice([17, 50, 1000, 5000])
        return Body(
            "deep nesting",
            b'{"schema": "letters.request/1", "case": ' + b"[" * depth + b"]" * depth + b"}",
        )

    def other_digits() -> Body:
        data = fresh()
        path, template = chance.choice(DIGIT_FIELDS)
        _set(data, path, template.format(chance.choice(OTHER_DIGITS)))
        return Body("non-ASCII digits", encode(data))

    def huge() -> Body:
        data = fresh()
        path = chance.choice([("letter_date",), *TEXT_FIELDS])
        _set(data, path, "2026-" + "x" * chance.choice([5_000, 50_000, 200_000]))
        return Body("huge value", encode(data))

    def invisible() -> Body:
        data = fresh()
        path = chance.choice(TEXT_FIELDS)
        _set(data, path, f"Kari {chance.choice(INVISIBLE)}Nordmann")
        return Body("invisible or control character", encode(data))

    def undrawable() -> Body:
        data = fresh()
        _set(data, chance.choice(TEXT_FIELDS), f"Kari {chance.choice(UNDRAWABLE)}")
        return Body("character the fonts lack", encode(data))

    def not_a_country() -> Body:
        data = fresh()
        data["recipient"]["address"]["country_code"] = chance.choice(NOT_COUNTRIES)
        return Body("not a country", encode(data))

    def odd_date() -> Body:
        data = fresh()
        path = chance.choice([("letter_date",), ("case", "claims", 0, "due_date"), ("deadline",)])
        _set(data, path, chance.choice(ODD_DATES))
        return Body("odd date", encode(data))

    def blank_name() -> Body:
        data = fresh()
        data["recipient"]["name"] = chance.choice(["", "   ", "\t", "\u00a0"])
        return Body("blank name", encode(data))

    def replaced() -> Body:
        data = fresh()
        _set(data, chance.choice(_leaf_paths(data)), _random_json(chance))
        return Body("a field replaced by any JSON", encode(data))

    def left_out() -> Body:
        data = fresh()
        path = chance.choice(_leaf_paths(data))
        node: Any = data
        for part in path[:-1]:
            node = node[part]
        del node[path[-1]]
        return Body("a field left out", encode(data))

    def broken() -> Body:
        data = encode(fresh())
        return Body(
            "not a JSON object",
            chance.choice(
                [
                    data[: chance.randrange(1, len(data))],
                    b"\xff\xfe" + data,
                    b"[1, 2, 3]",
                    b'"a string"',
                    b"null",
                    b"",
                    b'{"letter_id": ' + b"9" * 5000 + b"}",
                    b'{"schema": "letters.request/1", "pad": "' + b"p" * 300_000 + b'"}',
                ]
            ),
        )

    makers: list[tuple[float, Callable[[], Body]]] = [
        (0.20, valid), (0.05, other_spelling), (0.04, conflict), (0.06, surrogate),
        (0.05, nested), (0.07, other_digits), (0.05, huge), (0.07, invisible),
        (0.05, undrawable), (0.05, not_a_country), (0.06, odd_date), (0.04, blank_name),
        (0.10, replaced), (0.05, left_out), (0.06, broken),
    ]  # fmt: skip
    weights = [w for w, _ in makers]
    return [chance.choices([m for _, m in makers], weights)[0]() for _ in range(count)]


def judge(body: Body, service: LetterService) -> bool:
    """Whether the contract takes the body (the worker must accept exactly these)."""
    try:
        parse_request(body.raw, service.contract_rules, today_in_norway())
    except InvalidRequest:
        return False
    return True


@contextmanager
def stack(transport: str, workdir: Path) -> Iterator[dict[str, str]]:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("LETTERS_")},
        **suite_rates_env(),
        "LETTERS_VAR_DIR": str(workdir / transport),
        "LETTERS_CHANNEL_DIGIPOST": "fake",
        "LETTERS_CHANNEL_PRINT": "fake",
        "LETTERS_RETRY_DELAYS": "1s,1s",
        "LETTERS_LOG_LEVEL": "INFO",
    }
    if transport == "embedded":
        yield env
        return
    name = f"letters_fuzz_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    env |= {
        "LETTERS_BROKER_URL": BROKER_URL,
        "LETTERS_DATABASE_URL": POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}",
        "LETTERS_QUEUE_PREFIX": f"fuzz-{uuid.uuid4().hex[:8]}.",
        **secrets_env(workdir / "secrets"),
    }
    try:
        yield env
    finally:
        settings = Settings.from_env(env)
        with Connection(settings.broker_url, connect_timeout=10) as conn:
            topology_for(settings).delete(conn.default_channel)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(transport: str, bodies: list[Body], workdir: Path, service: LetterService) -> Counts:
    counts = Counts(transport, bodies=len(bodies))
    with stack(transport, workdir) as env:
        settings = Settings.from_env(env)
        with Publisher.open(settings) as publisher:
            for body in bodies:
                publisher.publish_request(body.raw)
        command = [sys.executable, "-m", "letters.cli", "worker", "--until-empty"]
        if transport != "embedded":
            command += ["--concurrency", "2"]
        worker = subprocess.run(command, env=env, capture_output=True, text=True, check=False,
                                cwd=PROJECT_ROOT, timeout=1800)  # fmt: skip
        counts.crashed = int(worker.returncode != 0) + worker.stderr.count("Traceback")
        counts.crashed += worker.stderr.count('"unexpected error"')
        ledger = Ledger.for_settings(settings)
        try:
            with ledger.transaction() as conn:
                dead = {r.body_sha256: r.reason for r in conn.execute(select(dead_letters))}
                kept = {
                    r.letter_id: r.request_sha256
                    for r in conn.execute(select(letters.c.letter_id, letters.c.request_sha256))
                }
        finally:
            ledger.close()
        delivered = {
            r["letter_id"]
            for route in ("digipost", "print")
            for r in delivered_records(settings.fake_outbox, route)
        }
        counts.undelivered = len(set(kept) - delivered)
    for index, body in enumerate(bodies):
        valid = judge(body, service)
        counts.valid += valid
        counts.by_kind[body.kind] += 1
        label = f"{index}:{body.kind}"
        if _accepted(body, kept):
            counts.accepted += 1
            if not valid and body.kind != "other spelling":
                counts.invalid_accepted.append(label)
        elif dead.get(sha256_hex(body.raw)):
            counts.dead_lettered += 1
            # A valid body may lose only to another body under its letter id (a conflict).
            if valid and _letter_id(body) not in kept:
                counts.valid_refused.append(label)
        else:
            counts.lost.append(label)
    return counts


def _letter_id(body: Body) -> str | None:
    try:
        data = json.loads(body.raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("letter_id"), str):
        return None
    return canonical_uuid(data["letter_id"])


def _accepted(body: Body, kept: dict[str, str]) -> bool:
    """The ledger holds this body's letter, from this body (or another spelling of it)."""
    letter_id = _letter_id(body)
    if letter_id is None or letter_id not in kept:
        return False
    data = json.loads(body.raw)
    data["letter_id"] = letter_id
    try:
        canonical = json.dumps(data, ensure_ascii=False, sort_keys=True).encode()
    except UnicodeEncodeError:
        return False
    return kept[letter_id] == sha256_hex(canonical)


def main() -> None:
    # Speed on any day: the letters take their rates from the suite's table of test data.
    use_suite_rates()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bodies", type=int, default=1000)
    parser.add_argument("--transport", choices=("embedded", "rabbitmq", "both"), default="both")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    bodies = generate(args.bodies, args.seed)
    service = LetterService(Settings.from_env({}))
    transports = ["embedded", "rabbitmq"] if args.transport == "both" else [args.transport]
    failed = False
    by_transport: dict[str, dict[str, Any]] = {}
    with TemporaryDirectory() as workdir:
        for transport in transports:
            counts = run(transport, bodies, Path(workdir), service)
            print(
                f"fuzz on {transport}: {counts.bodies} bodies (seed {args.seed}), {counts.valid} "
                f"valid; accepted {counts.accepted}, dead-lettered with a reason "
                f"{counts.dead_lettered}, lost {len(counts.lost)}, invalid accepted "
                f"{len(counts.invalid_accepted)}, valid refused {len(counts.valid_refused)}, "
                f"accepted but undelivered {counts.undelivered}, crashed {counts.crashed}"
            )
            for label, found in (
                ("lost", counts.lost),
                ("invalid accepted", counts.invalid_accepted),
                ("valid refused", counts.valid_refused),
            ):
                if found:
                    print(f"  {label}: {', '.join(found[:10])}")
            by_transport[transport] = {
                "bodies": counts.bodies,
                "valid": counts.valid,
                "accepted": counts.accepted,
                "dead_lettered": counts.dead_lettered,
                "lost": counts.lost,
                "invalid_accepted": counts.invalid_accepted,
                "valid_refused": counts.valid_refused,
                "undelivered": counts.undelivered,
                "crashed": counts.crashed,
            }
            failed |= bool(
                counts.lost
                or counts.invalid_accepted
                or counts.valid_refused
                or counts.undelivered
                or counts.crashed
            )
    kinds = Counter(b.kind for b in bodies)
    print("  kinds: " + ", ".join(f"{kind} {n}" for kind, n in sorted(kinds.items())))
    print_summary("fuzz", seed=args.seed, transports=by_transport, kinds=dict(kinds))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
