"""Multi-touch attribution: the touches of each conversion, and what each model credits
them (docs/attribution.md). Pure DataFrame functions over silver frames; run_gold does the
IO, and the data-driven models' shares per path come from spark_jobs.attribution_models
(plain Python on the driver: a day has few distinct paths).

Definitions (DESIGN, "Attribution"): a conversion is the first valid arrival of an order_id.
Its touches are the valid clicks of the same user on campaigns of the conversion's
advertiser with conv_ts - click window <= touch_ts <= conv_ts and, where the advertiser
has a view-through window, its valid impressions that no valid click followed, inside that
window (spark_jobs/attribution_windows.py), ordered by (touch_ts, touch_event_id). A conversion
with no touch is kept as unattributed (model `none`). Journeys are user-level processing:
only conversions and touches with consent for measurement join one (spark_jobs/consent.py);
the others' conversions stay unattributed."""

from __future__ import annotations

from datetime import date, timedelta

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F
from pyspark.sql.window import Window

from spark_jobs.attribution_models import DATA_DRIVEN_MODELS
from spark_jobs.attribution_windows import DEFAULT_WINDOWS, AttributionWindows
from spark_jobs.consent import CONSENT_COLUMN, user_level
from spark_jobs.silver import first_rows

HEURISTIC_MODELS: tuple[str, ...] = ("first_click", "last_click", "linear", "time_decay", "position_based")
MODELS: tuple[str, ...] = (*HEURISTIC_MODELS, *DATA_DRIVEN_MODELS)
UNATTRIBUTED = "none"  # the model of a conversion with no touch: credit 1, no campaign
CLICK, VIEW = "click", "view"  # touch_type: a click, or an impression that was not clicked
TIME_DECAY_HALF_LIFE = timedelta(days=7)  # a touch this much older than another weighs half
# position_based, 3+ touches: the first and the last each get ENDS, the touches between
# share MIDDLE (ENDS + ENDS + MIDDLE = 1).
POSITION_BASED_ENDS = 0.4
POSITION_BASED_MIDDLE = 0.2
PATH_SEPARATOR = " > "

_ORDER_COLUMNS = ("order_id", "conversion_event_id", "advertiser_id", "value_micros", "conv_ts")
_TOUCH_COLUMNS = ("touch_event_id", "touch_ts", "touch_type", "campaign_id", "channel", "publisher_id")
_CANDIDATE_COLUMNS = ("user_pid", "advertiser_id", "campaign_id", "channel", "publisher_id", "event_date")
_MICROS = 1_000_000


def orders(conversions: DataFrame) -> DataFrame:
    """The conversions attribution counts: the first valid arrival of each order_id (by
    event_ts, then event_id), dated by its own event date and hour."""
    first = first_rows(conversions.where("is_valid"), "order_id", ("event_ts", "event_id"))
    consent = F.col(CONSENT_COLUMN) if CONSENT_COLUMN in first.columns else F.lit(None)
    return first.select(
        "order_id",
        F.col("event_id").alias("conversion_event_id"),
        "advertiser_id",
        "user_pid",
        "value_micros",
        F.col("event_ts").alias("conv_ts"),
        "event_date",
        "event_hour",
        F.coalesce(consent, F.lit(True)).alias(CONSENT_COLUMN),  # may it join a journey
    )


def window_seconds(windows: AttributionWindows) -> Column:
    """Per row (by `advertiser_id` and `touch_type`): how long before a conversion a touch
    of that type still counts, in seconds (0: that type does not count for the advertiser)."""

    def per_advertiser(setting: str, unit_seconds: int) -> Column:
        default = F.lit(getattr(windows.default, setting) * unit_seconds)
        if not windows.advertisers:
            return default
        pairs = [
            x for a, w in windows.advertisers for x in (F.lit(a), F.lit(getattr(w, setting) * unit_seconds))
        ]
        return F.coalesce(F.create_map(*pairs)[F.col("advertiser_id")], default)

    return (
        F.when(F.col("touch_type") == CLICK, per_advertiser("click_days", 86_400))
        .when(F.col("touch_type") == VIEW, per_advertiser("view_hours", 3_600))
        .otherwise(0)
        .cast("long")
    )


