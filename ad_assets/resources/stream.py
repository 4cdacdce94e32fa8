from __future__ import annotations

from dagster import ConfigurableResource


class StreamResource(ConfigurableResource):
    """The real-time path: Kafka, Redis, and where the project keeps the stream's state
    (the landing's checkpoint, the counters driver's home)."""

    kafka_bootstrap: str
    redis_url: str
    home: str  # $ADLAKE_HOME/stream

    def landing_checkpoint(self) -> str:
        return f"{self.home}/checkpoints/landing"

    def counters_checkpoint(self) -> str:
        return f"{self.home}/driver/checkpoints/counters"
