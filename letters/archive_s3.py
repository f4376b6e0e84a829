"""The PDF archive in S3: create-only writes, checked checksums, optional Object Lock.

Keys are ``<prefix>YYYY/MM/DD/<letter id>.pdf`` and the only metadata is the
PDF's SHA-256: nothing about the debtor goes into a key or a header.
A write sends ``If-None-Match: *``, so S3 itself refuses to replace a letter;
when the key exists, the stored PDF is compared with the new one: the same
bytes are a no-op, different bytes an ArchiveConflictError.
"""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from letters.archive import ArchiveConflictError, ArchiveUnavailableError, NotArchivedError
from letters.errors import ConfigurationError
from letters.s3 import S3Location

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


@dataclass(frozen=True, slots=True)
class ArchivePolicy:
    # "AES256", "aws:kms" or None (the bucket's default encryption).
    server_side_encryption: str | None = "AES256"
    kms_key_id: str | None = None
    # Object Lock retention per letter; None leaves it to the bucket's default.
    retention_days: int | None = None
    retention_mode: str = "COMPLIANCE"


class S3Archive:
    def __init__(self, client: Any, location: S3Location, policy: ArchivePolicy) -> None:
        self.client = client
        self.location = location
        self.policy = policy

    def put(self, key: str, pdf: bytes) -> bool:
        digest = hashlib.sha256(pdf).digest()
        arguments: dict[str, Any] = {
            "Bucket": self.location.bucket,
            "Key": self.location.key(key),
            "Body": pdf,
            "ContentType": "application/pdf",
            "IfNoneMatch": "*",
            "ChecksumSHA256": base64.b64encode(digest).decode("ascii"),
            "Metadata": {SHA256_METADATA: digest.hex()},
        }
        if self.policy.server_side_encryption:
            arguments["ServerSideEncryption"] = self.policy.server_side_encryption
        if self.policy.kms_key_id:
            arguments["SSEKMSKeyId"] = self.policy.kms_key_id
        if self.policy.retention_days:
            # S3 (and S3-compatible servers) want Content-MD5 on writes with Object Lock.
            md5 = hashlib.md5(pdf, usedforsecurity=False).digest()
            arguments["ContentMD5"] = base64.b64encode(md5).decode("ascii")
            arguments["ObjectLockMode"] = self.policy.retention_mode
            arguments["ObjectLockRetainUntilDate"] = datetime.now(UTC) + timedelta(
                days=self.policy.retention_days
            )
        try:
            self.client.put_object(**arguments)
        except ClientError as err:
            code = _code(err)
            if code in ("PreconditionFailed", "412"):
                return self._already_there(key, digest)
            raise _translate(err, key) from err
        except BotoCoreError as err:
            raise ArchiveUnavailableError(f"archive {key}: {type(err).__name__}") from err
        return True

    def _already_there(self, key: str, digest: bytes) -> bool:
        if hashlib.sha256(self.get(key)).digest() != digest:
            raise ArchiveConflictError(f"archive {key}: a different PDF is already stored")
        return False

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.location.bucket, Key=self.location.key(key))
            body: bytes = answer["Body"].read()
        except ClientError as err:
            if _code(err) in ("NoSuchKey", "404"):
                raise NotArchivedError(f"archive {key}: no such letter") from None
            raise _translate(err, key) from err
        except BotoCoreError as err:
            raise ArchiveUnavailableError(f"archive {key}: {type(err).__name__}") from err
        expected = (answer.get("Metadata") or {}).get(SHA256_METADATA)
        if expected and hashlib.sha256(body).hexdigest() != expected:
            raise ArchiveUnavailableError(
                f"archive {key}: the body read does not match its SHA-256"
            )
        return body

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.location.bucket, Key=self.location.key(key))
        except ClientError as err:
            if _code(err) in ("NoSuchKey", "404", "NotFound"):
                return False
            raise _translate(err, key) from err
        except BotoCoreError as err:
            raise ArchiveUnavailableError(f"archive {key}: {type(err).__name__}") from err
        return True


def _code(err: ClientError) -> str:
    return str(err.response.get("Error", {}).get("Code", ""))


def _translate(err: ClientError, key: str) -> Exception:
    code = _code(err)
    if code in _CONFIGURATION_CODES:
        return ConfigurationError(f"LETTERS_ARCHIVE_URL: S3 refused {key}: {code}")
    return ArchiveUnavailableError(f"archive {key}: S3 {code or 'error'}")