def inside_window(reach_s: Column) -> Column:
    """Whether a row's touch counts for its conversion: `conv_ts - reach_s <= touch_ts <=
    conv_ts`. The touches and the check that judges them use this one rule."""
    return (F.col("touch_ts") <= F.col("conv_ts")) & (
        F.unix_micros("touch_ts") >= F.unix_micros("conv_ts") - reach_s * _MICROS
    )


def candidate_touches(
    clicks: DataFrame,
    impressions: DataFrame | None = None,
    windows: AttributionWindows = DEFAULT_WINDOWS,
    clicks_after_views: DataFrame | None = None,
) -> DataFrame:
    """Every event that can touch a conversion, with `reach_s`, how long before one it
    still counts: the valid clicks and, for advertisers with a view-through window, the
    valid impressions nobody validly clicked (a clicked impression counts as its click).
    `clicks` and `impressions` must reach back the windows' lookbacks before the first
    conversion date; `clicks_after_views` (default: `clicks`) are the clicks that decide
    whether an impression was clicked, so they must cover every impression's date and the
    day after the last."""
    valid_clicks = clicks.where("is_valid")
    found = user_level(valid_clicks).select(
        *_CANDIDATE_COLUMNS,
        F.col("event_ts").alias("touch_ts"),
        F.col("event_id").alias("touch_event_id"),
        F.lit(CLICK).alias("touch_type"),
    )
    if windows.view_through:
        if impressions is None:
            raise ValueError("a view-through window is configured: candidate_touches needs the impressions")
        deciding = valid_clicks if clicks_after_views is None else clicks_after_views.where("is_valid")
        views = (
            user_level(impressions.where("is_valid"))
            .join(deciding.select("impression_id"), "impression_id", "left_anti")
            .select(
                *_CANDIDATE_COLUMNS,
                F.col("event_ts").alias("touch_ts"),
                F.col("event_id").alias("touch_event_id"),
                F.lit(VIEW).alias("touch_type"),
            )
        )
        found = found.unionByName(views)
    # An impression of an advertiser without a view window has reach 0: not a touch.
    return found.withColumn("reach_s", window_seconds(windows)).where(F.col("reach_s") > 0)


def touches(orders: DataFrame, candidates: DataFrame) -> DataFrame:
    """One row per conversion and touch, with its `position` (1..n) and the conversion's
    `touches` (n). `candidates`: candidate_touches(...) covering the windows' lookback."""
    consented = user_level(orders).drop(CONSENT_COLUMN)
    joined = consented.join(candidates.drop("event_date"), ["user_pid", "advertiser_id"]).where(
        inside_window(F.col("reach_s"))
    )
    in_order = Window.partitionBy("order_id").orderBy("touch_ts", "touch_event_id")
    return (
        joined.drop("reach_s")
        .withColumn("position", F.row_number().over(in_order))
        .withColumn("touches", F.count("*").over(Window.partitionBy("order_id")))
    )


def last_touches(touches: DataFrame) -> DataFrame:
    """The last-click credits: each attributed conversion with its last touch (the
    campaign metrics' conversions and revenue, docs/metrics.md)."""
    return touches.where(F.col("position") == F.col("touches"))


def _heuristic_credit(model: str, decay_share: Column) -> Column:
    position, n = F.col("position"), F.col("touches")
    if model == "first_click":
        return F.when(position == 1, 1.0).otherwise(0.0)
    if model == "last_click":
        return F.when(position == n, 1.0).otherwise(0.0)
    if model == "linear":
        return F.lit(1.0) / n
    if model == "time_decay":
        return decay_share
    if model == "position_based":
        return (
            F.when(n == 1, 1.0)
            .when(n == 2, 0.5)
            .when((position == 1) | (position == n), POSITION_BASED_ENDS)
            .otherwise(POSITION_BASED_MIDDLE / (n - 2))
        )
    raise ValueError(f"unknown heuristic model {model!r}; expected one of {HEURISTIC_MODELS}")


