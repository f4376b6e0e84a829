"""One way to make a boto3 S3 client from the settings, for the archive and the print drop.

S3-compatible servers (MinIO, Ceph, moto) refuse the CRC checksums boto3 ≥ 1.36
adds to every request by default, so checksums are sent only where an
operation requires one; the archive sends its own SHA-256 instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config

from letters.errors import ConfigurationError


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str  # "" or ending in "/"

    def key(self, name: str) -> str:
        return f"{self.prefix}{name}"


def parse_s3_url(url: str, setting: str) -> S3Location:
    """``s3://bucket/some/prefix`` → bucket and ``some/prefix/``."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not parts.netloc:
        raise ConfigurationError(f"{setting}: {url!r} is not an s3://bucket/prefix URL")
    prefix = parts.path.strip("/")
    return S3Location(parts.netloc, f"{prefix}/" if prefix else "")


def s3_client(endpoint_url: str | None, region: str | None) -> Any:
    config = Config(
        region_name=region,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)
