"""`adlake` command: generate logs, run the lakehouse for a range of days, print the
summary, query the marts, run dbt on the marts project, start the Dagster UI, run the
real-time path's servers (Kafka, Redis)."""

from __future__ import annotations

import argparse
import fcntl
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from ad_assets.settings import DEFAULT_START_DATE, Settings, load_settings

DAGSTER_YAML = """\
# Written by `adlake`: Dagster's instance for AdLake (SQLite storage under ADLAKE_HOME).
telemetry:
  enabled: false
# Pools "spark" (one local SparkSession's worth of cores) and "chdb" (one process at a
# time may open the embedded ClickHouse engine) admit one step at a time across runs.
concurrency:
  pools:
    default_limit: 1
"""


def prepare_dagster_home(s: Settings) -> Path:
    s.dagster_home.mkdir(parents=True, exist_ok=True)
    cfg = s.dagster_home / "dagster.yaml"
    # Two `adlake` commands started at once on a new home would both create and migrate
    # the SQLite storage and can leave it unusable: the first creates it, under a lock.
    with open(s.dagster_home / ".adlake-init.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        # Ours to rewrite when AdLake's defaults change; a file the user wrote is left alone.
        if not cfg.exists() or cfg.read_text().startswith(DAGSTER_YAML.splitlines()[0]):
            cfg.write_text(DAGSTER_YAML)
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(s.dagster_home)):
            pass
    os.environ["DAGSTER_HOME"] = str(s.dagster_home)
    return s.dagster_home


def cmd_generate(a: argparse.Namespace) -> int:
    from ad_assets.generator import generate
    from spark_jobs.lake import Lake

    t = time.time()
    out = a.out or str(load_settings().home / "lake")
    report = generate(Lake(out), date.fromisoformat(a.start), a.days, a.impressions_per_day, a.seed)
    print(
        f"wrote {report.files} files, {report.bytes / 1e6:.1f} MB in {time.time() - t:.1f}s under {out}/raw"
    )
    for t_, n in report.lines.items():
        print(f"  {t_:<13} {n:>10,} lines")
    return 0


LAYERS = ("raw", "bronze", "silver", "gold", "marts")
# `adlake run --from X`: the job that starts at layer X (ad_assets/defs/schedules.py).
RUN_FROM = {"raw": "lakehouse_daily", "bronze": "reprocess_landed", "gold": "gold_onwards"}


def cmd_run(a: argparse.Namespace) -> int:
    s = load_settings()
    # The partitions and the simulated world start where the first run starts, unless
    # ADLAKE_START_DATE says where an earlier world began (later days of one history).
    if "ADLAKE_START_DATE" not in os.environ:
        s = replace(s, start_date=a.start)
    if a.start < s.start_date:
        print(f"adlake run: --start {a.start} is before ADLAKE_START_DATE", file=sys.stderr)
        return 2
    if a.impressions_per_day:
        s = replace(s, impressions_per_day=a.impressions_per_day)
    if a.incident:
        from ad_assets.generator import parse_incident

        try:
            parse_incident(a.incident)
        except ValueError as ex:
            print(f"adlake run: --{ex}", file=sys.stderr)
            return 2
        s = replace(s, incident=a.incident)
    prepare_dagster_home(s)
    from ad_assets.summary import render

    start = date.fromisoformat(a.start)
    end = start + timedelta(days=a.days - 1)
    layers = " -> ".join(LAYERS[LAYERS.index(a.run_from) :])
    scale = f" ({s.impressions_per_day:,} impressions/day)" if a.run_from == "raw" else ""
    what = f"{layers} for arrival dates {start}..{end}{scale}"
    print(f"AdLake: materializing {what} into {s.lake_root}", flush=True)
    t = time.time()
    run_id = _run_job(s, RUN_FROM[a.run_from], start, end)
    if not run_id:
        return 1
    print(f"\nDone in {time.time() - t:.0f}s (run {run_id}).\n")
    print(render(s.lake(), _clickhouse(s)))
    # Training reads silver: a run from gold leaves it as it was.
    trained = _train_models(s, start, end) if a.train and a.run_from != "gold" else 0
    alerted = _evaluate_alerts(s) if a.alerts else 0
    print(f"Dagster instance: {s.dagster_home} (make ui to browse lineage and runs)")
    return trained or alerted


