"""Areas of files beside a stack's Pulumi state (state_store/area.py): where each backend URL puts them, and the same
write, read and listing on a folder and on S3 (moto's server on 127.0.0.1, as Pulumi's S3 backend is reached)."""
from __future__ import annotations

import pickle

import boto3
import pytest

from state_store.area import beside_state, state_folder
from state_store.s3_store import S3Store
from tests.moto_server import REGION, aws_env, moto_endpoint, new_bucket  # noqa: F401


def test_where_each_backend_puts_an_area(tmp_path):
    assert beside_state(f"file://{tmp_path}/state?metadata=skip", "records").url == \
        str(tmp_path / "state" / ".tonsurance" / "records")
    assert beside_state("file://state", "records", project_dir=str(tmp_path)).url == \
        str(tmp_path / "state" / ".tonsurance" / "records")       # relative to the project, as the engine runs
    assert state_folder(f"file://{tmp_path}/a/../state") == tmp_path / "state"
    assert beside_state("s3://bucket?region=eu-central-1", "records").store == \
        S3Store("bucket", ".tonsurance/records/", "eu-central-1")
    area = beside_state("s3://bucket/pulumi/state/?endpoint=minio.internal:9000&disable_https=true"
                        "&s3ForcePathStyle=true&profile=ops&awssdk=v2", "journal")
    assert area.store == S3Store("bucket", "pulumi/state/.tonsurance/journal/", None, "http://minio.internal:9000",
                                 True, "ops")
    assert area.url == "s3://bucket/pulumi/state/.tonsurance/journal/"
    assert beside_state("s3://b?endpoint=s3.example.com&use_path_style=true", "x").store.endpoint_url == \
        "https://s3.example.com"
    assert pickle.loads(pickle.dumps(area)) == area  # a dynamic provider may carry one
    for no_place in (None, "", "https://api.pulumi.com", "gs://bucket", "azblob://container"):
        assert beside_state(no_place, "records") is None
    with pytest.raises(ValueError, match="the `role` option is not supported"):
        beside_state("s3://bucket?role=arn:aws:iam::1:role/x", "records")


def exercise(area) -> None:
    assert area.names() == [] and area.read_text("a.json") is None
    location = area.write_text("a.json", '{"n": 1}')
    area.write_text("a.json", '{"n": 2}')  # replaced whole
    area.write_text("b.json", "{}")
    assert location == area.location("a.json")
    assert area.read_text("a.json") == '{"n": 2}'
    assert area.names() == ["a.json", "b.json"]


def test_a_folder_area(tmp_path):
    area = beside_state(f"file://{tmp_path}", "records")
    exercise(area)
    assert area.location("a.json") == str(tmp_path / ".tonsurance" / "records" / "a.json")
    left = sorted(p.name for p in (tmp_path / ".tonsurance" / "records").iterdir() if p.suffix != ".lock")
    assert left == ["a.json", "b.json"]  # no temporary file left (a replace's lock file stays, unlisted)


def test_an_s3_area_on_moto(aws_env, new_bucket):  # noqa: F811
    area = beside_state(f"s3://{new_bucket}/pulumi?region={REGION}", "records")
    exercise(area)
    assert area.location("a.json") == f"s3://{new_bucket}/pulumi/.tonsurance/records/a.json"
    keys = [o["Key"] for o in boto3.client("s3", region_name=REGION).list_objects_v2(
        Bucket=new_bucket)["Contents"]]
    assert sorted(keys) == ["pulumi/.tonsurance/records/a.json", "pulumi/.tonsurance/records/b.json"]
    # Another area of the same bucket, and the endpoint named in the URL as Pulumi's URL would name it.
    other = beside_state(f"s3://{new_bucket}/pulumi?region={REGION}&endpoint={aws_env['AWS_ENDPOINT_URL']}"
                         "&use_path_style=true", "journal")
    assert other.names() == []
