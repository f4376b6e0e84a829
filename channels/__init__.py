"""Delivery channels, one package per provider, all with the shape of ``channels.base.Channel``.

A letter is routed to a *route* ("digipost" or "print"); configuration says
which backend serves each route (``LETTERS_CHANNEL_DIGIPOST``,
``LETTERS_CHANNEL_PRINT``). Backends are imported only when chosen.
"""

from __future__ import annotations

import difflib
import importlib
from types import ModuleType

from channels.base import DIGIPOST, PRINT, Channel, ChannelSet, Receipt, RecipientDirectory
from letters.config import Settings
from letters.config.declared import CHANNEL_DIGIPOST, CHANNEL_PRINT
from letters.errors import ConfigurationError

__all__ = [
    "BACKENDS",
    "DIGIPOST",
    "PRINT",
    "Channel",
    "ChannelSet",
    "Receipt",
    "RecipientDirectory",
    "build_channels",
]

# backend name -> module that provides build_channel(route, settings) and,
# for the digipost route, build_directory(settings). print_post serves only
# the print route.
BACKENDS: dict[str, str] = {
    "digipost": "channels.digipost.connect",
    "fake": "channels.fake",
    "print_post": "channels.print_post.channel",
}


def build_channels(settings: Settings) -> ChannelSet:
    """The channels and the recipient directory that the settings ask for."""
    digipost_module = _backend(settings.digipost_backend, CHANNEL_DIGIPOST.name)
    print_module = _backend(settings.print_backend, CHANNEL_PRINT.name)
    if not hasattr(digipost_module, "build_directory"):
        raise ConfigurationError(
            f"{CHANNEL_DIGIPOST}: {settings.digipost_backend!r} cannot serve the digipost route"
        )
    return ChannelSet(
        channels={
            DIGIPOST: digipost_module.build_channel(DIGIPOST, settings),
            PRINT: print_module.build_channel(PRINT, settings),
        },
        directory=digipost_module.build_directory(settings),
    )


def _backend(name: str, setting: str) -> ModuleType:
    if name not in BACKENDS:
        close = difflib.get_close_matches(name, BACKENDS, n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise ConfigurationError(
            f"{setting}: unknown channel backend {name!r} (known: {', '.join(BACKENDS)}){hint}"
        )
    return importlib.import_module(BACKENDS[name])
