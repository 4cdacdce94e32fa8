"""The audience segments: each rule and its parameters, defined once (docs/segments.md).
Pure Python (no Spark): spark_jobs/segments.py computes membership from these, and the
tests and the docs read them.

A user's segments on day D are judged on their activity in the LOOKBACK_DAYS days up to
and including D, counting only events with consent for measurement (spark_jobs/consent.py)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spark_jobs.fingerprints import fingerprint


@dataclass(frozen=True)
class SegmentRules:
    lookback_days: int = 28  # the activity a day's membership is judged on
    # converter: at least one valid order in the lookback.
    # RFM: recency (days since the last order), frequency (orders), monetary (revenue),
    # each scored 1-3 by these cut-offs; the sum (3-9) puts a converter in a tier.
    recency_days: tuple[int, int] = (3, 14)  # <= 3 days: 3 points, <= 14: 2, older: 1
    frequency_orders: tuple[int, int] = (2, 4)  # >= 4 orders: 3, >= 2: 2, one: 1
    monetary_micros: tuple[int, int] = (50_000_000, 250_000_000)  # >= 250: 3, >= 50: 2
    rfm_high_min_score: int = 7  # 7-9: rfm_high; 5-6: rfm_medium; 3-4: rfm_low
    rfm_medium_min_score: int = 5
    # engaged_clicker: at least this many valid clicks in the lookback.
    engaged_min_clicks: int = 3
    # lapsed: acted (a valid click or order) in the lookback, but not in the last N days.
    lapsed_after_days: int = 7
    # suspected_bot, any of: a high share of the user's impressions flagged as invalid
    # traffic (with enough impressions to judge), clicks sooner after their impression
    # than a person can click, or a burst of clicks within a minute.
    bot_min_impressions: int = 10
    bot_min_ivt_share: float = 0.4
    bot_max_click_delay_ms: int = 1_000  # faster than this after the impression: not a person
    bot_min_fast_clicks: int = 2
    bot_burst_clicks: int = 5  # clicks in one minute

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def fingerprint(self) -> str:
        """Changes whenever a rule does: the segment assets' code version."""
        return fingerprint(self.as_dict())


DEFAULT_RULES = SegmentRules()

# The gold tables, by name (Delta table gold/<name>, Dagster asset gold_<name>), and grain.
USER_ACTIVITY, USER_SEGMENTS, SEGMENT_HISTORY = "user_activity_daily", "user_segments", "segment_history"
ACTIVITY_GRAIN: tuple[str, ...] = ("event_date", "user_pid")
SEGMENT_GRAIN: tuple[str, ...] = ("event_date", "user_pid", "segment")
HISTORY_GRAIN: tuple[str, ...] = ("user_pid", "segment", "valid_from")
AUDIENCE_TABLES: dict[str, tuple[str, ...]] = {
    USER_ACTIVITY: ACTIVITY_GRAIN,
    USER_SEGMENTS: SEGMENT_GRAIN,
    SEGMENT_HISTORY: HISTORY_GRAIN,
}

CONVERTER = "converter"
RFM_HIGH, RFM_MEDIUM, RFM_LOW = "rfm_high", "rfm_medium", "rfm_low"
ENGAGED_CLICKER = "engaged_clicker"
LAPSED = "lapsed"
SUSPECTED_BOT = "suspected_bot"
# Every segment, with what it means (the segment mart and the docs show these).
SEGMENTS: dict[str, str] = {
    CONVERTER: "ordered at least once in the lookback",
    RFM_HIGH: "converter with an RFM score of 7-9: recent, frequent, high-value",
    RFM_MEDIUM: "converter with an RFM score of 5-6",
    RFM_LOW: "converter with an RFM score of 3-4",
    ENGAGED_CLICKER: "at least engaged_min_clicks valid clicks in the lookback",
    LAPSED: "clicked or ordered in the lookback, but not in the last lapsed_after_days days",
    SUSPECTED_BOT: "invalid-traffic share, impossibly fast clicks or click bursts (any of them)",
}


def rfm_tier(score: int, rules: SegmentRules = DEFAULT_RULES) -> str:
    """The RFM segment of a converter's score (3-9)."""
    if score >= rules.rfm_high_min_score:
        return RFM_HIGH
    return RFM_MEDIUM if score >= rules.rfm_medium_min_score else RFM_LOW
