"""The store a setting names: ``s3://bucket/prefix``, ``file://dir`` or a directory."""

from __future__ import annotations

from pathlib import Path

from letters.config import S3Settings
from letters.errors import ConfigurationError
from letters.storage.base import ObjectStore, WriteOptions
from letters.storage.directory import DirectoryStore


def open_store(
    url: str,
    s3: S3Settings | None,
    *,
    setting: str,
    label: str,
    options: WriteOptions | None = None,
) -> ObjectStore:
    """The store at ``url``: ``s3://bucket/prefix``, ``file://dir`` or a directory."""
    if url.startswith("s3://"):
        # boto3 takes a third of a second to import; only when S3 is asked for.
        from letters.storage.s3 import S3Store, parse_s3_url, s3_client

        s3 = s3 or S3Settings()
        client = s3_client(s3.endpoint_url, s3.region)
        return S3Store(
            client,
            parse_s3_url(url, setting),
            options or WriteOptions(),
            setting=setting,
            label=label,
        )
    if url.startswith("file://"):
        return DirectoryStore(Path(url.removeprefix("file://")), label)
    if "://" in url:
        scheme = url.split("://", 1)[0]
        raise ConfigurationError(
            f"{setting}: {scheme}:// is not supported; use s3://bucket/prefix or a directory"
        )
    return DirectoryStore(Path(url), label)
