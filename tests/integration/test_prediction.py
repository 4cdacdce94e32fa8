"""The models' path on the shared lakehouse (4 arrival dates): features from silver through
Spark in Dagster, point in time; training, the registry and its promotion; the conversion
model's labels; the online snapshot in a real Redis; and the prediction API, whose
features and predictions for raw logged impressions must equal the training set's
(offline/online agreement)."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow.compute as pc
import pytest
import redis
from dagster import AssetCheckSeverity, materialize
from fastapi.testclient import TestClient

from ad_assets.defs.prediction import (
    CTR_TARGET,
    CVR_TARGET,
    GLOBAL_COUNTS_POINT_IN_TIME,
    ONE_ROW_PER_IMPRESSION,
    PROMOTABLE,
    build_ctr_features,
    build_model,
    build_model_current,
)
from ad_assets.lib.partitions import partition_range_tags
from ad_assets.privacy.pseudonyms import read_key
from prediction import online_store
from prediction.conversions import CVR_WINDOW_DAYS, read_clicks
from prediction.evaluation import Scores
from prediction.features import (
    CLICKS,
    ENTITIES,
    FEATURES,
    FEATURES_LAYER,
    GLOBAL,
    IMPRESSIONS,
    LAST_CLICK_DAYS,
    LOOKBACK_DAYS,
    PLACEMENT,
    STATS_TABLE,
    TRAINING_TABLE,
    USER,
    count_column,
)
from prediction.models import train_models
from prediction.registry import CVR, Registry
from prediction.training import (
    CANDIDATE,
    COUNT_COLUMNS,
    Split,
    promotion_verdict,
    read_days,
    split_validation,
)
from serving.prediction_api import create_app
from spark_jobs.lake_read import open_table
from spark_jobs.layers import SILVER
from tests.integration.helpers import END, PARTITIONS, START

TRAIN_ASSETS = [
    build_ctr_features(PARTITIONS),
    build_model(PARTITIONS, CTR_TARGET),
    build_model_current(PARTITIONS, CTR_TARGET),
    build_model(PARTITIONS, CVR_TARGET),
    build_model_current(PARTITIONS, CVR_TARGET),
]
AS_OF = START + timedelta(days=2)  # a day with two days of history before it


def _train(lakehouse) -> object:
    return materialize(
        TRAIN_ASSETS,
        resources=lakehouse["resources"],
        instance=lakehouse["instance"],
        tags=partition_range_tags(START, END),
        raise_on_error=False,  # a model that fails its promotion check fails the run: judged below
    )


def _checks(result, model: str = "ctr") -> dict[str, object]:
    """The run's check evaluations by name, of one model's assets (both models' assets
    have checks of the same names)."""
    return {
        e.check_name: e
        for e in result.get_asset_check_evaluations()
        if e.asset_key.to_user_string().startswith(f"{model}_")
    }


@pytest.fixture(scope="module")
def trained(lakehouse):
    """The training job twice over the same arrival dates: the second retrains on the same
    rows and is compared with the first."""
    first = _train(lakehouse)
    registry = Registry(lakehouse["lake"])
    first_version = registry.candidate()
    second = _train(lakehouse)
    cvr = Registry(lakehouse["lake"], CVR)
    return {
        "runs": [first, second],
        "versions": [first_version, registry.candidate()],
        "registry": registry,
        "cvr": {"candidate": cvr.candidate(), "current": cvr.current()},
    }


def _silver(lake, name: str):
    return open_table(lake, SILVER, name).to_pyarrow_table()


def test_the_training_set_has_one_row_per_valid_impression(lakehouse, trained):
    checks = _checks(trained["runs"][0])
    assert checks[ONE_ROW_PER_IMPRESSION].passed and checks[GLOBAL_COUNTS_POINT_IN_TIME].passed
    lake = lakehouse["lake"]
    imps = _silver(lake, "impressions").filter(pc.field("is_valid"))
    clicked = set(_silver(lake, "clicks")["impression_id"].to_pylist())
    training = open_table(lake, FEATURES_LAYER, TRAINING_TABLE).to_pyarrow_table()
    assert sorted(training["impression_id"].to_pylist()) == sorted(imps["impression_id"].to_pylist())
    labels = dict(zip(training["impression_id"].to_pylist(), training["clicked"].to_pylist(), strict=True))
    assert labels == {i: int(i in clicked) for i in imps["impression_id"].to_pylist()}


def test_counts_see_only_what_had_arrived_before_their_day(lakehouse, trained):
    """Every entity's counts as of AS_OF, recounted in Python from silver: the lookback's event
    dates and arrivals before AS_OF only, clicks once per impression, users only where
    measurement is allowed."""
    lake = lakehouse["lake"]
    imps = _silver(lake, "impressions").filter(pc.field("is_valid")).to_pylist()
    clicks = _silver(lake, "clicks").to_pylist()

    def visible(row) -> bool:
        return (
            AS_OF - timedelta(days=LOOKBACK_DAYS) <= row["event_date"] < AS_OF and row["arrival_date"] < AS_OF
        )

    def key(entity, imp) -> str | None:
        if entity is USER:
            allowed = imp["measurement_consent"] is not False
            return imp["user_pid"] if allowed and imp["user_pid"] else None
        values = [imp[c] for c in entity.columns]
        return None if any(v is None or v == "" for v in values) else "|".join(values)

    by_id = {i["impression_id"]: i for i in imps}
    first_click: dict[str, dict] = {}
    for c in sorted(clicks, key=lambda c: c["event_ts"]):
        if c["impression_id"] in by_id:
            first_click.setdefault(c["impression_id"], c)
    expected: Counter = Counter()
    last_click: dict[str, date] = {}
    for imp in imps:
        if visible(imp):
            expected[(GLOBAL, "", IMPRESSIONS)] += 1
            for e in ENTITIES:
                if (k := key(e, imp)) is not None:
                    expected[(e.name, k, IMPRESSIONS)] += 1
    for imp_id, c in first_click.items():
        if visible(c):
            imp = by_id[imp_id]
            expected[(GLOBAL, "", CLICKS)] += 1
            for e in ENTITIES:
                if (k := key(e, imp)) is not None:
                    expected[(e.name, k, CLICKS)] += 1
                    if e is USER:
                        last_click[k] = max(last_click.get(k, c["event_date"]), c["event_date"])
    stats = online_store.stats_as_of(lake, AS_OF)
    got: Counter = Counter()
    for r in stats:
        for count in (IMPRESSIONS, CLICKS):
            if r[count]:
                got[(r["entity"], r["key"], count)] = r[count]
        if r["entity"] == USER.name and r[LAST_CLICK_DAYS] is not None:
            assert r[LAST_CLICK_DAYS] == (AS_OF - last_click[r["key"]]).days
    assert expected[(GLOBAL, "", IMPRESSIONS)] > 1000
    assert sum(1 for e, _, _ in expected if e == USER.name) > 100  # users repeat across days
    assert got == expected
    # And the lake's future is out of sight: nothing of AS_OF or later counts.
    late = [i for i in imps if i["event_date"] < AS_OF <= i["arrival_date"]]
    assert late, "the fixture has late arrivals"


def test_training_promotes_only_a_model_that_beats_the_baseline_and_the_current(lakehouse, trained):
    registry: Registry = trained["registry"]
    first, second = trained["versions"]
    assert first != second and {first, second} <= set(registry.versions())
    for run, version in zip(trained["runs"], trained["versions"], strict=True):
        card = registry.card(version)
        assert card["split"] == {
            "train": f"{START}..{START}",
            "evaluate": (END - timedelta(days=2)).isoformat(),
        }
        scores = {
            r["model"]: Scores(**{k: r[k] for k in Scores.__dataclass_fields__}) for r in card["evaluation"]
        }
        assert {"rule", "logistic", "lightgbm", "ceiling"} <= set(scores)
        assert scores["ceiling"].rows == scores[CANDIDATE].rows > 2000
        verdict = promotion_verdict(scores)
        check = _checks(run)[PROMOTABLE]
        assert check.passed == verdict.passed == card["promotable"]
        assert run.success == verdict.passed  # a failed promotion check fails the run
    second_card = registry.card(second)
    if registry.card(first)["promotable"]:
        # The retrain on the same rows is identical: it scores as the promoted one and replaces it.
        assert second_card["compared_with"] == first
        auc = {r["model"]: r["auc"] for r in second_card["evaluation"]}
        assert auc["current"] == auc[CANDIDATE]
        assert registry.current() == second
    else:
        assert registry.current() is None
    assert (
        Path(lakehouse["lake"].local_root) / "models/ctr/versions" / second / "calibration.png"
    ).stat().st_size > 1000


def test_the_conversion_model_waits_for_final_labels(trained):
    """On four arrival dates only the first day's clicks have final labels (a conversion may
    come a day later and arrive two days late): no day to judge a model on, so none is
    trained or promoted, the check says why as a warning, and the run still succeeds."""
    for run in trained["runs"]:
        check = _checks(run, CVR)[PROMOTABLE]
        assert not check.passed and check.severity == AssetCheckSeverity.WARN
        assert "nothing trained" in check.metadata["reason"].value
        assert run.success == _checks(run)[PROMOTABLE].passed  # the CTR model's verdict alone
    assert trained["cvr"] == {"candidate": None, "current": None}


def test_conversion_labels_are_last_click_wins_within_the_window(lakehouse, trained):
    """read_clicks' rows and labels against a recount in plain Python from silver's clicks and
    gold's last-click attribution: one row per impression of the days with a valid click by
    a consented user (the first such click), labelled 1 when that click won an order within
    CVR_WINDOW_DAYS; impressions clicked after `last_click_date` left out."""
    lake = lakehouse["lake"]
    days = (START, START + timedelta(days=1), START + timedelta(days=2))
    last = START + timedelta(days=1)
    got = read_clicks(lake, days, last)
    clicks = sorted(
        (c for c in _silver(lake, "clicks").to_pylist() if c["is_valid"] and c["user_pid"]),
        key=lambda c: (c["event_ts"], c["event_id"]),
    )
    first: dict[str, dict] = {}
    for c in clicks:
        if c["impression_event_date"] in days:
            first.setdefault(c["impression_id"], c)
    window = timedelta(days=CVR_WINDOW_DAYS)
    won = {
        a["touch_event_id"]
        for a in open_table(lake, "gold", "attribution").to_pyarrow_table().to_pylist()
        # The winner by its position (the last of the conversion's touches), where
        # read_clicks takes the credit the model gave it.
        if a["model"] == "last_click"
        and a["position"] == a["touches"]
        and a["touch_type"] == "click"
        and a["conv_ts"] - a["touch_ts"] <= window
    }
    expected = {i: int(c["event_id"] in won) for i, c in first.items() if c["event_date"] <= last}
    assert dict(zip(got.impression_id, got.label.tolist(), strict=True)) == expected
    assert 0 < sum(expected.values()) < len(expected)
    assert len(expected) < len(first)  # the day after `last` was left out
    # The features are the training set's for the same impressions.
    offline = read_days(lake, days)
    row = {i: k for k, i in enumerate(offline.impression_id)}
    at = [row[i] for i in got.impression_id]
    for name in COUNT_COLUMNS:
        assert np.array_equal(got.values[name], offline.values[name][at], equal_nan=True), name


@pytest.fixture(scope="module")
def served(lakehouse, trained, stream_servers):
    """The API over the trained lake with AS_OF's counts in the test Redis (the candidate
    promoted whatever its scores: this is about serving it), and a conversion model trained
    on the lake's clicks with their labels as the lake knows them (not all final, which does
    not matter to serving it; the lake is too young for the model's own split)."""
    registry: Registry = trained["registry"]
    registry.promote(trained["versions"][0])
    lake = lakehouse["lake"]
    clicks = read_clicks(lake, tuple(START + timedelta(days=k) for k in range(4)), END)
    assert clicks.label.sum() >= 2, "the lake's clicks hold too few conversions to learn from"
    fit, valid = split_validation(clicks, Split((START,), END))  # a seeded share held out
    cvr = train_models(fit.values, fit.label, valid.values, valid.label, conversions=True)[CANDIDATE]
    cvr_registry = Registry(lake, CVR)
    cvr_registry.promote(cvr_registry.save(cvr, {"features": list(FEATURES), "promotable": True}))
    client = redis.Redis.from_url(stream_servers.redis_url)
    snapshot, n = online_store.publish(client, AS_OF, online_store.stats_as_of(lakehouse["lake"], AS_OF))
    key = read_key(lakehouse["settings"].home)
    assert key is not None
    app = create_app(registry, stream_servers.redis_url, key)
    with TestClient(app) as api:
        yield {
            "api": api,
            "redis": client,
            "snapshot": snapshot,
            "entries": n,
            "registry": registry,
            "cvr_registry": cvr_registry,
        }
    client.close()