def _evaluate_alerts(s: Settings) -> int:
    """The KPI alerts' job (as its sensor starts it after a daily run); prints the notices
    it recorded and what fires now."""
    from ad_assets.alerts.state import state_from_history
    from ad_assets.defs.alerts import ALERTS_JOB, read_history

    print("Evaluating the KPI alerts (docs/alerts.md)...", flush=True)
    started = datetime.now(UTC)
    if not _run_job(s, ALERTS_JOB):
        return 1
    history = read_history(s.lake())
    # This run's notices by their time: a Delta table's rows come back in no set order.
    new = sorted((r for r in history if r["evaluated_at"] >= started), key=lambda r: r["event_date"])
    for row in new:
        status, day, severity = row["status"], row["event_date"], row["severity"]
        print(f"  {status:<9} {day} [{severity}] {row['message']} ({row['delivery']})")
    firing = [k for k, alert in state_from_history(history).items() if alert.firing]
    print(f"KPI alerts: {len(new)} new notices, {len(firing)} firing now (adlake alerts --dry-run)\n")
    return 0


def cmd_alerts(a: argparse.Namespace) -> int:
    """What the rules find on the marts now, without recording or sending anything
    (--dry-run), or the alerts job itself."""
    from ad_assets.alerts.rules import load_rules
    from ad_assets.defs.alerts import ALERTS_JOB, read_history, read_marts, run_evaluation

    s = load_settings()
    if not a.dry_run:
        prepare_dagster_home(s)
        return 0 if _run_job(s, ALERTS_JOB) else 1
    try:
        ev = run_evaluation(load_rules(s.alert_rules), read_marts(_clickhouse(s)), read_history(s.lake()))
    except (FileNotFoundError, ValueError) as ex:
        print(f"adlake alerts: {ex}", file=sys.stderr)
        return 1
    print(f"Rules evaluated on event dates {ev.dates[0]}..{ev.dates[-1]} (dry run: nothing recorded or sent)")
    for n in ev.notices:
        print(
            f"  would notify {n.status:<9} {n.finding.event_date} [{n.finding.severity}] {n.finding.message}"
        )
    if not ev.notices:
        print("  no alert changes status")
    firing = sorted(":".join(k) for k, alert in ev.state.items() if alert.firing)
    print(f"Firing after this evaluation: {', '.join(firing) or 'none'}")
    return 0


def _train_models(s: Settings, start: date, end: date) -> int:
    """The models' job for the same arrival dates (as the sensor does after a daily run),
    when the lake has a complete evaluation day with a day to train on before it; prints
    each model's evaluation (the CTR model's next to the ceiling). A model that does not
    beat the baseline and the promoted version is reported, not a fault: the exit code is 1
    only when the run failed otherwise, or a promotable model was not promoted."""
    from ad_assets.defs.prediction import TARGETS, TRAIN_JOB
    from prediction.registry import Registry

    first = date.fromisoformat(s.start_date)
    if not TARGETS[0].lake_allows_training(first, end):
        print("Models: not trained (they need an evaluation day after a training day: --days 4 or more)\n")
        return 0
    print("Training the CTR and CVR models (features -> models -> promotion)...", flush=True)
    t = time.time()
    registries = {target.name: Registry(s.lake(), target.name) for target in TARGETS}
    before = {name: r.candidate() for name, r in registries.items()}
    run_id = _run_job(s, TRAIN_JOB, start, end)
    print(f"\nModels trained in {time.time() - t:.0f}s.")
    not_promotable = unpromoted = False
    for target in TARGETS:
        registry = registries[target.name]
        version = registry.candidate()
        card = registry.card(version) if version and version != before[target.name] else None
        if card is None:
            why = (
                "the run's log says why"
                if target.lake_allows_training(first, end)
                else f"the lake is too young for it: {target.young_lake}"
            )
            print(f"{target.title} model: none trained this run ({why})\n")
            continue
        promoted = registry.current() == version
        _print_model(s, target, version, card, promoted)
        not_promotable |= not card["promotable"]
        unpromoted |= card["promotable"] and not promoted
    # A candidate that fails its blocking check fails the run by design: that is explained.
    return 1 if unpromoted or not (run_id or not_promotable) else 0


