"""Attribution windows: how far back a conversion's touches may lie, per advertiser.
Pure Python (no Spark, Dagster or dbt import); read once at the edge from a YAML file
(ADLAKE_ATTRIBUTION_WINDOWS) and handed to run_gold and the checks (docs/attribution.md,
"Windows").

A click touches a conversion when `conv_ts - click_days <= click_ts <= conv_ts`; with a
view-through window, so does a valid impression that was not clicked when
`conv_ts - view_hours <= impression_ts <= conv_ts` (0 hours: no view touches, the default).

    default:            # every advertiser not listed below
      click_days: 7
      view_hours: 0
    advertisers:
      adv_0003: {click_days: 30, view_hours: 24}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from spark_jobs.contracts import ATTRIBUTION_WINDOW_DAYS
from spark_jobs.fingerprints import fingerprint

# Bounds that catch typos (a window in hours written as days) without limiting real use:
# ad platforms offer click windows of 1-90 days and view windows of up to 30 days.
MAX_CLICK_DAYS = 90
MAX_VIEW_HOURS = 30 * 24
_FIELDS = ("click_days", "view_hours")


@dataclass(frozen=True)
class TouchWindow:
    click_days: int = ATTRIBUTION_WINDOW_DAYS
    view_hours: int = 0  # 0: view-through off

    def __post_init__(self) -> None:
        for name, value, low, high in (
            ("click_days", self.click_days, 1, MAX_CLICK_DAYS),
            ("view_hours", self.view_hours, 0, MAX_VIEW_HOURS),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ValueError(f"{name} must be a whole number in [{low}, {high}], got {value!r}")


@dataclass(frozen=True)
class AttributionWindows:
    default: TouchWindow = field(default_factory=TouchWindow)
    # (advertiser_id, window), sorted by advertiser: equal settings give equal objects.
    advertisers: tuple[tuple[str, TouchWindow], ...] = ()

    def for_advertiser(self, advertiser_id: str) -> TouchWindow:
        return dict(self.advertisers).get(advertiser_id, self.default)

    @property
    def all(self) -> tuple[TouchWindow, ...]:
        return (self.default, *(w for _, w in self.advertisers))

    @property
    def view_through(self) -> bool:
        """Whether any advertiser counts impressions as touches."""
        return any(w.view_hours > 0 for w in self.all)

    @property
    def click_lookback_days(self) -> int:
        """How many days before a conversion date its clicks can lie."""
        return max(w.click_days for w in self.all)

    @property
    def view_lookback_days(self) -> int:
        """How many days before a conversion date its view touches can lie (0: none)."""
        return max(math.ceil(w.view_hours / 24) for w in self.all)

    def as_dict(self) -> dict:
        return {
            "default": {f: getattr(self.default, f) for f in _FIELDS},
            "advertisers": {a: {f: getattr(w, f) for f in _FIELDS} for a, w in self.advertisers},
        }

    def fingerprint(self) -> str:
        """A short hash of the settings: gold's code version, so Dagster shows which
        partitions a change of windows leaves stale."""
        return fingerprint(self.as_dict())


DEFAULT_WINDOWS = AttributionWindows()


def _window(spec: object, where: str, base: TouchWindow) -> TouchWindow:
    if not isinstance(spec, dict):
        raise ValueError(f"{where}: expected a mapping with {' and/or '.join(_FIELDS)}, got {spec!r}")
    if unknown := set(spec) - set(_FIELDS):
        raise ValueError(f"{where}: unknown setting(s) {sorted(unknown)}; expected {list(_FIELDS)}")
    try:
        return TouchWindow(**{f: spec.get(f, getattr(base, f)) for f in _FIELDS})
    except ValueError as ex:
        raise ValueError(f"{where}: {ex}") from ex


def parse_windows(doc: object, source: str = "attribution windows") -> AttributionWindows:
    """Windows from a parsed YAML document; a clear ValueError names what is wrong.
    An advertiser's missing setting takes the default's."""
    if doc is None:
        return DEFAULT_WINDOWS
    if not isinstance(doc, dict) or set(doc) - {"default", "advertisers"}:
        raise ValueError(f"{source}: expected the keys 'default' and/or 'advertisers', got {doc!r}")
    spec = doc.get("default")
    default = _window({} if spec is None else spec, f"{source}, default", TouchWindow())
    advertisers = doc.get("advertisers")
    if advertisers is None:
        advertisers = {}
    if not isinstance(advertisers, dict):
        raise ValueError(f"{source}, advertisers: expected a mapping of advertiser_id to a window")
    ids = [str(a) for a in advertisers]
    if duplicated := sorted({a for a in ids if ids.count(a) > 1}):
        raise ValueError(f"{source}, advertisers: {duplicated} listed more than once")
    per_advertiser = {
        str(a): _window(spec, f"{source}, advertiser {a}", default) for a, spec in advertisers.items()
    }
    return AttributionWindows(default, tuple(sorted(per_advertiser.items())))


def load_windows(path: str | None) -> AttributionWindows:
    """The windows in the YAML file at `path`; the defaults when no file is configured."""
    if not path:
        return DEFAULT_WINDOWS
    import yaml  # only when a file is configured

    file = Path(path)
    if not file.is_file():
        raise ValueError(f"ADLAKE_ATTRIBUTION_WINDOWS points to {path!r}, which is not a file")
    try:
        doc = yaml.safe_load(file.read_text())
    except yaml.YAMLError as ex:
        raise ValueError(f"{path}: not valid YAML: {ex}") from ex
    return parse_windows(doc, str(path))
