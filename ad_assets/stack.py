"""A deployment's one-time setup (docs/deploy.md): what the embedded default gets for free
and a stack of servers does not. The docker stack's `stack-init` service runs it before
the others start (`adlake stack init`); every step is safe to run again.

- the S3 lake's bucket, created when missing;
- the stream's Kafka topics, with their partitions and retention (spark_jobs/stream_layout.py),
  since the stack's broker does not create topics on first use."""

from __future__ import annotations

from ad_assets.settings import Settings


def ensure_bucket(s: Settings) -> str:
    """The lake's bucket exists afterwards; says whether it was created."""
    from botocore.exceptions import ClientError

    lake = s.lake()
    if not lake.is_s3:
        return f"lake {lake.root}: a local directory, no bucket"
    client = lake.s3_client()
    try:
        client.head_bucket(Bucket=lake.bucket)
        return f"bucket {lake.bucket}: exists"
    except ClientError as ex:
        if ex.response.get("Error", {}).get("Code") not in ("404", "NoSuchBucket"):
            raise
    client.create_bucket(Bucket=lake.bucket)
    return f"bucket {lake.bucket}: created"


def init_stack(s: Settings) -> list[str]:
    """Every setup step, in order; one line per step of what it found or did."""
    from ad_assets.realtime.servers import ensure_topics
    from spark_jobs.stream_layout import DEAD_LETTER_TOPIC, TOPICS

    done = [ensure_bucket(s)]
    ensure_topics(s.kafka_bootstrap, replication_factor=s.kafka_replication_factor, auth=s.kafka_auth)
    done.append(
        f"kafka {s.kafka_bootstrap}: topics {', '.join([*TOPICS, DEAD_LETTER_TOPIC])} "
        f"({s.kafka_replication_factor} replica(s) each)"
    )
    return done
