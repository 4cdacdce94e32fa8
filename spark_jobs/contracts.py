"""The data contracts of raw ad logs: one definition, shared by the generator, the Spark
parser, the asset checks and the tests. Pure Python (no Spark import) so that every
layer can use it.

A field maps a JSON path in a raw line to a typed bronze column. `required` fields must
be present and well-typed, or the line goes to quarantine with the reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from functools import cache

from spark_jobs.spark_json import CASTS, JsonObject, ParsedLine, parse_line, spark_string

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


# --- the contract's verdict on a line, without Spark ------------------------------------------


def line_problems(event_type: str, line: bytes | str | ParsedLine) -> str | None:
    """The quarantine reason bronze's parse_lines gives this raw line read as `event_type`
    (None: the line is valid): malformed_json, schema_mismatch, or the field problems
    (wrong_event_type, missing:<field>, bad_type:<field>) joined by "; ".

    Pure Python (spark_json.py mirrors Spark's reading and casts), so that a service
    rejects what bronze would quarantine; tests/unit/test_contract_agreement.py proves the
    agreement against Spark line by line. A parsed line (spark_json.parse_line) is reused."""
    parsed = line if isinstance(line, ParsedLine) else parse_line(line)
    root = parsed.root
    if root is None:
        return "malformed_json"
    tree, fields = _shape(event_type)
    if parsed.control_chars or not _fits(root, tree):
        return "schema_mismatch"
    problems = []
    # A line without an event_type is not flagged: Spark's `!=` with null is null.
    if spark_string(root.get("event_type")) not in (None, event_type):
        problems.append("wrong_event_type")
    for f, key, path, cast in fields:
        value = root.get(key) if path is None else _leaf(root, path)
        if value is None:
            if f.required:
                problems.append(f"missing:{f.name}")
        elif cast is not None and not cast(value if type(value) is str else spark_string(value)):
            problems.append(f"bad_type:{f.name}")
    return "; ".join(problems) or None


_FieldCheck = tuple[Field, str, tuple[str, ...] | None, Callable[[str], bool] | None]


@cache
def _shape(event_type: str) -> tuple[dict, tuple[_FieldCheck, ...]]:
    """The contract's JSON shape (nested dicts, None at a leaf) and, per field, its
    top-level key, its nested path (None when flat) and its cast (None for strings)."""
    tree: dict = {"event_type": None}
    checks = []
    for f in RAW_FIELDS[event_type]:
        *parents, leaf = path = f.json_path.split(".")
        node = tree
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = None
        checks.append((f, path[0], tuple(path) if parents else None, CASTS.get(f.dtype)))
    return tree, tuple(checks)


def _fits(obj: JsonObject, tree: dict) -> bool:
    """Whether every nested field of the contract holds an object or null (from_json fails
    the record otherwise), in every occurrence of a repeated key."""
    for key, value in obj.pairs or obj.items():
        sub = tree.get(key)
        if sub is not None and value is not None and not (isinstance(value, dict) and _fits(value, sub)):
            return False
    return True


def _leaf(root: JsonObject, path: tuple[str, ...]) -> object:
    value: object = root
    for p in path:
        if not isinstance(value, dict):
            return None
        value = value.get(p)
    return value
