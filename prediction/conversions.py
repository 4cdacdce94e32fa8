"""The conversion model's training rows (docs/prediction.md, "Conversions"): pCVR is the
probability that a click leads to a conversion it wins by last click within
CVR_WINDOW_DAYS ("1-day click", the attribution setting ad platforms report by default).

One row per valid impression with a valid click by a user whose measurement is allowed:
the impression's features as the CTR training set holds them (as of its event date, point
in time) and the label from gold's last-click attribution. Clicks that cannot be linked to
a user (no measurement consent) are left out: their label would be 0 by construction, not
by behaviour, and the model would learn the consent rate.

A label is final once the conversions of the dates it can reach have all arrived: the
click's date plus the window must not pass `complete_until` (prediction/training.py).
Reads the lake with delta-rs; no Spark here."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from prediction.training import (
    Columns,
    Evaluation,
    NotEnoughHistory,
    complete_until,
    event_dates,
    fit_and_score,
    plan_split,
    to_columns,
    training_rows,
)
from spark_jobs.attribution import CLICK
from spark_jobs.contracts import TABLE_NAMES
from spark_jobs.lake import Lake
from spark_jobs.lake_read import open_table
from spark_jobs.layers import GOLD, SILVER

CVR_WINDOW_DAYS = 1
ATTRIBUTION_MODEL = "last_click"
CONVERTED = "converted"


def mature_until(complete_until: date) -> date:
    """The last click date whose label is final."""
    return complete_until - timedelta(days=CVR_WINDOW_DAYS)


def can_train(first_event_date: date, window_end: date) -> bool:
    """Whether a lake whose events start on `first_event_date` has, by `window_end`, an
    evaluation day with final labels and a day to train on before it."""
    return mature_until(complete_until(window_end)) > first_event_date


def measured_clicks(lake: Lake, days: tuple[date, ...], last_click_date: date) -> pa.Table:
    """Per impression of `days` with a valid click by a consented user, the first such
    click: impression_id, click event_id, its time and date. Impressions whose first click
    falls after `last_click_date` (label not final) are left out."""
    first, last = min(days), max(days)
    clicks = open_table(lake, SILVER, TABLE_NAMES["click"]).to_pyarrow_table(
        # A click is a few minutes after its impression; a day's margin finds them all.
        filters=[("event_date", ">=", first), ("event_date", "<=", last + timedelta(days=1))],
        columns=[
            "impression_id",
            "event_id",
            "event_ts",
            "event_date",
            "is_valid",
            "user_pid",
            "impression_event_date",
        ],
    )
    wanted = pa.array([d for d in days], pa.date32())
    clicks = clicks.filter(
        pc.field("is_valid")
        & pc.field("user_pid").is_valid()
        & pc.field("impression_event_date").isin(wanted)
    )
    ordered = clicks.sort_by(
        [("impression_id", "ascending"), ("event_ts", "ascending"), ("event_id", "ascending")]
    )
    ids = ordered["impression_id"].to_numpy(zero_copy_only=False)
    keep = np.ones(len(ids), dtype=bool)
    keep[1:] = ids[1:] != ids[:-1]
    firsts = ordered.filter(pa.array(keep))
    return firsts.filter(pc.field("event_date") <= pa.scalar(last_click_date, pa.date32()))


def credited_clicks(lake: Lake, first: date, last: date) -> set[str]:
    """Click event ids that won a conversion by last click within the window, among the
    conversions of event dates first..last."""
    t = open_table(lake, GOLD, "attribution").to_pyarrow_table(
        filters=[
            ("event_date", ">=", first),
            ("event_date", "<=", last),
            ("model", "=", ATTRIBUTION_MODEL),
            ("touch_type", "=", CLICK),
            # Every touch of a conversion has a row per model; the last click's credit is 1,
            # the others' 0.
            ("credit", ">", 0.0),
        ],
        columns=["touch_event_id", "touch_ts", "conv_ts"],
    )
    window = pa.scalar(timedelta(days=CVR_WINDOW_DAYS), pa.duration("us"))
    lag = pc.subtract(t["conv_ts"], t["touch_ts"])
    return set(t.filter(pc.less_equal(lag, window))["touch_event_id"].to_pylist())


def read_clicks(lake: Lake, days: tuple[date, ...], last_click_date: date) -> Columns:
    """The conversion model's rows for impressions of `days` (see the module's docstring),
    in the training set's column shape; the label is CONVERTED."""
    clicks = measured_clicks(lake, days, last_click_date)
    credited = credited_clicks(lake, min(days), last_click_date + timedelta(days=CVR_WINDOW_DAYS))
    label = {
        i: int(e in credited)
        for i, e in zip(clicks["impression_id"].to_pylist(), clicks["event_id"].to_pylist(), strict=True)
    }
    t = training_rows(lake, days, label=None)
    t = t.filter(pc.field("impression_id").isin(pa.array(list(label), pa.string())))
    t = t.append_column(CONVERTED, pa.array([label[i] for i in t["impression_id"].to_pylist()], pa.int8()))
    return to_columns(t, CONVERTED)


def train_latest(lake: Lake, window_end: date, incumbent: object | None = None) -> Evaluation:
    """The conversion models trained on the event dates with final labels before the last
    one, and scored on it (NotEnoughHistory when there are not two such dates). The
    simulator's truth knows which touch caused each order but not a click's probability of
    converting, so there is no ceiling here (docs/prediction.md)."""
    last = mature_until(complete_until(window_end))
    split = plan_split(event_dates(lake), last)
    train, test = read_clicks(lake, split.train, last), read_clicks(lake, (split.evaluate,), last)
    for rows, what in ((train, "training days"), (test, "evaluation day")):
        if len(set(rows.label.tolist())) < 2:
            raise NotEnoughHistory(f"the {what} {split.as_dict()} hold no converted or no unconverted click")
    return fit_and_score(split, train, test, incumbent, conversions=True)
