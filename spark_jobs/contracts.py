"""The data contracts of raw ad logs: one definition, shared by the generator, the Spark
parser, the asset checks and the tests. Pure Python (no Spark import) so that every
layer can use it.

A field maps a JSON path in a raw line to a typed bronze column. `required` fields must
be present and well-typed, or the line goes to quarantine with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

EVENT_TYPES: tuple[str, ...] = ("bid_request", "bid_response", "impression", "click", "conversion")

# Events can arrive this long after their event_ts. The event dates an arrival date
# rewrites downstream follow from it (spark_jobs.layers.LATENESS_DAYS: D-2..D).
MAX_LATENESS = timedelta(hours=48)
# Last-click attribution looks back this far from a conversion.
ATTRIBUTION_WINDOW_DAYS = 7

CHANNELS: tuple[str, ...] = ("display", "native", "video", "search", "social")
AD_FORMATS: tuple[str, ...] = ("banner", "native", "video", "text")
DEVICE_TYPES: tuple[str, ...] = ("mobile", "desktop", "tablet", "ctv")
OPERATING_SYSTEMS: tuple[str, ...] = ("android", "ios", "windows", "macos", "linux", "tvos", "other")
IVT_VALUES: tuple[str, ...] = ("none", "givt", "sivt")
CONV_TYPES: tuple[str, ...] = ("purchase", "signup", "lead", "app_install")
# OpenRTB 2.6 loss reason codes the simulated exchange reports.
LOSS_REASONS: dict[int, str] = {
    0: "won",
    2: "impression opportunity expired",
    100: "bid below auction floor",
    102: "lost to higher bid",
}

# A missing key (publisher, placement, channel) in gold: a row is kept under this name
# rather than dropped or left null (null keys would not join or group reliably).
UNKNOWN = "unknown"

TIMESTAMP_FORMAT = "yyyy-MM-dd'T'HH:mm:ss[.SSSSSS]X"  # Spark pattern: ISO 8601, UTC "Z"


@dataclass(frozen=True)
class Field:
    name: str  # bronze column
    dtype: str  # Spark SQL type: string, bigint, int, double, boolean, timestamp
    required: bool = False
    path: str | None = None  # JSON path, dot separated; defaults to the name

    @property
    def json_path(self) -> str:
        return self.path or self.name


_COMMON = (
    Field("event_id", "string", required=True),
    Field("event_ts", "timestamp", required=True),
)

# GDPR applicability and the IAB TCF consent string, as the ad tag, click URL and pixel
# macros log them (spark_jobs/consent.py). Optional: absent means GDPR does not apply.
_CONSENT = (Field("gdpr", "int"), Field("consent", "string"))

RAW_FIELDS: dict[str, tuple[Field, ...]] = {
    "bid_request": (
        *_COMMON,
        Field("request_id", "string", required=True),
        Field("imp_id", "string", required=True),
        Field("bidfloor_cpm", "double", required=True),
        Field("placement_id", "string"),
        Field("ad_format", "string"),
        Field("channel", "string"),
        Field("site_domain", "string", path="site.domain"),
        Field("site_publisher_id", "string", path="site.publisher.id"),
        Field("app_bundle", "string", path="app.bundle"),
        Field("app_publisher_id", "string", path="app.publisher.id"),
        Field("device_type", "string", path="device.devicetype"),
        Field("os", "string", path="device.os"),
        Field("user_agent", "string", path="device.ua"),
        Field("country", "string", path="device.geo.country"),
        Field("user_id", "string", path="user.id"),
        Field("gdpr", "int", path="regs.gdpr"),
        Field("consent", "string", path="user.consent"),
        Field("is_test", "boolean"),
    ),
    "bid_response": (
        *_COMMON,
        Field("request_id", "string", required=True),
        Field("imp_id", "string", required=True),
        Field("bidder_id", "string"),
        Field("advertiser_id", "string"),
        Field("campaign_id", "string", required=True),
        Field("creative_id", "string"),
        Field("bid_price_cpm", "double", required=True),
        Field("won", "boolean", required=True),
        Field("clear_price_cpm", "double"),
        Field("loss_reason", "int"),
        Field("is_test", "boolean"),
    ),
    "impression": (
        *_COMMON,
        Field("impression_id", "string", required=True),
        Field("request_id", "string"),
        Field("advertiser_id", "string", required=True),
        Field("campaign_id", "string", required=True),
        Field("creative_id", "string"),
        Field("publisher_id", "string"),
        Field("placement_id", "string"),
        Field("channel", "string"),
        Field("ad_format", "string"),
        Field("device_type", "string"),
        Field("os", "string"),
        Field("country", "string"),
        Field("user_id", "string"),
        *_CONSENT,
        Field("cost_micros", "bigint", required=True),
        Field("ivt", "string", required=True),
        Field("is_test", "boolean", required=True),
    ),
    "click": (
        *_COMMON,
        Field("click_id", "string", required=True),
        Field("impression_id", "string", required=True),
        # As the click tracker logs it; silver takes a click's campaign from its impression
        # (the metric definitions), the live counters from here (spark_jobs/streaming.py).
        Field("campaign_id", "string"),
        Field("user_id", "string"),
        *_CONSENT,
        Field("ivt", "string", required=True),
        Field("is_test", "boolean", required=True),
    ),
    "conversion": (
        *_COMMON,
        Field("conversion_id", "string", required=True),
        Field("order_id", "string", required=True),
        Field("advertiser_id", "string", required=True),
        Field("user_id", "string"),
        *_CONSENT,
        Field("conv_type", "string", required=True),
        Field("value_micros", "bigint", required=True),
        Field("currency", "string"),
        Field("is_test", "boolean", required=True),
    ),
}

# Bronze and silver table names per event type.
TABLE_NAMES: dict[str, str] = {
    "bid_request": "bid_requests",
    "bid_response": "bid_responses",
    "impression": "impressions",
    "click": "clicks",
    "conversion": "conversions",
}


def top_level_keys(event_type: str) -> frozenset[str]:
    """JSON keys of a line that the contract knows; any other key is kept as extra."""
    return frozenset({"event_type"} | {f.json_path.split(".")[0] for f in RAW_FIELDS[event_type]})
