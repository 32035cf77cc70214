"""moto's S3 server on loopback, shared by the object-storage tests."""

from __future__ import annotations

import logging
import uuid
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-west-1"
ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-key"


@pytest.fixture(scope="session")
def s3_endpoint():
    """A real HTTP S3 server (moto's) on a free loopback port, for every process."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def s3_client(endpoint: str):
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def bucket_create(endpoint: str) -> tuple[object, str]:
    """A fresh bucket: (boto3 client, its name)."""
    name = f"medilytica-{uuid.uuid4().hex[:12]}"
    client = s3_client(endpoint)
    client.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return client, name


def s3_env(endpoint: str, bucket: str, secrets: Path) -> dict[str, str]:
    """The production environment switch, with the keys in *_FILE files."""
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "access").write_text(ACCESS_KEY + "\n")
    (secrets / "secret").write_text(SECRET_KEY + "\n")
    return {
        "STORAGE_BACKEND": "s3",
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ENDPOINT_URL": endpoint,
        "AWS_S3_REGION_NAME": REGION,
        "AWS_ACCESS_KEY_ID_FILE": str(secrets / "access"),
        "AWS_SECRET_ACCESS_KEY_FILE": str(secrets / "secret"),
    }


def bucket_objects(client, name: str) -> dict[str, bytes]:
    listing = client.list_objects_v2(Bucket=name).get("Contents", [])
    return {o["Key"]: client.get_object(Bucket=name, Key=o["Key"])["Body"].read() for o in listing}


def local_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
