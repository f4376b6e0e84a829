"""Changing one field of a JSON document by its path, as the contract's problems name it."""

from __future__ import annotations

import copy
from typing import Any

# The value that takes the field out instead of setting it.
DELETE: Any = object()


def changed(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of ``document`` with the field at ``path`` ("case.claims[0].principal") set
    to ``value``, or taken out when ``value`` is DELETE."""
    data = copy.deepcopy(document)
    node: Any = data
    parts = path.replace("]", "").replace("[", ".").split(".")
    for part in parts[:-1]:
        node = node[int(part)] if part.isdigit() else node[part]
    last = parts[-1]
    if value is DELETE:
        del node[int(last) if last.isdigit() else last]
    else:
        node[int(last) if last.isdigit() else last] = value
    return data
