"""The local Digipost double's mailbox, used ids and event feed, in one folder.

Files, not memory, so that every process sharing the folder sees the same
Digipost: a message id is claimed by creating ``messages/<id>`` exclusively,
a document by creating ``documents/<uuid>.json`` exclusively.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True, slots=True)
class StoredDocument:
    uuid: str
    message_id: str
    sender_id: str
    channel: str  # DIGIPOST or PRINT
    status: str  # DELIVERED
    created: datetime
    delivered: datetime
    content_hash: str  # base64 SHA-256 of the document, as Digipost reports it


@dataclass(frozen=True, slots=True)
class StoredEvent:
    uuid: str
    type: str
    created: datetime
    document_created: datetime
    sender_id: str
    metadata: dict[str, str]


class DoubleStore:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        for sub in ("messages", "documents"):
            (folder / sub).mkdir(parents=True, exist_ok=True)

    def deliver(
        self,
        *,
        sender_id: str,
        message_id: str,
        document_uuid: str,
        channel: str,
        message_xml: bytes,
        pdf: bytes,
        now: datetime,
    ) -> StoredDocument | None:
        """Store a delivered message; None when its message id or document uuid was used."""
        claim = hashlib.sha256(message_id.encode("utf-8")).hexdigest()
        if not _create(self.folder / "messages" / claim, document_uuid.encode()):
            return None
        # The content first: a document file that exists is a complete delivery.
        (self.folder / "documents" / f"{document_uuid}.pdf").write_bytes(pdf)
        (self.folder / "documents" / f"{document_uuid}.xml").write_bytes(message_xml)
        document = StoredDocument(
            uuid=document_uuid,
            message_id=message_id,
            sender_id=sender_id,
            channel=channel,
            status="DELIVERED",
            created=now,
            delivered=now,
            content_hash=base64.b64encode(hashlib.sha256(pdf).digest()).decode("ascii"),
        )
        record = json.dumps(asdict(document), default=str).encode()
        if not _create(self.folder / "documents" / f"{document_uuid}.json", record):
            return None
        return document

    def document(self, document_uuid: str) -> StoredDocument | None:
        if not _safe_name(document_uuid):
            return None
        path = self.folder / "documents" / f"{document_uuid}.json"
        try:
            data = json.loads(path.read_bytes())
        except FileNotFoundError:
            return None
        for name in ("created", "delivered"):
            data[name] = datetime.fromisoformat(data[name])
        return StoredDocument(**data)

    def documents(self) -> list[StoredDocument]:
        found = (self.document(p.stem) for p in (self.folder / "documents").glob("*.json"))
        return sorted((d for d in found if d), key=lambda d: d.created)

    def message_xml(self, document_uuid: str) -> bytes:
        return (self.folder / "documents" / f"{document_uuid}.xml").read_bytes()

    def pdf(self, document_uuid: str) -> bytes:
        return (self.folder / "documents" / f"{document_uuid}.pdf").read_bytes()

    def add_event(
        self, document_uuid: str, kind: str, metadata: dict[str, str], now: datetime
    ) -> None:
        document = self.document(document_uuid)
        if document is None:
            raise KeyError(f"no document {document_uuid}")
        event = StoredEvent(
            document_uuid, kind, now, document.created, document.sender_id, metadata
        )
        line = json.dumps(asdict(event), default=str) + "\n"
        with open(self.folder / "events.jsonl", "a", encoding="utf-8") as feed:
            fcntl.flock(feed, fcntl.LOCK_EX)
            feed.write(line)

    def events(self) -> list[StoredEvent]:
        try:
            lines = (self.folder / "events.jsonl").read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        events = []
        for line in lines:
            data = json.loads(line)
            for name in ("created", "document_created"):
                data[name] = datetime.fromisoformat(data[name])
            events.append(StoredEvent(**data))
        return events


def _create(path: Path, content: bytes) -> bool:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "wb") as handle:
        handle.write(content)
    return True


def _safe_name(name: str) -> bool:
    return bool(name) and all(c.isalnum() or c == "-" for c in name)
