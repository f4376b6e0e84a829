"""The print house's receipts, as it drops them beside the batches: ``receipts/<name>.json``.

A receipt is read from the inbox, and once it has been applied (or found
applied before) it is moved to ``receipts/done/``; one that is refused goes
to ``receipts/refused/`` with a text file beside it saying why. Moving is a
write of a copy and then a removal, so a crash between the two leaves the
receipt in the inbox as well, to be read again: applying a receipt twice
changes nothing. Each moved copy carries the start of its SHA-256 in its
name, so two different files of one name never overwrite each other.
"""

from __future__ import annotations

from dataclasses import dataclass

from channels.print_post.receipts import DONE, RECEIPTS, REFUSED
from letters.digests import sha256_hex
from letters.storage import ObjectStore

__all__ = ["DONE", "RECEIPTS", "REFUSED", "DroppedReceipt", "ReceiptInbox"]


@dataclass(frozen=True, slots=True)
class DroppedReceipt:
    name: str  # receipts/<file name>
    body: bytes

    @property
    def sha256(self) -> str:
        return sha256_hex(self.body)

    @property
    def file_name(self) -> str:
        return self.name.removeprefix(RECEIPTS)

    def moved_name(self, folder: str) -> str:
        stem = self.file_name.removesuffix(".json")
        return f"{folder}{stem}.{self.sha256[:12]}.json"


class ReceiptInbox:
    def __init__(self, drop: ObjectStore) -> None:
        self.drop = drop

    def waiting(self) -> list[str]:
        """The receipts not yet read, oldest name first (the folders below are not read)."""
        return [n for n in self.drop.names(RECEIPTS) if n.endswith(".json")]

    def read(self, name: str) -> DroppedReceipt:
        return DroppedReceipt(name, self.drop.get(name))

    def done(self, receipt: DroppedReceipt) -> str:
        """Move an applied receipt aside; where it went."""
        moved = receipt.moved_name(DONE)
        self.drop.put(moved, receipt.body, "application/json")
        self.drop.remove(receipt.name)
        return moved

    def refuse(self, receipt: DroppedReceipt, reason: str) -> str:
        """Move a refused receipt aside with the reason beside it; where it went."""
        moved = receipt.moved_name(REFUSED)
        self.drop.put(moved, receipt.body, "application/json")
        why = (reason + "\n").encode()
        self.drop.put(
            f"{moved.removesuffix('.json')}.{sha256_hex(why)[:8]}.reason.txt",
            why,
            "text/plain; charset=utf-8",
        )
        self.drop.remove(receipt.name)
        return moved
