"""Is this process holding the secrets the ledger was written with? Checked before it writes.

A worker started with another valid master key would seal letters that the
right key cannot open; one with another index key would file a person's
letters under a blind index nobody finds; one with another password pepper
would send passwords the portal rejects. Each of them is a configuration
error at start, naming the setting:

- the **master key** is checked against the data keys themselves: every one
  must be wrapped under this key or a retired one it names;
- the **index key** and the **password pepper** against a keyed check value
  recorded in ``secret_checks`` the first time a process used them. A check
  value is an HMAC of a fixed text under the secret: it names the secret
  without revealing it.

A secret replaced on purpose is accepted with ``letters keys accept SETTING``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from sqlalchemy import delete, func, insert, select

from letters.clock import utcnow
from letters.errors import ConfigurationError
from letters.ledger.engine import Transactions
from letters.ledger.keys import INDEX_SETTING, RETIRED_SETTING, KeyDoesNotOpen, LedgerKeys
from letters.ledger.schema import data_keys, secret_checks


def check_value(setting: str, secret: bytes) -> str:
    return hmac.new(
        secret, b"letters secret check\0" + setting.encode(), hashlib.sha256
    ).hexdigest()


def check_master_key(ledger: Transactions, keys: LedgerKeys) -> None:
    """ConfigurationError unless every data key is wrapped under a master key this process
    holds, and the current key opens those wrapped under it."""
    # One wrapped data key of each master key is enough to prove it.
    with ledger.transaction() as conn:
        rows = conn.execute(
            select(
                data_keys.c.master_key_id, func.min(data_keys.c.wrapped).label("wrapped")
            ).group_by(data_keys.c.master_key_id)
        ).all()
    held = {key.key_id: key for key in (keys.master, *keys.retired)}
    unknown = sorted(row.master_key_id for row in rows if row.master_key_id not in held)
    setting = keys.master.setting
    if unknown:
        raise ConfigurationError(
            f"{setting}: the ledger's data keys are wrapped under {', '.join(unknown)}, and "
            f"this process holds {', '.join(sorted(held))}: a wrong key file, or one made again "
            f"after the first was lost. Start with the key the ledger was written with (and any "
            f"key being rotated out in {RETIRED_SETTING}); nothing was written"
        )
    for row in rows:
        try:
            held[row.master_key_id].unwrap(base64.b64decode(row.wrapped))
        except KeyDoesNotOpen as err:
            raise ConfigurationError(
                f"{setting}: the key {row.master_key_id} does not open the data keys wrapped "
                "under its id; nothing was written"
            ) from err


def check_secret(ledger: Transactions, setting: str, secret: bytes) -> None:
    """ConfigurationError if the ledger was written with another secret for ``setting``;
    the first use records this one."""
    value = check_value(setting, secret)
    with ledger.transaction() as conn:
        recorded = conn.execute(
            select(secret_checks.c.check_value).where(secret_checks.c.setting == setting)
        ).scalar()
        if recorded is None:
            conn.execute(
                insert(secret_checks).values(
                    setting=setting, check_value=value, recorded_at=utcnow()
                )
            )
            return
    if not hmac.compare_digest(recorded, value):
        raise ConfigurationError(
            f"{setting}: this is not the secret the ledger was written with (a wrong file, or "
            f"one made again); nothing was written. Start with the right one, or, if it was "
            f"replaced on purpose, accept it with `letters keys accept {setting}`"
        )


def accept_secret(ledger: Transactions, setting: str, secret: bytes) -> None:
    """Record ``secret`` as the one for ``setting`` from now on (a deliberate replacement)."""
    with ledger.transaction() as conn:
        conn.execute(delete(secret_checks).where(secret_checks.c.setting == setting))
        conn.execute(
            insert(secret_checks).values(
                setting=setting, check_value=check_value(setting, secret), recorded_at=utcnow()
            )
        )


def check_ledger_keys(ledger: Transactions, keys: LedgerKeys) -> None:
    check_master_key(ledger, keys)
    check_secret(ledger, INDEX_SETTING, keys.index_key)
