"""The alert rules: one YAML file (the packaged rules.yaml by default; docs/alerts.md is
its reference), validated into `Rule`s. A bad file fails with a ValueError that names the
rule and the field, before anything is evaluated."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from spark_jobs.metric_definitions import ADDITIVE_METRICS, COUNT_METRICS, MONEY_METRICS, RATIOS

DEFAULT_RULES_PATH = Path(__file__).with_name("rules.yaml")

# What a rule can watch: the marts' additive columns, money in currency units and the
# ratios, all defined once in spark_jobs/metric_definitions.py.
METRICS: tuple[str, ...] = (*ADDITIVE_METRICS, *MONEY_METRICS, *RATIOS)
# Metrics that count events, or ratios of two counts: their day can be tested for chance
# (a Poisson tail, `max_p_value`); sums of money cannot.
COUNT_BASED: tuple[str, ...] = (
    *COUNT_METRICS,
    *(name for name, (num, den, _) in RATIOS.items() if num in COUNT_METRICS and den in COUNT_METRICS),
)
SCOPES = ("platform", "advertiser", "campaign", "channel")
COMPARES = ("trailing_mean", "threshold", "no_data", "stale")
SEVERITIES = ("info", "warning", "critical")

_COMMON = {"name", "description", "compare", "severity", "enabled"}
# The fields each comparison reads; setting another is an error (a typo or a misunderstanding).
FIELDS_OF: dict[str, set[str]] = {
    "trailing_mean": _COMMON
    | {"metric", "scope", "window_days", "min_baseline_days", "change_below", "change_above"}
    | {"min_volume", "max_p_value"},
    "threshold": _COMMON | {"metric", "scope", "below", "above", "min_volume"},
    "no_data": _COMMON | {"scope", "window_days", "min_active_days", "min_volume"},
    "stale": _COMMON | {"max_lag_days"},
}


class Rule(BaseModel):
    """One rule of rules.yaml (docs/alerts.md, "Fields")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)
    description: str = ""
    compare: Literal["trailing_mean", "threshold", "no_data", "stale"]
    severity: Literal["info", "warning", "critical"] = "warning"
    enabled: bool = True
    metric: str | None = None
    scope: Literal["platform", "advertiser", "campaign", "channel"] = "platform"
    # trailing_mean and no_data: the days before the evaluated day that make the baseline.
    window_days: int = Field(default=7, ge=1, le=90)
    min_baseline_days: int = Field(default=1, ge=1, le=90)
    change_below: float | None = Field(default=None, ge=-1.0, lt=0.0)  # -0.5: down 50% or more
    change_above: float | None = Field(default=None, gt=0.0)  # 1.0: up 100% (doubled) or more
    below: float | None = None  # threshold: fires when the day's value is under this
    above: float | None = None  # ... or over this
    # metric -> minimum: on the evaluated day and over the baseline window's sum.
    min_volume: dict[str, float] = Field(default_factory=dict)
    max_p_value: float | None = Field(default=None, gt=0.0, lt=1.0)
    min_active_days: int | None = Field(default=None, ge=1, le=90)  # no_data; default window_days
    max_lag_days: int | None = Field(default=None, ge=0)  # stale

    @model_validator(mode="after")
    def _consistent(self) -> Rule:
        extra = sorted(self.model_fields_set - FIELDS_OF[self.compare])
        if extra:
            raise ValueError(f"field {extra[0]!r} does not apply to compare {self.compare!r}")
        if self.compare in ("trailing_mean", "threshold"):
            if self.metric is None:
                raise ValueError(f"field 'metric' is required by compare {self.compare!r}")
            if self.metric not in METRICS:
                raise ValueError(f"field 'metric': {self.metric!r} is not one of {', '.join(METRICS)}")
        for m in self.min_volume:
            if m not in (*ADDITIVE_METRICS, *MONEY_METRICS):
                raise ValueError(
                    f"field 'min_volume': {m!r} is not an additive metric "
                    f"({', '.join((*ADDITIVE_METRICS, *MONEY_METRICS))})"
                )
        if self.compare == "trailing_mean":
            if self.change_below is None and self.change_above is None:
                raise ValueError("compare 'trailing_mean' needs 'change_below' or 'change_above'")
            if self.min_baseline_days > self.window_days:
                raise ValueError("field 'min_baseline_days' is larger than 'window_days'")
            if self.max_p_value is not None and self.metric not in COUNT_BASED:
                raise ValueError(
                    f"field 'max_p_value' needs a count or a ratio of counts ({', '.join(COUNT_BASED)}), "
                    f"not {self.metric!r}"
                )
        if self.compare == "threshold":
            if self.below is None and self.above is None:
                raise ValueError("compare 'threshold' needs 'below' or 'above'")
            if self.below is not None and self.above is not None and self.below >= self.above:
                raise ValueError("field 'below' must be less than 'above'")
        if self.compare == "no_data" and self.active_days > self.window_days:
            raise ValueError("field 'min_active_days' is larger than 'window_days'")
        if self.compare == "stale" and self.max_lag_days is None:
            raise ValueError("field 'max_lag_days' is required by compare 'stale'")
        return self

    @property
    def active_days(self) -> int:
        """no_data: the days of the window a scope must have delivered on."""
        return self.min_active_days or self.window_days


def load_rules(path: str | Path | None = None) -> list[Rule]:
    """The rules of a YAML file (default: the packaged rules.yaml), in file order."""
    source = Path(path) if path is not None else DEFAULT_RULES_PATH
    try:
        data = yaml.safe_load(source.read_text())
    except OSError as e:
        raise ValueError(f"{source}: cannot read the rules file ({e.strerror})") from None
    except yaml.YAMLError as e:
        raise ValueError(f"{source}: not valid YAML: {e}") from None
    return parse_rules(data, str(source))


def parse_rules(data: Any, source: str = "rules") -> list[Rule]:
    """Rules from parsed YAML: a mapping with a `rules:` list of mappings."""
    if not isinstance(data, dict) or not isinstance(data.get("rules"), list):
        raise ValueError(f"{source}: expected a mapping with a 'rules:' list")
    if extra := sorted(set(data) - {"rules"}):
        raise ValueError(f"{source}: unknown top-level key {extra[0]!r} (only 'rules')")
    rules: list[Rule] = []
    for i, item in enumerate(data["rules"], start=1):
        label = f"rule #{i}"
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            label = f"rule {item['name']!r} (#{i})"
        if not isinstance(item, dict):
            raise ValueError(f"{source}: {label}: expected a mapping of fields, got {type(item).__name__}")
        try:
            rules.append(Rule.model_validate(item))
        except ValidationError as e:
            raise ValueError(f"{source}: {label}: {_first_error(e)}") from None
    names = [r.name for r in rules]
    if dup := sorted({n for n in names if names.count(n) > 1}):
        raise ValueError(f"{source}: rule {dup[0]!r} is defined more than once")
    return rules


def _first_error(e: ValidationError) -> str:
    """Pydantic's first complaint as one line: "field 'window_days': ..." (a field's own
    type or bound) or the cross-field message of Rule._consistent."""
    err = e.errors()[0]
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] == "extra_forbidden":
        return f"unknown field {loc!r}"
    if err["type"] == "missing":
        return f"field {loc!r} is required"
    return f"field {loc!r}: {msg}" if loc else msg
