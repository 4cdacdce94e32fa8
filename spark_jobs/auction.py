"""Gold: auction analytics, from the exchange's side. Per placement and campaign: how often a
campaign bids, wins and why it loses, what it pays against what it bid (bid shading), and
what its wins served; and the bid landscape (win rate by bid price bucket). Pure DataFrame
functions over silver bid_requests, bid_responses and impressions, plus the checks on them.

Traffic: test rows (is_test true; null counts as not test) are excluded, and so are the
responses of a test request. A row is dated by its bid request's event date; a response
whose request is missing keeps its own event date and 'unknown' keys, so every bid counts."""

from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from spark_jobs.contracts import UNKNOWN
from spark_jobs.layers import EVENT_DATE
from spark_jobs.metrics import safe_ratio
from spark_jobs.silver import first_rows

# Width of a bid landscape bucket, in CPM. A power of two, so bid / width is exact.
BUCKET_CPM = 0.5
# The loss reasons (OpenRTB codes of contracts.LOSS_REASONS; a test checks they are there)
# counted in a column of their own; a lost bid with any other or no reason is other_losses.
LOSS_COLUMNS: dict[int, str] = {100: "floor_losses", 102: "outbid_losses", 2: "expired_losses"}
SAMPLE = 5  # problem rows listed per check

PLACEMENT_KEYS: tuple[str, ...] = (EVENT_DATE, "publisher_id", "placement_id", "channel")
AUCTION_KEYS: tuple[str, ...] = (*PLACEMENT_KEYS, "campaign_id")
LANDSCAPE_KEYS: tuple[str, ...] = (EVENT_DATE, "channel", "ad_format", "bid_bucket_cpm")
_REQUEST_KEYS: tuple[str, ...] = ("publisher_id", "placement_id", "channel", "ad_format")


def _micros(cpm: Column) -> Column:
    """A CPM price as integer micros: sums of these are exact, so a rerun that adds the same
    bids in another order writes the same averages (sums of doubles differ in the last bits)."""
    return F.round(cpm * F.lit(1_000_000)).cast("bigint")


def _mean_cpm(cpm: Column) -> Column:
    """The mean of a CPM price (nulls ignored), from exact micro sums."""
    return F.sum(_micros(cpm)) / F.count(cpm) / F.lit(1_000_000.0)


def _is_test(c: Column) -> Column:
    return F.coalesce(c, F.lit(False))


def auction_requests(requests: DataFrame) -> DataFrame:
    """One row per request_id (the first by event_ts, event_id: a duplicate would multiply
    its bids in the join), with non-null keys and its test flag (`_test`)."""
    first = first_rows(requests, "request_id", ("event_ts", "event_id"))
    publisher = F.coalesce(F.col("site_publisher_id"), F.col("app_publisher_id"), F.lit(UNKNOWN))
    return first.select(
        "request_id",
        EVENT_DATE,
        publisher.alias("publisher_id"),
        *[F.coalesce(F.col(c), F.lit(UNKNOWN)).alias(c) for c in ("placement_id", "channel", "ad_format")],
        _is_test(F.col("is_test")).alias("_test"),
    )


def keyed_bids_of(reqs: DataFrame, responses: DataFrame) -> DataFrame:
    """Non-test responses with their request's date and keys (reqs from auction_requests)."""
    resp = responses.where(~_is_test(F.col("is_test"))).select(
        "request_id", EVENT_DATE, "campaign_id", "bid_price_cpm", "won", "clear_price_cpm", "loss_reason"
    )
    req = reqs.select(
        "request_id",
        F.col(EVENT_DATE).alias("_request_date"),
        *_REQUEST_KEYS,
        F.col("_test").alias("_request_test"),
    )
    joined = resp.join(req, "request_id", "left").where(~_is_test(F.col("_request_test")))
    return joined.select(
        "request_id",
        F.coalesce(F.col("_request_date"), F.col(EVENT_DATE)).alias(EVENT_DATE),
        *[F.coalesce(F.col(c), F.lit(UNKNOWN)).alias(c) for c in (*_REQUEST_KEYS, "campaign_id")],
        F.col("_request_date").isNotNull().alias("request_found"),
        "bid_price_cpm",
        F.coalesce(F.col("won"), F.lit(False)).alias("won"),
        "clear_price_cpm",
        "loss_reason",
    )


def keyed_bids(requests: DataFrame, responses: DataFrame) -> DataFrame:
    """Every non-test bid (response) once, with the date and keys of its request:
    event_date, publisher_id, placement_id, channel, ad_format, campaign_id ('unknown' when
    missing), request_found, bid_price_cpm, won (null as false), clear_price_cpm, loss_reason."""
    return keyed_bids_of(auction_requests(requests), responses)


