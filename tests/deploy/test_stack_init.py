"""`adlake stack init` (ad_assets/stack.py), the docker stack's one-shot setup, against a
real MinIO and a real Kafka broker: it creates the lake's bucket and the stream's topics,
and a second run finds them and changes nothing."""

from __future__ import annotations

import secrets

import boto3

from ad_assets.settings import load_settings
from ad_assets.stack import init_stack
from spark_jobs.stream_layout import DEAD_LETTER_TOPIC, TOPICS


def test_stack_init_creates_the_bucket_and_topics_once(minio, stream_servers, tmp_path, monkeypatch):
    bucket = f"stack-{secrets.token_hex(4)}"
    settings = load_settings(
        {
            "ADLAKE_HOME": str(tmp_path),
            "ADLAKE_ENV": "docker",
            "ADLAKE_LAKE_ROOT": f"s3a://{bucket}/lake",
            "ADLAKE_S3_ENDPOINT": minio["endpoint"],
            "ADLAKE_KAFKA_BOOTSTRAP": stream_servers.kafka_bootstrap,
        }
    )
    import os

    os.environ.update(
        {"AWS_ACCESS_KEY_ID": minio["access_key"], "AWS_SECRET_ACCESS_KEY": minio["secret_key"]}
    )
    try:
        first = init_stack(settings)
        second = init_stack(settings)
    finally:
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            os.environ.pop(name, None)
    assert first[0] == f"bucket {bucket}: created" and second[0] == f"bucket {bucket}: exists"
    assert "(1 replica(s) each)" in second[1]
    s3 = boto3.client(
        "s3",
        endpoint_url=minio["endpoint"],
        aws_access_key_id=minio["access_key"],
        aws_secret_access_key=minio["secret_key"],
        region_name="us-east-1",
    )
    assert bucket in {b["Name"] for b in s3.list_buckets()["Buckets"]}
    from confluent_kafka.admin import AdminClient

    topics = AdminClient({"bootstrap.servers": stream_servers.kafka_bootstrap}).list_topics(timeout=10).topics
    assert {*TOPICS, DEAD_LETTER_TOPIC} <= set(topics)
