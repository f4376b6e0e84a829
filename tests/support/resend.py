"""Letters sent through the real pipeline, in process, ready to be re-sent by a job."""

from __future__ import annotations

import json
import re
import uuid
from datetime import date
from pathlib import Path
from typing import Any

from letters.clock import today_in_norway
from letters.config import PROJECT_ROOT, Rate, Settings
from letters.delivery.pipeline import Pipeline
from letters.domain.otp import ALPHABET
from letters.ledger import Ledger, LetterRecord
from letters.ledger.resend_jobs import Job, JobStore
from letters.resend.pace import RateLimiter
from letters.resend.resender import Resender, RunReport
from letters.resend.selection import Selection
from letters.storage import open_archive
from letters.worker.supervisor import build_pipeline
from tests.support.events import check_outbox
from tests.support.stacks import fresh_case

SAMPLES = PROJECT_ROOT / "samples"
# Digipost users in the double (consented) and foreign addresses without consent (print).
DIGIPOST_SAMPLES = ["purring-nb-plain", "inkassovarsel-en-plain", "betalingsoppfordring-nb-plain"]
PRINT_SAMPLES = ["purring-en-foreign_address", "varsel_rettslig_pagang-nb-foreign_address"]
_PASSWORD = re.compile(rf"[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}-[{ALPHABET}]{{4}}")


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / f"{name}.json").read_bytes())
    data["letter_id"] = str(uuid.uuid4())
    return fresh_case(data)


class ResendHarness:
    """The embedded defaults: SQLite, a local archive, the Digipost double, print and post."""

    def __init__(self, tmp_path: Path, env: dict[str, str] | None = None) -> None:
        self.env = {"LETTERS_VAR_DIR": str(tmp_path / "var"), **(env or {})}
        self.settings = Settings.from_env(self.env)
        self.ledger = Ledger.for_settings(self.settings)
        self.ledger.upgrade()
        self.pipeline: Pipeline = build_pipeline(self.settings, self.ledger)
        self.store = JobStore(self.ledger)
        self.archive = open_archive(self.settings.archive_url, self.settings.s3)

    def close(self) -> None:
        from channels.digipost.connect import close_apis

        close_apis()
        try:
            check_outbox(self.ledger)
        finally:
            self.ledger.close()

    def send(self, *requests: dict[str, Any]) -> list[str]:
        """Deliver these requests as the worker would; their letter ids."""
        for request in requests:
            self.pipeline.process(json.dumps(request, ensure_ascii=False))
        return [r["letter_id"] for r in requests]

    def record(self, letter_id: str) -> LetterRecord:
        record = self.ledger.get(letter_id)
        assert record is not None, letter_id
        return record

    def create_job(
        self,
        selection: Selection,
        mode: str,
        job_id: str = "job-1",
        channel: str | None = None,
    ) -> Job:
        chosen = selection.chosen(self.ledger, mode)
        return self.store.create(job_id, mode, channel, selection.to_json(), chosen)

    def run(
        self,
        job: Job,
        limiter: RateLimiter | None = None,
        today: date | None = None,
    ) -> RunReport:
        resender = Resender(self.pipeline, self.store, lambda: today or today_in_norway())
        return resender.run(job, limiter or RateLimiter(Rate(10_000)))

    def pdf(self, letter_id: str) -> bytes:
        key = self.record(letter_id).archive_key
        assert key, letter_id
        return self.archive.get(key)


def password_in(text: str) -> str:
    found = set(_PASSWORD.findall(text))
    assert len(found) == 1, f"expected one password in the letter, found {len(found)}"
    return found.pop()