def auction_daily(requests: DataFrame, responses: DataFrame, impressions: DataFrame) -> DataFrame:
    """gold auction_daily from silver bid requests, responses and impressions
    (auction_daily_of_bids)."""
    reqs = auction_requests(requests)
    return auction_daily_of_bids(reqs, keyed_bids_of(reqs, responses), impressions)


def auction_daily_of_bids(reqs: DataFrame, bids: DataFrame, impressions: DataFrame) -> DataFrame:
    """gold auction_daily, from auction_requests(requests) and keyed_bids (gold computes
    both once for the two auction tables): one row per (event_date, publisher_id, placement_id, channel,
    campaign_id) with at least one bid. A placement that got requests but no bid has no row
    of its own: its requests show only in `placement_requests` of its other campaigns' rows.

    - placement_requests: non-test requests of the placement that date, the same on every
      campaign row of the placement: NOT additive across campaigns (sum bids, not these).
    - bid_requests: distinct requests of the placement the campaign bid on (a campaign may
      bid twice in one auction; responses whose request is missing are not among them), so
      bid_rate = bid_requests / placement_requests lies in [0, 1].
    - bids, wins, win_rate = wins / bids; avg_bid_cpm; avg_clear_price_cpm over wins;
      bid_shading = 1 - sum(clear) / sum(bid) over wins with a clear price (null without).
    - floor_losses (100), outbid_losses (102), expired_losses (2), other_losses (any other
      or no reason): with wins they add up to bids.
    - impressions, spend_micros: valid impressions (and their cost) whose request_id has a
      winning response in the row, i.e. served from these wins (at most wins, unless an
      auction's impression was logged twice)."""
    won, reason = F.col("won"), F.col("loss_reason")
    priced_win = won & F.col("clear_price_cpm").isNotNull()
    known_reason = F.coalesce(reason.isin(list(LOSS_COLUMNS)), F.lit(False))
    metrics = bids.groupBy(*AUCTION_KEYS).agg(
        F.countDistinct(F.when(F.col("request_found"), F.col("request_id"))).alias("bid_requests"),
        F.count("*").alias("bids"),
        F.count(F.when(won, 1)).alias("wins"),
        _mean_cpm(F.col("bid_price_cpm")).alias("avg_bid_cpm"),
        _mean_cpm(F.when(won, F.col("clear_price_cpm"))).alias("avg_clear_price_cpm"),
        F.sum(_micros(F.when(priced_win, F.col("clear_price_cpm")))).alias("_won_clear"),
        F.sum(_micros(F.when(priced_win, F.col("bid_price_cpm")))).alias("_won_bid"),
        *[F.count(F.when(~won & (reason == code), 1)).alias(name) for code, name in LOSS_COLUMNS.items()],
        F.count(F.when(~won & ~known_reason, 1)).alias("other_losses"),
    )
    placements = (
        reqs.where(~F.col("_test")).groupBy(*PLACEMENT_KEYS).agg(F.count("*").alias("placement_requests"))
    )
    served = (
        bids.where(won)
        .select("request_id", *AUCTION_KEYS)
        .join(impressions.where("is_valid").select("request_id", "cost_micros"), "request_id")
        .groupBy(*AUCTION_KEYS)
        .agg(F.count("*").alias("impressions"), F.sum("cost_micros").alias("spend_micros"))
    )
    joined = metrics.join(placements, list(PLACEMENT_KEYS), "left").join(served, list(AUCTION_KEYS), "left")

    def counted(c: str) -> Column:
        return F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c)

    return joined.select(
        *AUCTION_KEYS,
        counted("placement_requests"),
        counted("bid_requests"),
        counted("bids"),
        counted("wins"),
        safe_ratio(F.col("wins"), F.col("bids")).alias("win_rate"),
        safe_ratio(F.col("bid_requests"), F.col("placement_requests")).alias("bid_rate"),
        F.col("avg_bid_cpm").cast("double").alias("avg_bid_cpm"),
        F.col("avg_clear_price_cpm").cast("double").alias("avg_clear_price_cpm"),
        F.when(F.col("_won_bid") > 0, F.lit(1.0) - F.col("_won_clear") / F.col("_won_bid")).alias(
            "bid_shading"
        ),
        *[counted(c) for c in (*LOSS_COLUMNS.values(), "other_losses")],
        counted("impressions"),
        counted("spend_micros"),
    )


def bid_landscape(requests: DataFrame, responses: DataFrame) -> DataFrame:
    """gold bid_landscape from silver bid requests and responses (bid_landscape_of_bids)."""
    return bid_landscape_of_bids(keyed_bids(requests, responses))


