"""moto's server on loopback: a real HTTP endpoint speaking the S3 and Secrets Manager APIs.

Import the fixtures into a test module (`from tests.moto_server import aws_env, moto_endpoint  # noqa: F401`).
`aws_env` points boto3 at the server through its standard settings (AWS_ENDPOINT_URL and test credentials),
exactly as an operator's environment would point it at AWS, so the code under test is unchanged.
"""
from __future__ import annotations

import uuid

import boto3
import pytest
from moto.server import ThreadedMotoServer

REGION = "eu-central-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> str:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


def moto_environment(endpoint: str) -> dict[str, str]:
    """The variables that send boto3 (in this process or a child) to the moto server."""
    return {"AWS_ENDPOINT_URL": endpoint, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1"}


@pytest.fixture
def aws_env(moto_endpoint, monkeypatch) -> dict[str, str]:
    env = moto_environment(moto_endpoint)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


def secrets_manager(region: str = REGION):
    return boto3.client("secretsmanager", region_name=region)


@pytest.fixture
def new_bucket(aws_env) -> str:
    """An empty bucket of its own on the moto server (in REGION)."""
    name = f"bucket-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", region_name=REGION).create_bucket(
        Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name