def heuristic_credits(touches: DataFrame) -> DataFrame:
    """Every touch once per heuristic model, with its `credit` (0 where the model gives it
    none): first_click, last_click, linear (1/n), time_decay (weight 2^(-age / half-life),
    normalised per conversion), position_based (1; 0.5/0.5; 0.4 first, 0.4 last, the
    rest split evenly)."""
    age_us = F.unix_micros("conv_ts") - F.unix_micros("touch_ts")
    half_life_us = TIME_DECAY_HALF_LIFE / timedelta(microseconds=1)
    weight = F.pow(F.lit(2.0), -age_us / F.lit(half_life_us))
    # The window sum first: a window function cannot sit inside the explode.
    # Rounded to 1e-12: the window's sum of doubles depends on the order of its rows, and a
    # rerun must write the same credits (they still sum to 1 well within the check's 1e-9).
    weighted = touches.withColumn("_w", weight).withColumn(
        "_decay", F.round(F.col("_w") / F.sum("_w").over(Window.partitionBy("order_id")), 12)
    )
    models = F.array(
        *[
            F.struct(F.lit(m).alias("model"), _heuristic_credit(m, F.col("_decay")).alias("credit"))
            for m in HEURISTIC_MODELS
        ]
    )
    exploded = weighted.withColumn("_m", F.explode(models))
    return exploded.select("*", "_m.model", "_m.credit").drop("_m", "_w", "_decay")


def with_paths(touches: DataFrame) -> DataFrame:
    """Touches with their conversion's channel `path` ("display > search") and
    `channel_touches`, how many of its touches share this touch's channel."""
    steps = F.sort_array(
        F.collect_list(F.struct("touch_ts", "touch_event_id", "channel")).over(Window.partitionBy("order_id"))
    )
    return touches.withColumn(
        "path", F.array_join(F.transform(steps, lambda s: s["channel"]), PATH_SEPARATOR)
    ).withColumn("channel_touches", F.count("*").over(Window.partitionBy("order_id", "channel")))


def non_converting_paths(candidates: DataFrame, orders: DataFrame, first: date, last: date) -> DataFrame:
    """The journeys of each day that did not convert: a user and advertiser with candidate
    touches (candidate_touches) whose window reaches the day, and no conversion on the day;
    its path is the channels of those touches in order. Per (event_date, advertiser_id,
    path): count."""
    reach_end = F.to_date(F.timestamp_micros(F.unix_micros("touch_ts") + F.col("reach_s") * _MICROS))
    # Only the days in [first, last]: a 90-day window must not explode into 90 rows a touch.
    reaching = candidates.where((F.col("event_date") <= F.lit(last)) & (reach_end >= F.lit(first)))
    days = reaching.select(
        "user_pid",
        "advertiser_id",
        "channel",
        "touch_ts",
        "touch_event_id",
        F.explode(
            F.sequence(F.greatest(F.col("event_date"), F.lit(first)), F.least(reach_end, F.lit(last)))
        ).alias("path_date"),
    )
    journeys = days.groupBy("path_date", "user_pid", "advertiser_id").agg(
        F.array_join(
            F.transform(
                F.sort_array(F.collect_list(F.struct("touch_ts", "touch_event_id", "channel"))),
                lambda s: s["channel"],
            ),
            PATH_SEPARATOR,
        ).alias("path")
    )
    converted = orders.select(F.col("event_date").alias("path_date"), "user_pid", "advertiser_id").distinct()
    return (
        journeys.join(converted, ["path_date", "user_pid", "advertiser_id"], "left_anti")
        .groupBy(F.col("path_date").alias("event_date"), "advertiser_id", "path")
        .agg(F.count("*").cast("bigint").alias("non_conversions"))
    )


