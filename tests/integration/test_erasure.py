"""Erasure (docs/privacy.md, "Erasure") on the shared end-to-end lake (conftest
`lakehouse`), which is copied first and put back after: a user with impressions, clicks,
orders, quarantined lines and segment history is erased through the Dagster job, which
is interrupted once and rerun; then nothing of them is left in any file, line numbers
still point at the right raw lines, gold and the marts equal a recomputation from the
rewritten raw files, and the erasure log holds only salted hashes. Erasing them again
finds nothing."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import shutil
from collections import Counter
from pathlib import Path

import pytest
from dagster import materialize
from deltalake import DeltaTable

from ad_assets.cli import main
from ad_assets.defs.erasure import ERASURE_LOG_KEY, build_erasure_log
from ad_assets.privacy import erasure as erasure_module
from ad_assets.privacy.erasure import new_request, pending_requests, pseudonym
from spark_jobs.attribution import HEURISTIC_MODELS, UNATTRIBUTED
from spark_jobs.attribution_windows import DEFAULT_WINDOWS
from spark_jobs.contracts import EVENT_TYPES, TABLE_NAMES
from spark_jobs.erasure import ERASABLE, ERASURE_LOG, PRIVACY
from spark_jobs.lake_read import open_table, table_exists
from spark_jobs.metric_definitions import ADDITIVE_METRICS
from spark_jobs.privacy_scan import RAW_ID_TABLES
from spark_jobs.raw_erasure import find_lines, raw_files, split_lines
from tests import reference
from tests.integration.helpers import gold_by_key, mart_rows

NOBODY = "u-0000000000000000"  # an id no log holds


@pytest.fixture
def put_back(lakehouse, spark, tmp_path):
    """Copies the lake and the marts' engine directory, and puts them back after."""
    s = lakehouse["settings"]
    dirs = [Path(s.lake_root), Path(s.chdb_path)]
    for d in dirs:
        shutil.copytree(d, tmp_path / d.name, symlinks=True)
    yield
    for d in dirs:
        shutil.rmtree(d)
        shutil.copytree(tmp_path / d.name, d, symlinks=True)
    shutil.rmtree(s.home / "erasure", ignore_errors=True)
    spark._jvm.org.apache.spark.sql.delta.DeltaLog.clearCache()  # snapshots of the erased lake


def _rows(lake, layer: str, name: str) -> list[dict]:
    """Every row of a table ([] for an erasable table this lake never built, such as the CTR
    model's counts: tests/integration/test_prediction.py erases from those)."""
    if not table_exists(lake, layer, name):
        return []
    return open_table(lake, layer, name).to_pyarrow_table().to_pylist()


def _subject(lake) -> str:
    """A user with a quarantined line, clicks and an order."""
    quarantined = Counter(
        u
        for r in _rows(lake, "bronze", "quarantine")
        for u in re.findall(r'"(u-[0-9a-f]{16})"', r["raw_line"] or "")
    )
    clickers = {r["user_id"] for r in _rows(lake, "bronze", "clicks")}
    buyers = {r["user_id"] for r in _rows(lake, "bronze", "conversions")}
    candidates = sorted(u for u in quarantined if u in clickers and u in buyers)
    assert candidates, "the shared lake has no user with a quarantined line, a click and an order"
    return candidates[0]


def _run(lakehouse, request: str, **kw):
    s = lakehouse["settings"]
    job = build_erasure_log(s.home / "erasure", DEFAULT_WINDOWS, s.privacy_min_users)
    return materialize(
        [job],
        resources=lakehouse["resources"],
        instance=lakehouse["instance"],
        run_config={"ops": {ERASURE_LOG_KEY.to_python_identifier(): {"config": {"request": request}}}},
        **kw,
    )


def _heuristic_credits(lake) -> dict[tuple, float]:
    got: dict[tuple, float] = Counter()
    for r in _rows(lake, "gold", "attribution_campaign_daily"):
        if r["model"] in (*HEURISTIC_MODELS, UNATTRIBUTED):
            got[(r["event_date"], r["campaign_id"], r["model"])] += r["credited_conversions"]
    return got


