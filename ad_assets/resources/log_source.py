from __future__ import annotations

from datetime import date

from dagster import ConfigurableResource

from ad_assets.generator import GenerationReport, generate, parse_incident
from ad_assets.settings import DEFAULT_START_DATE
from spark_jobs.lake import Lake


class LogSourceResource(ConfigurableResource):
    """Where raw logs come from. `generator`: the built-in ad-server simulator writes the
    arrival dates being materialized (the embedded default). `landed`: ad servers ship
    files to raw/ themselves; the raw asset only takes stock of them."""

    mode: str = "generator"
    world_start: str = DEFAULT_START_DATE  # the simulated world begins here
    impressions_per_day: int = 10_000
    seed: int = 42
    # An injected incident (ad_assets/generator/incident.py), e.g. "from=2026-11-05,to=2026-11-06":
    # the KPI alerts' demo. Empty: none.
    incident: str = ""

    def generate(self, lake: Lake, arrival_dates: list[date]) -> GenerationReport:
        start = date.fromisoformat(self.world_start)
        days = (max(arrival_dates) - start).days + 1
        incident = parse_incident(self.incident) if self.incident else None
        return generate(
            lake, start, days, self.impressions_per_day, self.seed, arrival_dates, incident=incident
        )