def bid_landscape_of_bids(bids: DataFrame) -> DataFrame:
    """gold bid_landscape, from keyed_bids: per (event_date, channel, ad_format,
    bid_bucket_cpm), bids, wins, win_rate and avg_clear_price_cpm over wins: how the chance
    to win grows with the bid. bid_bucket_cpm is the lower edge of a BUCKET_CPM wide bucket
    (0.49 -> 0.0, 0.5 -> 0.5)."""
    bids = bids.withColumn(
        "bid_bucket_cpm",
        (F.floor(F.col("bid_price_cpm") / F.lit(BUCKET_CPM)) * F.lit(BUCKET_CPM)).cast("double"),
    )
    won = F.col("won")
    agg = bids.groupBy(*LANDSCAPE_KEYS).agg(
        F.count("*").alias("bids"),
        F.count(F.when(won, 1)).alias("wins"),
        _mean_cpm(F.when(won, F.col("clear_price_cpm"))).alias("avg_clear_price_cpm"),
    )
    return agg.select(
        *LANDSCAPE_KEYS,
        F.col("bids").cast("bigint").alias("bids"),
        F.col("wins").cast("bigint").alias("wins"),
        safe_ratio(F.col("wins"), F.col("bids")).alias("win_rate"),
        F.col("avg_clear_price_cpm").cast("double").alias("avg_clear_price_cpm"),
    )


def _strings(df: DataFrame) -> list[dict]:
    return [{k: str(v) for k, v in r.asDict().items()} for r in df.collect()]


def auction_problems(auction_daily: DataFrame) -> list[dict]:
    """Up to SAMPLE rows of auction_daily that no auction can produce: a win or bid rate
    outside [0, 1], more wins than bids, or more impressions than wins (an impression
    logged twice). Each with `problem`, what is wrong."""
    rules = (
        (~F.col("win_rate").between(0, 1), "win_rate outside [0, 1]"),
        (~F.col("bid_rate").between(0, 1), "bid_rate outside [0, 1]"),
        (F.col("wins") > F.col("bids"), "wins > bids"),
        (F.col("impressions") > F.col("wins"), "impressions > wins"),
    )
    # concat_ws skips nulls: a rule that does not hold (or is null) adds nothing.
    problem = F.concat_ws("; ", *[F.when(cond, F.lit(text)) for cond, text in rules])
    flagged = (
        auction_daily.withColumn("problem", problem)
        .where(F.col("problem") != "")
        .select(
            *AUCTION_KEYS,
            "placement_requests",
            "bid_requests",
            "bids",
            "wins",
            "impressions",
            "win_rate",
            "bid_rate",
            "problem",
        )
        .orderBy(*AUCTION_KEYS)
        .limit(SAMPLE)
    )
    return _strings(flagged)


def served_problems(
    auction_daily: DataFrame, impressions: DataFrame, requests: DataFrame, responses: DataFrame
) -> list[dict]:
    """Event dates where auction_daily's impressions do not add up to the valid impressions
    served from won non-test auctions, counted here again from silver without its joins and
    grouping: each such impression once, dated by its request (by the winning response when
    the request is missing). A duplicate winning response, or a dropped key, shows here.
    The frames must cover the same event dates (and the impressions of those requests)."""
    req = requests.groupBy("request_id").agg(
        F.min(EVENT_DATE).alias("_request_date"),
        F.max(_is_test(F.col("is_test")).cast("int")).alias("_request_test"),
    )
    wins = (
        responses.where(F.coalesce(F.col("won"), F.lit(False)) & ~_is_test(F.col("is_test")))
        .join(req, "request_id", "left")
        .where(F.coalesce(F.col("_request_test"), F.lit(0)) == 0)
        .groupBy("request_id")
        .agg(F.min(F.coalesce(F.col("_request_date"), F.col(EVENT_DATE))).alias(EVENT_DATE))
    )
    expected = (
        impressions.where("is_valid")
        .select("request_id")
        .join(wins, "request_id")
        .groupBy(EVENT_DATE)
        .agg(F.count("*").alias("served_impressions"))
    )
    got = auction_daily.groupBy(EVENT_DATE).agg(F.sum("impressions").alias("auction_daily_impressions"))
    joined = got.join(expected, EVENT_DATE, "full").select(
        EVENT_DATE,
        *[
            F.coalesce(F.col(c), F.lit(0)).cast("bigint").alias(c)
            for c in ("auction_daily_impressions", "served_impressions")
        ],
    )
    differ = joined.where(F.col("auction_daily_impressions") != F.col("served_impressions"))
    return _strings(differ.orderBy(EVENT_DATE))
