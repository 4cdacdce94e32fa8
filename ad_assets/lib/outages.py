"""Object-store outages: a Spark step that cannot reach the lake fails with a message
naming the store, and Dagster retries it with backoff; any other error fails at once
(retrying a bug or a bad table only repeats it)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from dagster import Backoff, Failure, RetryPolicy

from spark_jobs.lake import Lake

# 10 s, 20 s, 40 s: long enough for an object store to come back from a restart.
STORAGE_RETRY = RetryPolicy(max_retries=3, delay=10, backoff=Backoff.EXPONENTIAL)
# How an unreachable store shows up in Spark's S3A (AWS SDK), pyarrow's S3 and delta-rs.
UNREACHABLE = (
    "Connection refused",
    "Unable to execute HTTP request",
    "UnknownHostException",
    "SocketTimeoutException",
    "Couldn't connect to server",
    "NETWORK_CONNECTION",
    "error sending request",
)


def _gist(ex: BaseException) -> str:
    text = str(ex)
    for marker in UNREACHABLE:
        i = text.find(marker)
        if i >= 0:
            line = text[text.rfind("\n", 0, i) + 1 :].split("\n", 1)[0]
            return line.strip().lstrip(": ")[:300]
    return text.strip().split("\n", 1)[0][:300]


@contextmanager
def outages_retried(lake: Lake) -> Iterator[None]:
    try:
        yield
    except Failure:
        raise
    except Exception as ex:
        if lake.is_s3 and any(m in str(ex) for m in UNREACHABLE):
            store = (lake.s3.endpoint if lake.s3 else None) or "AWS S3"
            raise Failure(
                description=f"object store {store} unreachable for {lake.root}: {_gist(ex)}. "
                "Retrying with backoff.",
                allow_retries=True,
            ) from ex
        # The cause (with its stack trace) stays attached to the failure.
        raise Failure(description=f"{type(ex).__name__}: {_gist(ex)}", allow_retries=False) from ex


def outage_aware(step: Callable[..., Iterator]) -> Callable[..., Iterator]:
    """For a step generator with a `lake` resource: its errors go through outages_retried.
    Use with retry_policy=STORAGE_RETRY."""

    @functools.wraps(step)  # Dagster reads the resources from the wrapped signature
    def wrapper(context, **resources) -> Iterator:
        with outages_retried(resources["lake"].lake()):
            yield from step(context, **resources)

    return wrapper