def test_erasure_leaves_no_trace_rebuilds_what_they_fed_and_is_logged(
    lakehouse, spark, put_back, monkeypatch
):
    lake, s = lakehouse["lake"], lakehouse["settings"]
    key = lakehouse["resources"]["pseudonym_key"]
    root = Path(s.lake_root)
    user = _subject(lake)
    pid = pseudonym(key.key_bytes(), user)
    # Everything the user is in, before.
    assert any(r["user_pid"] == pid for r in _rows(lake, "gold", "segment_history"))
    assert any(r["user_pid"] == pid for r in _rows(lake, "silver", "impressions"))
    before = reference.read_raw(root)
    lines_before = sum(before.lines.values())
    mentioned = find_lines(lake, EVENT_TYPES, [user])
    removed = sum(len(n) for n in mentioned.values())

    # Interrupted after the tables' commits, before the raw files are rewritten.
    path = new_request(s.home / "erasure", [user, NOBODY])
    real_rewrite = erasure_module.rewrite_without

    def interrupted(*a, **kw):
        raise RuntimeError("killed")

    monkeypatch.setattr(erasure_module, "rewrite_without", interrupted)
    assert not _run(lakehouse, path.stem, raise_on_error=False).success
    assert not any(r["user_pid"] == pid for r in _rows(lake, "silver", "impressions"))
    assert find_lines(lake, EVENT_TYPES, [user]) and pending_requests(s.home / "erasure") == [path]
    monkeypatch.setattr(erasure_module, "rewrite_without", real_rewrite)

    result = _run(lakehouse, path.stem)
    (check,) = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    assert pending_requests(s.home / "erasure") == []  # the ids are gone with the request

    # Raw: the user's lines are gone, every other line is still there.
    after = reference.read_raw(root)
    assert find_lines(lake, EVENT_TYPES, [user]) == {}
    assert sum(after.lines.values()) == lines_before - removed
    # Raw lines still equal bronze rows plus quarantined rows, per event type and date.
    landed = Counter()
    for event_type in EVENT_TYPES:
        dates = open_table(lake, "bronze", TABLE_NAMES[event_type]).to_pyarrow_table(columns=["arrival_date"])
        landed.update((event_type, str(d)) for d in dates.column("arrival_date").to_pylist())
    quarantine = open_table(lake, "bronze", "quarantine").to_pyarrow_table(
        columns=["event_type", "arrival_date"]
    )
    landed.update((r["event_type"], str(r["arrival_date"])) for r in quarantine.to_pylist())
    assert landed == Counter(after.lines)
    # Rows: none left by raw id or pseudonym in any table.
    for t in ERASABLE:
        for r in _rows(lake, t.layer, t.name):
            assert user not in json.dumps(r, default=str) and pid not in json.dumps(r, default=str), t.label
    # Line numbers were moved up once, so each row still names its raw line.
    rewritten = {raw.source_file: split_lines(text) for raw, _, text in raw_files(lake, EVENT_TYPES)}
    checked = 0
    for name in RAW_ID_TABLES:
        for layer in ("bronze", "silver"):
            for r in _rows(lake, layer, name):
                if r["_source_file"] in {m.source_file for m in mentioned}:
                    line = rewritten[r["_source_file"]][r["_line_number"] - 1]
                    assert r["event_id"].encode() in line, (layer, name, r["_line_number"])
                    checked += 1
    for r in _rows(lake, "bronze", "quarantine"):
        if r["_line_number"] and r["_source_file"] in {m.source_file for m in mentioned}:
            assert (
                rewritten[r["_source_file"]][r["_line_number"] - 1].rstrip(b"\r\n") == r["raw_line"].encode()
            )
    assert checked > 0

    # Gold and the marts equal a recomputation from the rewritten raw files.
    expected = reference.campaign_daily(after)
    gold = gold_by_key(lake)
    assert {k: {c: gold[k][c] for c in ADDITIVE_METRICS} for k in gold} == {
        k: {c: v.get(c, 0) for c in ADDITIVE_METRICS} for k, v in expected.items()
    }
    assert expected != reference.campaign_daily(before)  # the user counted before
    credits = _heuristic_credits(lake)
    want = reference.attribution_credits(after)
    assert credits.keys() == want.keys() and all(
        credits[k] == pytest.approx(v, abs=1e-9) for k, v in want.items()
    )
    marts = mart_rows(lakehouse["resources"]["clickhouse"], "campaign_daily")
    for c in ("impressions", "clicks", "conversions"):
        assert sum(r[c] for r in marts) == sum(g[c] for g in gold.values()), c

    # The log: one row per id, hashed with the salt, never the id.
    log = {r["subject_hash"]: r for r in _rows(lake, PRIVACY, ERASURE_LOG)}
    salt = key.erasure_salt()
    mine, nobody = (log[hmac.new(salt, u.encode(), hashlib.sha256).hexdigest()] for u in (user, NOBODY))
    assert mine["found"] and mine["raw_lines_found"] == removed and mine["raw_lines_removed"] == removed
    assert not nobody["found"] and mine["verified"] and json.loads(mine["leftovers"]) == {}
    # The row tells the whole request: what the interrupted run deleted counts too.
    assert dict(mine["rows_removed"])["silver.impressions"] > 0 and mine["raw_files_rewritten"] > 0
    assert dict(mine["versions_vacuumed"])["silver.impressions"] >= 1
    assert user not in json.dumps(list(log.values()), default=str)
    # Time travel to before the erasure is gone with the files.
    uri = lake.delta_rs_uri("silver", "impressions")
    history = DeltaTable(uri).history()
    erased_at = next(h["version"] for h in history if h.get("userMetadata") == f"adlake-erasure {path.stem}")
    with pytest.raises(Exception):  # noqa: B017 - delta-rs raises its own error types
        DeltaTable(uri, version=erased_at - 1).to_pyarrow_table()

    # A second request for the same user finds nothing and says so.
    again = new_request(s.home / "erasure", [user])
    assert _run(lakehouse, again.stem).success
    row = next(r for r in _rows(lake, PRIVACY, ERASURE_LOG) if r["request_id"] == again.stem)
    assert not row["found"] and row["verified"] and not any(dict(row["rows_removed"]).values())


def test_the_command_line_erases_through_the_job(spark):
    """`adlake erase` on the scratch home: the request, the job and its log row."""
    assert main(["erase", NOBODY]) == 0
    lake_root = Path(__import__("os").environ["ADLAKE_HOME"]) / "lake"
    rows = DeltaTable(str(lake_root / PRIVACY / ERASURE_LOG)).to_pyarrow_table().to_pylist()
    assert [(r["found"], r["verified"]) for r in rows] == [(False, True)]
    assert main(["erase"]) == 2  # no id
