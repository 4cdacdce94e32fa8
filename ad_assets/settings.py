"""One environment switch and the settings read from the environment. Everything AdLake
writes goes under ADLAKE_HOME (default ./.adlake): the lake, Dagster's instance, caches.

| variable | default | meaning |
|---|---|---|
| ADLAKE_ENV | embedded | embedded (local dir, local Spark) / docker / aws |
| ADLAKE_HOME | ./.adlake | state root |
| ADLAKE_LAKE_ROOT | $ADLAKE_HOME/lake | local path or s3a://bucket/prefix |
| ADLAKE_S3_ENDPOINT | (AWS) | e.g. http://127.0.0.1:9000 for MinIO |
| ADLAKE_S3_PATH_STYLE | true | path-style S3 URLs (MinIO) |
| AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_REGION | | S3 credentials; the region signs MSK tokens |
| ADLAKE_START_DATE | 2026-11-01 | first daily partition (and the simulated world's start) |
| ADLAKE_RAW_SOURCE | generator (embedded) / landed | who writes raw/ |
| ADLAKE_IMPRESSIONS_PER_DAY, ADLAKE_SEED | 30000, 42 | generator scale and seed |
| ADLAKE_SPARK_MASTER, ADLAKE_SPARK_DRIVER_MEMORY | local[2], 4g | Spark |
| ADLAKE_SPARK_JARS_DIR | $ADLAKE_CACHE/jars-current | Delta + hadoop-aws jars |
| ADLAKE_SPARK_CONF | (none) | more Spark settings, a JSON object: {"spark.executor.memory": "8g"} |
| ADLAKE_SPARK_RUNNER | local | where bronze, silver and gold run: local (in-process Spark) / emr_serverless |
| ADLAKE_EMR_APPLICATION_ID | (none) | emr_serverless: the EMR Serverless application the steps run on |
| ADLAKE_EMR_EXECUTION_ROLE_ARN | (none) | emr_serverless: the jobs' IAM role |
| ADLAKE_EMR_ARTIFACTS_URI | (none) | emr_serverless: s3://bucket/prefix for the steps' code (by its hash) |
| ADLAKE_EMR_LOG_GROUP | (none) | emr_serverless: the jobs' CloudWatch log group (Pipes reads results there) |
| ADLAKE_EMR_HMAC_KEY_SECRET | (none) | emr_serverless: Secrets Manager ARN of the HMAC key (silver) |
| ADLAKE_HMAC_KEY, ADLAKE_HMAC_KEY_VERSION | key file in ADLAKE_HOME, its version (v1) | user pseudonyms |
| ADLAKE_CLICKHOUSE_TARGET | embedded (embedded env) / server | where the marts live: chDB or a server |
| ADLAKE_CHDB_PATH | $ADLAKE_HOME/clickhouse | the embedded engine's data directory |
| ADLAKE_CLICKHOUSE_HOST / _PORT / _USER / _SECURE | 127.0.0.1, 8123, default, false | server target |
| ADLAKE_CLICKHOUSE_PASSWORD | (empty) | server target; read from the environment only |
| ADLAKE_FRESHNESS_DEADLINE | 0 6 * * * | cron (UTC): by then, yesterday's gold and marts must be in |
| ADLAKE_MIN_FREE_MB | 512 | a step refuses to write to a lake directory with less free space |
| ADLAKE_ATTRIBUTION_WINDOWS | (7-day clicks, no views) | YAML: windows per advertiser (docs/attribution.md) |
| ADLAKE_PRIVACY_MIN_USERS | 5 | user-level mart rows about fewer users are suppressed (docs/privacy.md) |
| ADLAKE_KAFKA_BOOTSTRAP | 127.0.0.1:9092 | the stream's Kafka (its controller: port + 1) |
| ADLAKE_REDIS_URL | redis://127.0.0.1:6379/0 | the live counters' Redis |
| ADLAKE_KAFKA_JARS_DIR | $ADLAKE_CACHE/kafka-current | the Kafka broker's jars (scripts/bootstrap.sh) |
| ADLAKE_KAFKA_REPLICATION_FACTOR | 1 | replicas of each topic `adlake stack init` creates (3 on MSK) |
| ADLAKE_KAFKA_AUTH | none | none / aws_iam: MSK's IAM access control, TLS (spark_jobs/kafka_auth.py) |
| ADLAKE_INCIDENT | (none) | simulated conversions collapse: from=2026-11-05,to=2026-11-06 (docs/alerts.md) |
| ADLAKE_ALERT_RULES | (packaged ad_assets/alerts/rules.yaml) | the KPI alert rules (docs/alerts.md) |
| ADLAKE_ALERT_WEBHOOK_URL | (none: recorded, not sent) | Slack-compatible webhook; environment only |

`adlake stream up` runs Kafka and Redis when their address is on 127.0.0.1 or localhost,
with config, data and log under $ADLAKE_HOME/stream/{kafka,redis}.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from spark_jobs.kafka_auth import KafkaAuth
from spark_jobs.lake import Lake, S3Options

ENVIRONMENTS = ("embedded", "docker", "aws")
# The first daily partition and the simulated world's first day, unless ADLAKE_START_DATE
# (or `adlake run --start`) says otherwise. The CLI and the log source default to it too.
DEFAULT_START_DATE = "2026-11-01"
CLICKHOUSE_TARGETS = ("embedded", "server")
# Rows of user-level marts about fewer distinct users are suppressed. Small, for the demo
# data's small segments; Google Ads Data Hub uses 50, a sensible floor in production.
DEFAULT_PRIVACY_MIN_USERS = 5
DEFAULT_KAFKA_BOOTSTRAP = "127.0.0.1:9092"
DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"
# Where the bronze, silver and gold Spark steps run (ad_assets/resources/spark_steps.py),
# and what the EMR Serverless runner needs (docs/deploy.md, "The Spark steps on EMR Serverless").
SPARK_RUNNERS = ("local", "emr_serverless")
EMR_SETTINGS = (
    "ADLAKE_EMR_APPLICATION_ID",
    "ADLAKE_EMR_EXECUTION_ROLE_ARN",
    "ADLAKE_EMR_ARTIFACTS_URI",
    "ADLAKE_EMR_LOG_GROUP",
    "ADLAKE_EMR_HMAC_KEY_SECRET",
)


def _cache(e: Mapping[str, str]) -> Path:
    return Path(e.get("ADLAKE_CACHE", Path.home() / ".cache" / "adlake"))


@dataclass(frozen=True)
class Settings:
    env: str
    home: Path
    lake_root: str
    s3_endpoint: str | None
    s3_region: str
    s3_path_style: bool
    start_date: str
    raw_source: str
    impressions_per_day: int
    seed: int
    spark_master: str
    spark_driver_memory: str
    spark_jars_dir: str
    spark_conf: tuple[tuple[str, str], ...]
    hmac_key_version: str | None  # None: the key file's version (embedded), else v1
    clickhouse_target: str
    chdb_path: str
    clickhouse_host: str
    clickhouse_port: int
    clickhouse_user: str
    clickhouse_secure: bool
    freshness_deadline: str
    min_free_mb: int
    attribution_windows: str | None = None  # a YAML file; None: the default windows
    privacy_min_users: int = DEFAULT_PRIVACY_MIN_USERS
    # The real-time path (ad_assets/realtime/servers.py); defaults for code that builds
    # Settings by hand.
    kafka_bootstrap: str = DEFAULT_KAFKA_BOOTSTRAP
    redis_url: str = DEFAULT_REDIS_URL
    kafka_jars_dir: str = field(default_factory=lambda: str(_cache(os.environ) / "kafka-current"))
    kafka_replication_factor: int = 1
    spark_runner: str = "local"  # SPARK_RUNNERS; the emr_* settings serve emr_serverless
    emr_application_id: str | None = None
    emr_execution_role_arn: str | None = None
    emr_artifacts_uri: str | None = None
    emr_log_group: str | None = None
    emr_hmac_key_secret: str | None = None
    kafka_auth: KafkaAuth = field(default_factory=KafkaAuth)  # every Kafka client's (kafka_auth.py)
    alert_rules: str | None = None  # a YAML file; None: the packaged rules (ad_assets/alerts)
    incident: str | None = None  # the generator's injected incident (ad_assets/generator/incident.py)

    @property
    def dagster_home(self) -> Path:
        return self.home / "dagster"

    @property
    def marts_snapshot_path(self) -> Path:
        """The marts as Parquet for readers that must not hold chDB (ad_assets/marts_snapshot.py)."""
        return self.home / "marts_snapshot"

    @property
    def stream_home(self) -> Path:
        """Where the local Kafka and Redis servers keep config, data and logs."""
        return self.home / "stream"

    def lake(self) -> Lake:
        s3 = None
        if self.lake_root.startswith(("s3a://", "s3://")):
            s3 = S3Options(
                endpoint=self.s3_endpoint,
                access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
                secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
                region=self.s3_region,
                path_style=self.s3_path_style,
            )
        return Lake(self.lake_root, s3)


def _spark_conf(text: str) -> tuple[tuple[str, str], ...]:
    if not text.strip():
        return ()
    try:
        conf = json.loads(text)
    except json.JSONDecodeError as ex:
        raise ValueError(f"ADLAKE_SPARK_CONF must be a JSON object of Spark settings: {ex}") from ex
    if not isinstance(conf, dict):
        raise ValueError("ADLAKE_SPARK_CONF must be a JSON object of Spark settings")
    return tuple((str(k), str(v)) for k, v in conf.items())


def _spark_runner(e: Mapping[str, str]) -> str:
    runner = e.get("ADLAKE_SPARK_RUNNER") or "local"
    if runner not in SPARK_RUNNERS:
        raise ValueError(f"ADLAKE_SPARK_RUNNER must be one of {SPARK_RUNNERS}, got {runner!r}")
    if runner == "emr_serverless":
        if missing := [name for name in EMR_SETTINGS if not e.get(name)]:
            raise ValueError(f"ADLAKE_SPARK_RUNNER=emr_serverless needs {', '.join(missing)}")
        if not e["ADLAKE_EMR_ARTIFACTS_URI"].startswith("s3://"):
            raise ValueError("ADLAKE_EMR_ARTIFACTS_URI must be s3://bucket/prefix")
    return runner


def load_settings(environ: dict[str, str] | None = None) -> Settings:
    e = os.environ if environ is None else environ
    env = e.get("ADLAKE_ENV", "embedded")
    if env not in ENVIRONMENTS:
        raise ValueError(f"ADLAKE_ENV must be one of {ENVIRONMENTS}, got {env!r}")
    home = Path(e.get("ADLAKE_HOME", ".adlake")).resolve()
    ch_target = e.get("ADLAKE_CLICKHOUSE_TARGET", "embedded" if env == "embedded" else "server")
    if ch_target not in CLICKHOUSE_TARGETS:
        raise ValueError(f"ADLAKE_CLICKHOUSE_TARGET must be one of {CLICKHOUSE_TARGETS}, got {ch_target!r}")
    cache = _cache(e)
    return Settings(
        env=env,
        home=home,
        lake_root=e.get("ADLAKE_LAKE_ROOT", str(home / "lake")),
        s3_endpoint=e.get("ADLAKE_S3_ENDPOINT") or None,
        s3_region=e.get("AWS_REGION", "us-east-1"),
        # MinIO wants path-style URLs (http://host/bucket/key); AWS accepts both.
        s3_path_style=e.get("ADLAKE_S3_PATH_STYLE", "true").lower() in ("1", "true", "yes"),
        start_date=e.get("ADLAKE_START_DATE", DEFAULT_START_DATE),
        raw_source=e.get("ADLAKE_RAW_SOURCE", "generator" if env == "embedded" else "landed"),
        impressions_per_day=int(e.get("ADLAKE_IMPRESSIONS_PER_DAY", "30000")),
        seed=int(e.get("ADLAKE_SEED", "42")),
        spark_master=e.get("ADLAKE_SPARK_MASTER", "local[2]"),
        spark_driver_memory=e.get("ADLAKE_SPARK_DRIVER_MEMORY", "4g"),
        spark_jars_dir=e.get("ADLAKE_SPARK_JARS_DIR", str(cache / "jars-current")),
        spark_conf=_spark_conf(e.get("ADLAKE_SPARK_CONF", "")),
        hmac_key_version=e.get("ADLAKE_HMAC_KEY_VERSION") or None,
        clickhouse_target=ch_target,
        chdb_path=e.get("ADLAKE_CHDB_PATH", str(home / "clickhouse")),
        clickhouse_host=e.get("ADLAKE_CLICKHOUSE_HOST", "127.0.0.1"),
        clickhouse_port=int(e.get("ADLAKE_CLICKHOUSE_PORT", "8123")),
        clickhouse_user=e.get("ADLAKE_CLICKHOUSE_USER", "default"),
        clickhouse_secure=e.get("ADLAKE_CLICKHOUSE_SECURE", "false").lower() in ("1", "true", "yes"),
        freshness_deadline=e.get("ADLAKE_FRESHNESS_DEADLINE", "0 6 * * *"),
        min_free_mb=int(e.get("ADLAKE_MIN_FREE_MB", "512")),
        # Absolute: the UI and the runs must read the same file wherever they start.
        attribution_windows=str(Path(e["ADLAKE_ATTRIBUTION_WINDOWS"]).resolve())
        if e.get("ADLAKE_ATTRIBUTION_WINDOWS")
        else None,
        privacy_min_users=_positive_int(e, "ADLAKE_PRIVACY_MIN_USERS", DEFAULT_PRIVACY_MIN_USERS),
        kafka_bootstrap=e.get("ADLAKE_KAFKA_BOOTSTRAP") or DEFAULT_KAFKA_BOOTSTRAP,
        redis_url=e.get("ADLAKE_REDIS_URL") or DEFAULT_REDIS_URL,
        kafka_jars_dir=e.get("ADLAKE_KAFKA_JARS_DIR", str(cache / "kafka-current")),
        kafka_replication_factor=_positive_int(e, "ADLAKE_KAFKA_REPLICATION_FACTOR", 1),
        spark_runner=_spark_runner(e),
        emr_application_id=e.get("ADLAKE_EMR_APPLICATION_ID") or None,
        emr_execution_role_arn=e.get("ADLAKE_EMR_EXECUTION_ROLE_ARN") or None,
        emr_artifacts_uri=e.get("ADLAKE_EMR_ARTIFACTS_URI") or None,
        emr_log_group=e.get("ADLAKE_EMR_LOG_GROUP") or None,
        emr_hmac_key_secret=e.get("ADLAKE_EMR_HMAC_KEY_SECRET") or None,
        kafka_auth=KafkaAuth.from_env(e),
        alert_rules=str(Path(e["ADLAKE_ALERT_RULES"]).resolve()) if e.get("ADLAKE_ALERT_RULES") else None,
        incident=e.get("ADLAKE_INCIDENT") or None,
    )


def _positive_int(e: Mapping[str, str], name: str, default: int) -> int:
    text = e.get(name, "")
    if not text:
        return default
    if not text.isdigit() or int(text) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {text!r}")
    return int(text)
