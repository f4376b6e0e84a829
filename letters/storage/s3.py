"""A create-only store in S3: conditional writes, checked checksums, optional Object Lock.

A write sends ``If-None-Match: *``, so S3 itself refuses to replace an
object; when the name is taken, the stored object's SHA-256 is compared with
the new body's: the same bytes are a no-op, different bytes an
ObjectConflictError. Every object carries its SHA-256 twice: as S3's
``ChecksumSHA256``, which S3 checks on arrival, and as metadata, which reads
check. Names and metadata hold no personal data.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from letters.errors import ConfigurationError
from letters.storage.base import (
    ObjectConflictError,
    ObjectNotFoundError,
    StoreUnavailableError,
    WriteOptions,
)


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
    """A boto3 client that sends checksums only where an operation requires one.

    S3-compatible servers (MinIO, Ceph, moto) refuse the CRC checksums boto3 1.36
    and later add to every request by default; the store sends its own SHA-256.
    """
    config = Config(
        region_name=region,
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
        connect_timeout=10,
        read_timeout=60,
        retries={"max_attempts": 3, "mode": "standard"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


SHA256_METADATA = "sha256"
# Errors that mean the set-up is wrong, not that S3 is having a bad moment.
_CONFIGURATION_CODES = frozenset(
    {
        "AccessDenied",
        "NoSuchBucket",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "InvalidBucketName",
        "KMS.NotFoundException",
        "InvalidRequest",
    }
)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "404", "NotFound"})


class S3Store:
    def __init__(
        self,
        client: Any,
        location: S3Location,
        options: WriteOptions,
        *,
        setting: str,
        label: str,
    ) -> None:
        self.client = client
        self.bucket = location.bucket
        self.s3_location = location
        self.options = options
        self.setting = setting
        self.label = label

    def put(self, name: str, body: bytes, content_type: str = "application/pdf") -> bool:
        digest = hashlib.sha256(body).digest()
        arguments: dict[str, Any] = {
            "Bucket": self.bucket,
            "Key": self.s3_location.key(name),
            "Body": body,
            "ContentType": content_type,
            "IfNoneMatch": "*",
            "ChecksumSHA256": base64.b64encode(digest).decode("ascii"),
            "Metadata": {SHA256_METADATA: digest.hex()},
        }
        if self.options.server_side_encryption:
            arguments["ServerSideEncryption"] = self.options.server_side_encryption
        if self.options.kms_key_id:
            arguments["SSEKMSKeyId"] = self.options.kms_key_id
        if self.options.retention_days:
            # S3 (and S3-compatible servers) want Content-MD5 on writes with Object Lock.
            md5 = hashlib.md5(body, usedforsecurity=False).digest()
            arguments["ContentMD5"] = base64.b64encode(md5).decode("ascii")
            arguments["ObjectLockMode"] = self.options.retention_mode
            arguments["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(
                days=self.options.retention_days
            )
        try:
            self.client.put_object(**arguments)
        except ClientError as err:
            if _code(err) in ("PreconditionFailed", "412"):
                return self._already_there(name, digest)
            raise self._translate(err, name) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {type(err).__name__}") from err
        return True

    def _already_there(self, name: str, digest: bytes) -> bool:
        stored = self._stored_sha256(name)
        if stored is None:
            stored = hashlib.sha256(self.get(name)).hexdigest()
        if stored != digest.hex():
            raise ObjectConflictError(
                f"{self.label} {name}: different content is already stored there"
            )
        return False

    def _stored_sha256(self, name: str) -> str | None:
        """The SHA-256 the object was written with, from a HEAD, without reading it."""
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self.s3_location.key(name))
        except ClientError as err:
            raise self._translate(err, name) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {type(err).__name__}") from err
        value = (head.get("Metadata") or {}).get(SHA256_METADATA)
        return str(value) if value else None

    def get(self, name: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.s3_location.key(name))
            body: bytes = answer["Body"].read()
        except ClientError as err:
            if _code(err) in _NOT_FOUND_CODES:
                raise ObjectNotFoundError(f"{self.label} {name}: not found") from None
            raise self._translate(err, name) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {type(err).__name__}") from err
        expected = (answer.get("Metadata") or {}).get(SHA256_METADATA)
        if expected and hashlib.sha256(body).hexdigest() != expected:
            raise StoreUnavailableError(
                f"{self.label} {name}: the body read does not match its SHA-256"
            )
        return body

    def exists(self, name: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self.s3_location.key(name))
        except ClientError as err:
            if _code(err) in _NOT_FOUND_CODES:
                return False
            raise self._translate(err, name) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {type(err).__name__}") from err
        return True

    def check_reachable(self) -> None:
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as err:
            raise self._translate(err, "(the bucket)") from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label}: {type(err).__name__}") from err

    def location(self, name: str) -> str:
        return f"s3://{self.bucket}/{self.s3_location.key(name)}"

    def names(self, prefix: str) -> list[str]:
        base = self.s3_location.key("")
        folder = self.s3_location.key(prefix)
        found: list[str] = []
        try:
            pages = self.client.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=folder, Delimiter="/"
            )
            for page in pages:
                found.extend(item["Key"][len(base) :] for item in page.get("Contents", []))
        except ClientError as err:
            raise self._translate(err, prefix) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {prefix}: {type(err).__name__}") from err
        return sorted(found)

    def remove(self, name: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.s3_location.key(name))
        except ClientError as err:
            raise self._translate(err, name) from err
        except BotoCoreError as err:
            raise StoreUnavailableError(f"{self.label} {name}: {type(err).__name__}") from err

    def _translate(self, err: ClientError, name: str) -> Exception:
        code = _code(err)
        if code in _CONFIGURATION_CODES:
            return ConfigurationError(f"{self.setting}: S3 refused {name}: {code}")
        return StoreUnavailableError(f"{self.label} {name}: S3 {code or 'error'}")


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))
