"""An S3-compatible server over HTTP for tests: moto's server mode, one per test session.

Used as real S3 is: through boto3 and an endpoint URL, nothing patched in
process. Each test makes its own bucket.
"""

from __future__ import annotations

import functools
import os
import uuid
from typing import Any

from moto.server import ThreadedMotoServer

from letters.storage.s3 import s3_client

# moto accepts any credentials; boto3 only needs some to sign with.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "letters-test",
    "AWS_SECRET_ACCESS_KEY": "letters-test-secret",
    "AWS_DEFAULT_REGION": "eu-north-1",
}


@functools.cache
def s3_endpoint() -> str:
    for name, value in CREDENTIALS.items():
        os.environ.setdefault(name, value)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    return f"http://{host}:{port}"


def client() -> Any:
    return s3_client(s3_endpoint(), "eu-north-1")


def new_bucket(object_lock: bool = False) -> str:
    name = f"letters-test-{uuid.uuid4().hex[:12]}"
    client().create_bucket(
        Bucket=name,
        CreateBucketConfiguration={"LocationConstraint": "eu-north-1"},
        ObjectLockEnabledForBucket=object_lock,
    )
    return name