def conversion_paths(touches_with_paths: DataFrame, non_converting: DataFrame) -> DataFrame:
    """Per event date, advertiser and channel path: conversions and their revenue, and the
    journeys with that path that did not convert (gold_conversion_paths)."""
    converting = (
        touches_with_paths.where(F.col("position") == 1)  # one row per conversion
        .groupBy("event_date", "advertiser_id", "path")
        .agg(
            F.count("*").cast("bigint").alias("conversions"),
            F.sum("value_micros").cast("bigint").alias("revenue_micros"),
        )
    )
    joined = converting.join(non_converting, ["event_date", "advertiser_id", "path"], "full")
    return joined.select(
        "event_date",
        "advertiser_id",
        "path",
        F.size(F.split("path", PATH_SEPARATOR, -1)).cast("int").alias("path_length"),
        *[
            F.coalesce(c, F.lit(0)).cast("bigint").alias(c)
            for c in ("conversions", "revenue_micros", "non_conversions")
        ],
    )


def data_driven_credits(touches_with_paths: DataFrame, shares: DataFrame) -> DataFrame:
    """Each touch's credit under the data-driven models: its channel's share of its path
    (per event date and model, from attribution_models.path_shares), split evenly among
    the path's touches of that channel. `shares`: event_date, path, model, channel, share."""
    return (
        touches_with_paths.join(shares, ["event_date", "path", "channel"])
        .withColumn("credit", F.col("share") / F.col("channel_touches"))
        .drop("share")
    )


def attribution(orders: DataFrame, credits: DataFrame) -> DataFrame:
    """gold_attribution: one row per conversion, touch and model (credit, credited revenue,
    position, channel, campaign), plus one `none` row (credit 1) per conversion with no touch."""
    touched = credits.select(
        "event_date",
        "event_hour",
        *_ORDER_COLUMNS,
        "model",
        "position",
        "touches",
        *_TOUCH_COLUMNS,
        "path",
        F.col("credit").cast("double").alias("credit"),
    )
    attributed = credits.select("order_id").distinct()
    untouched = orders.join(attributed, "order_id", "left_anti").select(
        "event_date",
        "event_hour",
        *_ORDER_COLUMNS,
        F.lit(UNATTRIBUTED).alias("model"),
        F.lit(None).cast("int").alias("position"),
        F.lit(0).cast("int").alias("touches"),
        *[F.lit(None).cast("timestamp" if c == "touch_ts" else "string").alias(c) for c in _TOUCH_COLUMNS],
        F.lit(None).cast("string").alias("path"),
        F.lit(1.0).alias("credit"),
    )
    return (
        touched.unionByName(untouched)
        .withColumn("position", F.col("position").cast("int"))
        .withColumn("touches", F.col("touches").cast("int"))
        .withColumn("credited_revenue_micros", F.col("credit") * F.col("value_micros"))
    )


def attribution_campaign_daily(attribution: DataFrame, campaign_daily: DataFrame) -> DataFrame:
    """Per event date, campaign and model: credited conversions and revenue, the
    campaign's spend that day and ROAS = credited revenue / spend (null without spend).
    Unattributed conversions are one row per advertiser and day, campaign null."""
    credited = attribution.groupBy("event_date", "advertiser_id", "campaign_id", "model").agg(
        F.min("channel").alias("channel"),
        # Rounded: a sum of doubles depends on the order Spark adds them in, and a rerun
        # must write the same table (1e-9 of a conversion, a thousandth of a micro).
        F.round(F.sum("credit"), 9).alias("credited_conversions"),
        F.round(F.sum("credited_revenue_micros"), 3).alias("credited_revenue_micros"),
    )
    spend = campaign_daily.select("event_date", "advertiser_id", "campaign_id", "spend_micros")
    joined = credited.join(spend, ["event_date", "advertiser_id", "campaign_id"], "left")
    spent = F.coalesce("spend_micros", F.lit(0)).cast("bigint")
    return joined.withColumn("spend_micros", spent).withColumn(
        "roas",
        F.when(F.col("spend_micros") > 0, F.col("credited_revenue_micros") / F.col("spend_micros")),
    )