def _print_model(s: Settings, target, version: str, card: dict, promoted: bool) -> None:
    """A trained model's evaluation, and why it was not promoted if it was not."""
    from prediction.evaluation import format_table

    split = card["split"]
    print(
        f"\n{target.title} model {version} ({'promoted' if promoted else 'NOT promoted'}): "
        f"trained on {split['train']} ({card['train_rows']:,} {card.get('rows', 'impressions')}), "
        f"evaluated on {split['evaluate']}\n"
        f"{format_table(card['evaluation'])}\n"
        + ("(ceiling: the simulator's true click probability; " if target.name == "ctr" else "(")
        + f"plots beside the model in {s.lake_root}/models/{target.name}/versions/{version})\n"
    )
    if not card["promotable"]:
        print("not promoted: " + "; ".join(card.get("promotion_reasons", [])) + "\n")


@contextmanager
def one_run_at_a_time(dagster_home: Path) -> Iterator[None]:
    """`adlake` runs of one home take turns, whole runs at a time. The instance's pools
    would also keep their Spark steps apart, but a run waiting for a pool slot polls for
    it and keeps a core busy; a run waiting here sleeps in the kernel until the lock is
    free (the kernel frees it when the holder exits, even when it is killed)."""
    with open(dagster_home / ".adlake-run.lock", "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            print(f"another adlake run is using {dagster_home.parent}: waiting for it to end", flush=True)
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _run_job(
    s: Settings, name: str, start: date | None = None, end: date | None = None, config: dict | None = None
) -> str | None:
    """Runs a job in this process: a partitioned one over arrival dates start..end (one
    backfill run); the run id, or None after printing where to look."""
    from dagster import DagsterInstance

    from ad_assets.definitions import build_definitions
    from ad_assets.lib.partitions import partition_range_tags
    from ad_assets.runs import release_abandoned_runs, run_tags

    with one_run_at_a_time(Path(os.environ["DAGSTER_HOME"])), DagsterInstance.get() as instance:
        for run_id in release_abandoned_runs(instance):
            print(f"run {run_id} was killed before it ended: marked failed, its pool slots freed")
        result = (
            build_definitions(s)
            .resolve_job_def(name)
            .execute_in_process(
                instance=instance,
                tags={**(partition_range_tags(start, end) if start and end else {}), **run_tags()},
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}, **(config or {})},
            )
        )
    if not result.success:
        print(f"run {result.run_id} failed; see it in the Dagster UI (make ui)", file=sys.stderr)
        return None
    return result.run_id


def cmd_replay(a: argparse.Namespace) -> int:
    """Reprocess the arrival dates that have quarantined rows (matching the filters), from
    the raw files in the lake: after a parser/contract fix or a re-delivered file, lines
    that now pass move from quarantine to bronze and flow on to the marts."""
    from ad_assets.quarantine import quarantined

    s = load_settings()
    prepare_dagster_home(s)
    rows = quarantined(s.lake(), event_type=a.event_type, reason_prefix=a.reason)
    if not rows:
        print("nothing in quarantine matches")
        return 0
    for r in rows:
        print(f"  {r['arrival_date']}  {r['event_type']:<13} {r['count']:>7,}  {r['reason']}")
    dates = sorted({r["arrival_date"] for r in rows})
    print(
        f"replaying arrival dates {dates[0]}..{dates[-1]} (bronze -> marts, raw files as landed)", flush=True
    )
    if a.dry_run:
        return 0
    run_id = _run_job(s, "reprocess_landed", dates[0], dates[-1])
    if not run_id:
        return 1
    left = quarantined(s.lake(), event_type=a.event_type, reason_prefix=a.reason)
    print(f"done (run {run_id}): {sum(r['count'] for r in left):,} matching rows still in quarantine")
    return 0


def _clickhouse(s: Settings):
    from ad_assets.resources.clickhouse import ClickHouseResource

    return ClickHouseResource.from_settings(s, password=os.environ.get("ADLAKE_CLICKHOUSE_PASSWORD"))


