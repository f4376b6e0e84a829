"""The Digipost backend from the settings: one signed client per process, the local double.

``build_channel`` and ``build_directory`` are what the channel registry calls
for ``LETTERS_CHANNEL_DIGIPOST=digipost``; both share one client per process
and setting. Without ``LETTERS_DIGIPOST_URL`` the client talks to a local
Digipost double started in this process, with generated test keys under
``var/digipost/``; this is the only module that starts one.
"""

from __future__ import annotations

import threading
from urllib.parse import urlsplit

from cryptography import x509

from channels.digipost.channel import NAME, DigipostChannel, DigipostDirectory, SendOptions
from channels.digipost.client import ApiConfig, DigipostApi
from channels.digipost.double import DEFAULT_RECIPIENTS, DigipostDouble, DoubleConfig
from channels.digipost.keys import (
    TEST_KEY_PASSWORD,
    certificate_from_pem,
    ensure_test_keys,
    load_certificate,
    load_sender_key,
)
from letters.config import DigipostSettings, Settings
from letters.config.declared import CHANNEL_PRINT, DIGIPOST_CERTIFICATE, DIGIPOST_KEY, DIGIPOST_URL
from letters.errors import ConfigurationError

_LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


def build_channel(route: str, settings: Settings) -> DigipostChannel:
    if route != NAME:
        raise ConfigurationError(
            f"{CHANNEL_PRINT}: the digipost backend serves only the digipost route, not {route!r}"
        )
    options = SendOptions(
        authentication_level=settings.digipost.authentication_level,
        max_pages=settings.digipost.max_pages,
    )
    return DigipostChannel(open_api(settings.digipost), options)


def build_directory(settings: Settings) -> DigipostDirectory:
    return DigipostDirectory(open_api(settings.digipost))


_apis: dict[DigipostSettings, DigipostApi] = {}
_embedded: dict[str, tuple[DigipostDouble, str]] = {}
_lock = threading.RLock()


def open_api(settings: DigipostSettings) -> DigipostApi:
    """One client per process and setting: its connection pool and entry point are shared."""
    with _lock:
        api = _apis.get(settings)
    if api is None:
        api = _new_api(settings)
        with _lock:
            api = _apis.setdefault(settings, api)
    return api


def close_apis() -> None:
    """Close every client open_api made (tests; a process that stops using Digipost)."""
    with _lock:
        apis = list(_apis.values())
        _apis.clear()
    for api in apis:
        api.close()


def _new_api(settings: DigipostSettings) -> DigipostApi:
    if settings.url is None and settings.key is not None:
        raise ConfigurationError(
            f"{DIGIPOST_URL}: required when {DIGIPOST_KEY} is set (without a URL, "
            "letters go to a local Digipost double that only knows the generated test key)"
        )
    url = settings.url or start_embedded_double(settings)
    local = urlsplit(url).hostname in _LOCAL_HOSTS
    test_keys = ensure_test_keys(settings.keys_dir) if settings.key is None and local else None
    if settings.key is None and test_keys is None:
        raise ConfigurationError(
            f"{DIGIPOST_KEY}: the enterprise key is required for {url} "
            "(a generated test key is only used with a local Digipost double)"
        )
    if test_keys is not None:
        key = load_sender_key(test_keys.sender_key, TEST_KEY_PASSWORD)
    else:
        assert settings.key is not None  # noqa: S101 - checked above
        key = load_sender_key(settings.key, settings.key_password)
    if settings.certificate is not None:
        certificate = load_certificate(settings.certificate, DIGIPOST_CERTIFICATE.name)
    elif test_keys is not None:
        certificate = test_keys.digipost_pair().certificate
    else:
        certificate = None
    return DigipostApi(
        ApiConfig(
            base_url=url,
            sender_id=settings.sender_id,
            key=key,
            digipost_certificate=certificate,
            connect_timeout_s=settings.connect_timeout_s,
            timeout_s=settings.timeout_s,
            pool_size=settings.pool_size,
        )
    )


def local_double(
    settings: DigipostSettings,
    recipients: dict[str, tuple[str, str | None]] | None = None,
    sender_certificate: x509.Certificate | None = None,
    fail_rate: float = 0.0,
    seed: int = 0,
) -> DigipostDouble:
    """A Digipost double with the generated test keys and this sender registered.

    ``recipients`` (national id -> identify result and reason) come on top of the
    double's default recipients, the sample debtors.
    """
    keys = ensure_test_keys(settings.keys_dir)
    sender = sender_certificate or certificate_from_pem(
        keys.sender_certificate.read_text(encoding="ascii")
    )
    return DigipostDouble(
        DoubleConfig(
            state_dir=settings.double_dir,
            keys=keys.digipost_pair(),
            senders={settings.sender_id: sender},
            recipients=DEFAULT_RECIPIENTS | (recipients or {}),
            fail_rate=fail_rate,
            seed=seed,
        )
    )


def start_embedded_double(settings: DigipostSettings) -> str:
    """Start (once per process and folder) a local double on a free port; its URL."""
    with _lock:
        key = str(settings.double_dir)
        if key not in _embedded:
            double = local_double(settings)
            _embedded[key] = (double, double.start())
        return _embedded[key][1]