def _raw_impressions(lake, ids: set[str]) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for path in sorted((Path(lake.local_root) / "raw" / "impression").rglob("*.jsonl.gz")):
        with gzip.open(path, "rt") as f:
            for line in f:
                try:
                    row = json.loads(line)
                except ValueError:  # the simulator's broken lines (bronze quarantines them)
                    continue
                if isinstance(row, dict) and row.get("impression_id") in ids:
                    out.setdefault(row["impression_id"], row)
    return out


def test_online_features_and_predictions_equal_the_training_sets(lakehouse, served):
    lake = lakehouse["lake"]
    offline = read_days(lake, (AS_OF,))  # counts as of their own event date: AS_OF
    raw = _raw_impressions(lake, set(offline.impression_id))
    assert len(raw) == len(offline) > 1000
    posted = [raw[i] for i in offline.impression_id]  # the raw log lines, as an ad server has them
    response = served["api"].post("/v1/predict", json=posted[:1000])
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["features"] == served["snapshot"]
    model = served["registry"].load(body["model_version"])
    expected = model.predict({k: v[:1000] for k, v in offline.values.items()})
    assert np.allclose([p["p_ctr"] for p in body["predictions"]], expected, rtol=0, atol=1e-12)
    cvr = served["cvr_registry"].load(body["cvr_model_version"])
    expected_cvr = cvr.predict({k: v[:1000] for k, v in offline.values.items()})
    assert np.allclose([p["p_cvr"] for p in body["predictions"]], expected_cvr, rtol=0, atol=1e-12)
    assert [p["impression_id"] for p in body["predictions"]] == list(offline.impression_id[:1000])
    # Asked again, the worker's feature cache answers alone, with the same numbers.
    cache = served["api"].get("/health").json()["feature_cache"]
    again = served["api"].post("/v1/predict", json=posted[:1000])
    assert again.json() == body
    after = served["api"].get("/health").json()["feature_cache"]
    assert after["misses"] == cache["misses"] and after["hits"] > cache["hits"] + 1000
    # The counts themselves: Redis's for each posted impression are the training set's.
    from serving.prediction_api import Impression, _for_model

    rows = [_for_model(Impression.model_validate(r), read_key(lakehouse["settings"].home)) for r in posted]
    online = online_store.lookup_many(served["redis"], served["snapshot"], rows)
    users = 0
    for i, counts in enumerate(online):
        for name in COUNT_COLUMNS:
            value = offline.values[name][i]
            assert counts.get(name, np.nan) == pytest.approx(value, nan_ok=True), (i, name)
        users += count_column(USER.name, IMPRESSIONS) in counts
    assert users > 100  # the user features really were looked up by pseudonym