def cmd_summary(_: argparse.Namespace) -> int:
    from ad_assets.summary import render

    s = load_settings()
    print(render(s.lake(), _clickhouse(s)))
    return 0


def cmd_quality(a: argparse.Namespace) -> int:
    """Latest result of every check for the newest partition (or the one containing --date);
    exit 1 when a check of ERROR severity failed."""
    from ad_assets.quality.report import render, status
    from ad_assets.quality.results import latest_results

    day = date.fromisoformat(a.date) if a.date else None
    rows = latest_results(load_settings().lake(), day)
    print(render(rows, day))
    return 1 if any(status(r) == "FAIL" for r in rows) else 0


def cmd_sql(a: argparse.Namespace) -> int:
    from ad_assets.marts_sql import SqlError, run_sql

    try:
        print(run_sql(load_settings(), a.query, a.format), end="")
    except SqlError as ex:
        print(f"adlake sql: {ex}", file=sys.stderr)
        return 2
    return 0


def cmd_dbt(a: argparse.Namespace) -> int:
    """dbt on AdLake's project with the settings of this environment (lake, engine dir)."""
    from ad_assets.defs.marts import DBT_EXECUTABLE, DBT_PROJECT_DIR, dbt_lake_root

    s = load_settings()
    env = {
        **os.environ,
        "ADLAKE_LAKE_ROOT": dbt_lake_root(s.lake()),
        "ADLAKE_CHDB_PATH": s.chdb_path,
        "ADLAKE_CLICKHOUSE_TARGET": s.clickhouse_target,
        "DO_NOT_TRACK": "1",
    }
    dirs = ["--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    return subprocess.call([DBT_EXECUTABLE, *a.args, *dirs], env=env)


def cmd_keys_rotate(a: argparse.Namespace) -> int:
    """Move every pseudonym in the lake to a new key (docs/privacy.md, "Key rotation")."""
    from ad_assets.definitions import build_resources
    from ad_assets.privacy.rotation import rotate_key

    s = load_settings()
    resources = build_resources(s)
    lake = resources["lake"].lake()
    spark = resources["spark"].session(lake)
    try:
        r = rotate_key(spark, lake, resources["pseudonym_key"], a.version)
    except ValueError as ex:
        print(f"adlake keys rotate: {ex}", file=sys.stderr)
        return 2
    for table, n in r.silver_updated.items():
        print(f"  silver_{table}: {n:,} rows re-pseudonymised")
    for table, n in r.audience_rows.items():
        print(f"  gold_{table}: rebuilt, {n:,} rows")
    print(f"pseudonyms now use key {r.new_version} (was {r.old_version})")
    return 0


def cmd_erase(a: argparse.Namespace) -> int:
    """Erase users from every layer and prove it (docs/privacy.md, "Erasure"). The ids go
    into a request file under ADLAKE_HOME/erasure; the Dagster job `erase_users` is given
    the request's id, never the ids."""
    from ad_assets.defs.erasure import ERASE_JOB, ERASURE_LOG_KEY
    from ad_assets.privacy.erasure import new_request, pending_requests

    s = load_settings()
    prepare_dagster_home(s)
    requests = s.home / "erasure"
    if a.resume:
        names = [p.stem for p in pending_requests(requests)]
        if not names:
            print("no interrupted erasure request to resume")
            return 0
    else:
        ids = list(a.user_ids)
        if a.file:
            text = sys.stdin.read() if a.file == "-" else Path(a.file).read_text()
            ids += text.split()
        try:
            names = [new_request(requests, ids).stem]
        except ValueError as ex:
            print(f"adlake erase: {ex}", file=sys.stderr)
            return 2
    for name in names:
        print(f"erasure request {name}", flush=True)
        config = {"ops": {ERASURE_LOG_KEY.to_python_identifier(): {"config": {"request": name}}}}
        if not _run_job(s, ERASE_JOB, config=config):
            print(f"erasure {name} is not complete: `adlake erase --resume` finishes it", file=sys.stderr)
            return 1
        print(f"erasure {name} complete: see privacy/erasure_log in the lake")
    return 0


def cmd_ui(a: argparse.Namespace) -> int:
    s = load_settings()
    prepare_dagster_home(s)
    root = Path(__file__).resolve().parent.parent
    cmd = [
        sys.executable,
        "-m",
        "dagster",
        "dev",
        "-w",
        str(root / "workspace.yaml"),
        "-h",
        "127.0.0.1",
        "-p",
        str(a.port),
    ]
    return subprocess.call(cmd, cwd=root)


def cmd_stream_up(a: argparse.Namespace) -> int:
    """Start the local Kafka broker and Redis server that are not running (a server whose
    configured address is not on this machine is used as it is), then the counters query."""
    from ad_assets.realtime.servers import ServerError, local_servers

    s = load_settings()
    broker, redis_server = local_servers(s)
    try:
        for name, server, address in (
            ("kafka", broker, s.kafka_bootstrap),
            ("redis", redis_server, s.redis_url),
        ):
            if server is None:
                print(f"{name}: using the configured external server {address}")
                continue
            was_running = server.running()
            t0 = time.monotonic()
            server.start()
            how = "already running" if was_running else f"started in {time.monotonic() - t0:.1f} s"
            print(f"{name}: {address} ({how}, pid {server.pid()}, home {server.home})", flush=True)
        if not getattr(a, "servers_only", False):
            driver = _stream_driver(s)
            was_running, t0 = driver.running(), time.monotonic()
            driver.start()
            how = "already running" if was_running else f"started in {time.monotonic() - t0:.1f} s"
            print(f"counters query: {how}, pid {driver.pid()}, log {driver.log_file}", flush=True)
    except ServerError as ex:
        print(f"adlake stream up: {ex}", file=sys.stderr)
        return 1
    return 0


def _stream_driver(s: Settings):
    from ad_assets.realtime.driver import StreamDriver

    return StreamDriver(s.stream_home / "driver", s.kafka_bootstrap, s.redis_url, s.spark_jars_dir)


def cmd_stream_down(_: argparse.Namespace) -> int:
    from ad_assets.realtime.servers import ServerError, local_servers

    s = load_settings()
    broker, redis_server = local_servers(s)
    try:
        driver = _stream_driver(s)
        if driver.running():
            driver.stop()
            print("counters query: stopped")
        for name, server, address in (
            ("kafka", broker, s.kafka_bootstrap),
            ("redis", redis_server, s.redis_url),
        ):
            if server is None:
                print(f"{name}: {address} is external, not stopped")
            elif server.running():
                server.stop()
                print(f"{name}: stopped")
            else:
                print(f"{name}: not running")
    except ServerError as ex:
        print(f"adlake stream down: {ex}", file=sys.stderr)
        return 1
    return 0


def cmd_stream_status(_: argparse.Namespace) -> int:
    """Each server's state; exit 1 if one does not answer."""
    from ad_assets.realtime.servers import kafka_topics, local_servers, redis_stats

    s = load_settings()
    broker, redis_server = local_servers(s)
    down = 0
    for name, server, address in (("kafka", broker, s.kafka_bootstrap), ("redis", redis_server, s.redis_url)):
        pid = server.pid() if server else None
        if name == "kafka":
            topics = kafka_topics(address)
            up = topics is not None
        else:
            stats = redis_stats(address)
            up = stats is not None
        where = f"pid {pid}" if pid else "external" if server is None else "not ours" if up else "no process"
        print(f"{name}: {'running' if up else 'DOWN'}, {address} ({where})")
        if name == "kafka" and topics is not None:
            for topic, partitions in topics.items():
                print(f"  {topic}: {partitions} partitions")
        elif name == "redis" and stats is not None:
            print(f"  {stats['keys']} keys, {stats['used_memory']} used memory")
        down += not up
    down += _print_counters_status(s)
    return 1 if down else 0


def _print_counters_status(s: Settings) -> int:
    """The counters query's state (1 if it is not running)."""
    from ad_assets.realtime.status import counters_status, lag

    driver = _stream_driver(s)
    pid = driver.pid()
    if pid is None:
        print("counters query: DOWN (adlake stream up starts it)")
        return 1
    print(f"counters query: running, pid {pid}, log {driver.log_file}")
    try:
        st = counters_status(s.redis_url)
        behind = lag(s.kafka_bootstrap, driver.checkpoint)
    except Exception as ex:  # Redis or Kafka down: say so rather than a traceback
        print(f"  cannot read its state: {ex}")
        return 1
    if st.last_batch_at is not None:
        print(
            f"  last batch {st.last_batch} {st.seconds_since_batch:.1f} s ago; {st.events:,} events counted"
        )
    print(f"  lag {behind:,} records")
    if st.incomplete:
        print(f"  INCOMPLETE: {st.incomplete}")
    return 0


def cmd_collector(a: argparse.Namespace) -> int:
    """The HTTP collector (serving/collector.py), producing to the settings' Kafka."""
    from serving.collector import serve_collector

    serve_collector(a.host, a.port, load_settings().kafka_bootstrap)
    return 0


def cmd_dashboard(a: argparse.Namespace) -> int:
    """The Streamlit dashboard (dashboard/app.py) on --host:--port; it reads the marts'
    snapshot or the ClickHouse server, never the pipeline's embedded engine."""
    app = Path(__file__).resolve().parents[1] / "dashboard" / "app.py"
    cmd = [
        sys.executable, "-m", "streamlit", "run", str(app),
        "--server.address", a.host,
        "--server.port", str(a.port),
        "--server.headless", "true",
        "--browser.gatherUsageStats", "false",  # no telemetry
        "--server.fileWatcherType", "none",
    ]  # fmt: skip
    # chDB reads local Delta tables only under its working directory (the quarantine and the
    # alert history pages): the server runs in the lake.
    lake = load_settings().lake()
    if not lake.is_s3 and Path(lake.local_root).is_dir():
        os.chdir(lake.local_root)
    os.execv(sys.executable, cmd)  # streamlit becomes this process: a signal to it stops the server


# Services listen on loopback; a container listens on its own interface (0.0.0.0) and
# docker/compose.yaml publishes the port on the host's 127.0.0.1 only.
_HOST_HELP = "address to listen on (default 127.0.0.1; 0.0.0.0 inside a container)"


def cmd_serve(a: argparse.Namespace) -> int:
    """The prediction API (serving/prediction_api.py) on --host (127.0.0.1): starts the local
    Redis if it is not running and, when Redis holds no feature snapshot, publishes the
    lake's newest (what the publish_online_features job does on a schedule)."""
    import redis

    from ad_assets.realtime.servers import ServerError, local_servers
    from prediction import online_store
    from serving.prediction_api import serve

    s = load_settings()
    client = redis.Redis.from_url(s.redis_url, socket_connect_timeout=2)
    _, redis_server = local_servers(s)
    try:
        client.ping()  # a Redis already answers there (ours, or one a user or a bench started)
    except redis.ConnectionError:
        if redis_server is None:
            print(f"adlake serve: Redis at {s.redis_url} does not answer", file=sys.stderr)
            return 1
        try:
            redis_server.start()
        except ServerError as ex:
            print(f"adlake serve: {ex}", file=sys.stderr)
            return 1
        print(f"redis: started {s.redis_url} (home {redis_server.home})", flush=True)
    snapshot = online_store.current_snapshot(client)
    if snapshot is None:
        try:
            as_of = online_store.latest_as_of(s.lake())
        except Exception as ex:  # no features table yet: serve with the defaults
            print(f"no CTR features in the lake yet ({type(ex).__name__}): make run first", file=sys.stderr)
            as_of = None
        if as_of is not None:
            snapshot, n = online_store.publish(client, as_of, online_store.stats_as_of(s.lake(), as_of))
            print(f"features: published {n:,} entries as of {as_of} to Redis", flush=True)
    client.close()
    print(f"prediction API on http://{a.host}:{a.port} (docs at /docs; features {snapshot})", flush=True)
    serve(host=a.host, port=a.port, workers=a.workers)
    return 0


def cmd_stack_init(a: argparse.Namespace) -> int:
    """A deployment's one-time setup (ad_assets/stack.py): the lake's bucket, Kafka's topics."""
    from ad_assets.stack import init_stack

    for line in init_stack(load_settings()):
        print(f"stack init: {line}", flush=True)
    return 0


def cmd_criteo(a: argparse.Namespace) -> int:
    """Train and score the CTR model kinds on a Criteo-format file (prediction/criteo.py)."""
    from prediction.criteo import CriteoFormatError, read_criteo, train_and_evaluate
    from prediction.evaluation import format_table

    t = time.time()
    try:
        data = read_criteo(Path(a.file), a.limit)
        scores = train_and_evaluate(data)
    except (CriteoFormatError, ValueError, FileNotFoundError) as ex:
        print(f"adlake criteo: {ex}", file=sys.stderr)
        return 2
    test = next(iter(scores.values()))
    table = format_table([{"model": k, **s.as_dict()} for k, s in scores.items()])
    print(
        f"{len(data):,} rows ({data.label.mean():.2%} clicked); scored on the last {test.rows:,} "
        f"in {time.time() - t:.0f}s:\n{table}"
    )
    return 0


def cmd_stream_demo(a: argparse.Namespace) -> int:
    from ad_assets.realtime.demo import as_json, run_demo

    s = load_settings()
    up = cmd_stream_up(argparse.Namespace(servers_only=False))
    if up:
        return up
    if not a.json:
        print(
            f"streaming {a.rate:,} events/s for {a.seconds:g} s (generating the traffic first)...", flush=True
        )
    report = run_demo(s.kafka_bootstrap, s.redis_url, _stream_driver(s).checkpoint, a.rate, a.seconds, s.seed)
    print(as_json(report) if a.json else report.text())
    return 0 if report.counters_match else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="adlake", description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("generate", help="write simulated ad-server logs to <out>/raw")
    g.add_argument("--start", default=DEFAULT_START_DATE)
    g.add_argument("--days", type=int, default=7)
    g.add_argument("--impressions-per-day", type=int, default=30_000)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--out", help="lake root (default $ADLAKE_HOME/lake)")
    g.set_defaults(fn=cmd_generate)
    r = sub.add_parser("run", help="materialize every asset for a range of arrival dates")
    r.add_argument("--start", default=DEFAULT_START_DATE)
    r.add_argument("--days", type=int, default=7)
    r.add_argument("--impressions-per-day", type=int)
    r.add_argument(
        "--from",
        dest="run_from",
        choices=tuple(RUN_FROM),
        default="raw",
        help="the first layer to rebuild: bronze reads the raw files already landed; gold reads "
        "silver as it is (e.g. after a change of attribution windows)",
    )
    r.add_argument(
        "--no-train", dest="train", action="store_false", help="skip the models' job after the run"
    )
    r.add_argument(
        "--no-alerts", dest="alerts", action="store_false", help="skip the KPI alerts' job after the run"
    )
    r.add_argument(
        "--incident",
        help="simulate conversions collapsing, e.g. from=2026-11-05,to=2026-11-06[,factor=0.1]"
        "[,campaign=ID|advertiser=ID] (the KPI alerts' demo, docs/alerts.md)",
    )
    r.set_defaults(fn=cmd_run)
    sub.add_parser("summary", help="rows per table and top campaigns").set_defaults(fn=cmd_summary)
    ql = sub.add_parser("quality", help="today's data-quality status: failed and warning checks")
    ql.add_argument("--date", help="an arrival date (default: the newest checked)")
    ql.set_defaults(fn=cmd_quality)
    q = sub.add_parser("sql", help="query the ClickHouse marts, e.g. SELECT * FROM marts.kpi_overview")
    q.add_argument("query")
    q.add_argument("--format", default="PrettyCompactMonoBlock", help="any ClickHouse output format")
    q.set_defaults(fn=cmd_sql)
    rp = sub.add_parser("replay", help="reprocess arrival dates with quarantined rows after a fix")
    rp.add_argument("--event-type", help="only this event type's quarantine")
    rp.add_argument("--reason", help="only rows whose reason starts with this, e.g. unreadable_file")
    rp.add_argument("--dry-run", action="store_true", help="list what would be replayed")
    rp.set_defaults(fn=cmd_replay)
    k = sub.add_parser("keys", help="pseudonymisation keys").add_subparsers(dest="keys_cmd", required=True)
    kr = k.add_parser("rotate", help="re-pseudonymise the lake under a new key, then destroy the old one")
    kr.add_argument("--version", help="name of the new key version (default: the next vN)")
    kr.set_defaults(fn=cmd_keys_rotate)
    e = sub.add_parser("erase", help="erase users from every layer (GDPR), rebuild what they fed, prove it")
    e.add_argument("user_ids", nargs="*", help="raw user ids, as the ad server logs them")
    e.add_argument("--file", help="a file of user ids, whitespace-separated ('-': standard input)")
    e.add_argument("--resume", action="store_true", help="finish the interrupted requests")
    e.set_defaults(fn=cmd_erase)
    d = sub.add_parser("dbt", help="run dbt on the marts project, e.g. adlake dbt docs generate")
    d.add_argument("args", nargs=argparse.REMAINDER)
    d.set_defaults(fn=cmd_dbt)
    u = sub.add_parser("ui", help="Dagster UI on 127.0.0.1")
    u.add_argument("--port", type=int, default=3000)
    u.set_defaults(fn=cmd_ui)
    st = sub.add_parser("stream", help="the real-time path: its Kafka and Redis servers on 127.0.0.1")
    sts = st.add_subparsers(dest="stream_cmd", required=True)
    sup = sts.add_parser(
        "up", help="start the local Kafka broker, Redis and the counters query (if not running)"
    )
    sup.add_argument("--servers-only", action="store_true", help="Kafka and Redis, not the counters query")
    sup.set_defaults(fn=cmd_stream_up)
    sts.add_parser("down", help="stop them").set_defaults(fn=cmd_stream_down)
    sts.add_parser(
        "status", help="each server's state, topics and keys (exit 1 if one is down)"
    ).set_defaults(fn=cmd_stream_status)
    dm = sts.add_parser(
        "demo", help="stream the simulator at a rate; latency, lag, counters vs what was sent"
    )
    dm.add_argument("--rate", type=int, default=100_000, help="events per second")
    dm.add_argument("--seconds", type=float, default=60)
    dm.add_argument("--json", action="store_true", help="the summary as one JSON object")
    dm.set_defaults(fn=cmd_stream_demo)
    sv = sub.add_parser("serve", help="the prediction API (pCTR, pCVR) on 127.0.0.1, features from Redis")
    sv.add_argument("--host", default="127.0.0.1", help=_HOST_HELP)
    sv.add_argument("--port", type=int, default=8090)
    sv.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (default: one per core)"
    )
    sv.set_defaults(fn=cmd_serve)
    cr = sub.add_parser("criteo", help="train and score the CTR models on a Criteo-format file (.gz too)")
    cr.add_argument("file")
    cr.add_argument("--limit", type=int, help="the first N lines only")
    cr.set_defaults(fn=cmd_criteo)
    sk = sub.add_parser("stack", help="a deployment's servers (docker/compose.yaml)")
    sks = sk.add_subparsers(dest="stack_cmd", required=True)
    sks.add_parser("init", help="create the lake's bucket and Kafka's topics (safe to rerun)").set_defaults(
        fn=cmd_stack_init
    )
    al = sub.add_parser("alerts", help="evaluate the KPI alert rules over the marts (docs/alerts.md)")
    al.add_argument("--dry-run", action="store_true", help="list what would fire; record and send nothing")
    al.set_defaults(fn=cmd_alerts)
    db = sub.add_parser("dashboard", help="the Streamlit dashboard on 127.0.0.1 (marts, live, alerts)")
    db.add_argument("--host", default="127.0.0.1", help=_HOST_HELP)
    db.add_argument("--port", type=int, default=8501)
    db.set_defaults(fn=cmd_dashboard)
    co = sub.add_parser("collector", help="the HTTP collector ad servers post events to (127.0.0.1)")
    co.add_argument("--host", default="127.0.0.1", help=_HOST_HELP)
    co.add_argument("--port", type=int, default=8088)
    co.set_defaults(fn=cmd_collector)
    a = p.parse_args(argv)
    return a.fn(a)


def entry() -> None:
    """The `adlake` command: main(), then an exit that skips the native libraries' teardown.
    A process that has loaded both chDB and delta-rs can hang in their exit handlers (seen
    with chDB 4.4 and deltalake 1.6 after `adlake run`); everything is written and flushed
    by then, so nothing is lost by not running them."""
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc or 0)


if __name__ == "__main__":
    entry()