def test_bad_requests_get_422_naming_the_field(served):
    api = served["api"]
    r = api.post("/v1/predict", json={"event_ts": "2026-11-03T10:00:00Z"})
    assert r.status_code == 422 and any(e["loc"][-1] == "campaign_id" for e in r.json()["detail"])
    r = api.post("/v1/predict", json={"event_ts": "yesterday", "campaign_id": "cmp-1"})
    assert r.status_code == 422 and any(e["loc"][-1] == "event_ts" for e in r.json()["detail"])
    r = api.post("/v1/predict", json=[{"event_ts": "2026-11-03T10:00:00Z", "campaign_id": "c"}] * 1001)
    assert r.status_code == 422
    # Unknown fields of the log contract are ignored; unknown values get the defaults.
    r = api.post(
        "/v1/predict",
        json={
            "event_ts": "2026-11-03T10:00:00Z",
            "campaign_id": "never-seen",
            "cost_micros": 5,
            "ivt": "none",
        },
    )
    assert r.status_code == 200 and 0 < r.json()["predictions"][0]["p_ctr"] < 1


def test_a_promotion_reloads_the_model_without_failing_a_request(served, trained):
    api, registry = served["api"], served["registry"]
    old, new = trained["versions"]
    assert api.get("/health").json()["model_version"] == old
    body = {"event_ts": "2026-11-03T10:00:00Z", "campaign_id": "cmp-1", "placement_id": PLACEMENT.name}
    seen: Counter = Counter()
    failures: list[int] = []
    stop = threading.Event()

    def load() -> None:
        while not stop.is_set():
            r = api.post("/v1/predict", json=body)
            if r.status_code == 200:
                seen[r.json()["model_version"]] += 1
            else:
                failures.append(r.status_code)

    threads = [threading.Thread(target=load) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    registry.promote(new)
    deadline = time.monotonic() + 10
    while seen[new] < 20 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    for t in threads:
        t.join()
    assert failures == []
    assert seen[old] > 0 and seen[new] >= 20
    assert api.get("/health").json()["model_version"] == new


def test_erasure_deletes_a_users_counts_and_nothing_else(lakehouse, trained, spark):
    """The erasure's own step (spark_jobs/erasure.py, ERASABLE) on the CTR model's counts:
    the user's rows go, every other row stays."""
    from spark_jobs.erasure import ERASABLE, REMOVED_LINES_SCHEMA, erase_rows, values_frame

    lake = lakehouse["lake"]
    table = next(t for t in ERASABLE if (t.layer, t.name) == (FEATURES_LAYER, STATS_TABLE))
    before = open_table(lake, FEATURES_LAYER, STATS_TABLE).to_pyarrow_table().to_pylist()
    pid = Counter(r["key"] for r in before if r["entity"] == USER.name).most_common(1)[0][0]
    removed = spark.createDataFrame([], REMOVED_LINES_SCHEMA)
    n = erase_rows(spark, lake, table, values_frame(spark, [pid]), removed, "adlake-erasure test")
    after = open_table(lake, FEATURES_LAYER, STATS_TABLE).to_pyarrow_table().to_pylist()
    mine = [r for r in before if r["key"] == pid]
    assert n == len(mine) > 1  # the user is counted as of several days
    assert sorted(map(str, after)) == sorted(str(r) for r in before if r["key"] != pid)
    # The tagged commit makes a rerun a no-op.
    assert erase_rows(spark, lake, table, values_frame(spark, [pid]), removed, "adlake-erasure test") is None
