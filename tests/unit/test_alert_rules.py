"""KPI alerts (ad_assets/alerts, docs/alerts.md): the rules file, each comparison on
hand-made marts, minimum volume, de-duplication and recovery, the history rows, and the
simulator's incident firing and recovering the default rules."""

from datetime import UTC, date, datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from ad_assets.alerts.evaluate import PLATFORM_ID, RECOVERY_SHARE, evaluate, poisson_tail
from ad_assets.alerts.history import DRY_RUN, HISTORY_COLUMNS, HISTORY_SCHEMA, history_rows, history_table
from ad_assets.alerts.rules import DEFAULT_RULES_PATH, Rule, load_rules, parse_rules
from ad_assets.alerts.state import FIRED, RECOVERED, AlertState, transitions
from ad_assets.alerts.state import state_from_history as state_of
from ad_assets.generator.catalog import build_catalog
from ad_assets.generator.incident import Incident
from ad_assets.generator.simulate import generate_day
from spark_jobs.metric_definitions import ADDITIVE_METRICS

D0 = date(2026, 11, 1)


def day(n: int) -> date:
    return D0 + timedelta(days=n)


def mart(rows: list[dict]) -> pd.DataFrame:
    """campaign_daily rows: event_date (day number), campaign (its advertiser is 'a-' + it),
    and metrics (missing ones 0)."""
    out = []
    for r in rows:
        full = dict.fromkeys(ADDITIVE_METRICS, 0) | r
        full["event_date"] = day(r["event_date"])
        full.setdefault("campaign_id", "c1")
        full.setdefault("advertiser_id", "a-" + full["campaign_id"])
        out.append(full)
    return pd.DataFrame(out, columns=["event_date", "advertiser_id", "campaign_id", *ADDITIVE_METRICS])


def rule(**fields) -> Rule:
    return Rule.model_validate({"name": "r", "severity": "warning", **fields})


CVR_DROP = dict(compare="trailing_mean", metric="cvr", scope="campaign", window_days=7, change_below=-0.5)


def steady(days: range, clicks: int = 1000, conversions: int = 50, campaign: str = "c1") -> list[dict]:
    return [
        {"event_date": d, "campaign_id": campaign, "impressions": 50 * clicks, "clicks": clicks,
         "conversions": conversions, "spend_micros": 1_000_000 * clicks}
        for d in days
    ]  # fmt: skip


def only(findings, **match):
    out = [f for f in findings if all(getattr(f, k) == v for k, v in match.items())]
    assert len(out) == 1, out
    return out[0]


# --- the rules file -----------------------------------------------------------------


def test_the_default_rules_load_and_cover_every_comparison():
    rules = load_rules()
    assert rules == load_rules(DEFAULT_RULES_PATH)
    assert {r.compare for r in rules} == {"trailing_mean", "threshold", "no_data", "stale"}
    assert len({r.name for r in rules}) == len(rules)
    assert {r.severity for r in rules} <= {"info", "warning", "critical"}


def _write(tmp_path, text: str):
    path = tmp_path / "rules.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("rules: [", r"not valid YAML"),
        ("- name: x", r"expected a mapping with a 'rules:' list"),
        ("rules: []\nextra: 1", r"unknown top-level key 'extra'"),
        ("rules: [3]", r"rule #1: expected a mapping of fields, got int"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr, change_below: -0.5, windows: 3}",
         r"rule 'cvr' \(#1\): unknown field 'windows'"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvrr, change_below: -0.5}",
         r"rule 'cvr' \(#1\): field 'metric': 'cvrr' is not one of"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr}",
         r"rule 'cvr' \(#1\): compare 'trailing_mean' needs 'change_below' or 'change_above'"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr, change_below: 0.5}",
         r"rule 'cvr' \(#1\): field 'change_below': Input should be less than 0"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr, change_below: -0.5, window_days: 0}",
         r"rule 'cvr' \(#1\): field 'window_days': Input should be greater than or equal to 1"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr, change_below: -0.5, below: 0.1}",
         r"rule 'cvr' \(#1\): field 'below' does not apply to compare 'trailing_mean'"),
        ("rules:\n- {name: cvr, compare: trailing_mean, metric: cvr, change_below: -0.5,\n"
         "   min_volume: {klicks: 5}}",
         r"rule 'cvr' \(#1\): field 'min_volume': 'klicks' is not an additive metric"),
        ("rules:\n- {name: s, compare: trailing_mean, metric: spend, change_below: -0.5, max_p_value: 0.01}",
         r"rule 's' \(#1\): field 'max_p_value' needs a count or a ratio of counts"),
        ("rules:\n- {name: t, compare: threshold, metric: ctr, below: 0.5, above: 0.1}",
         r"rule 't' \(#1\): field 'below' must be less than 'above'"),
        ("rules:\n- {name: t, compare: threshold, metric: ctr, scope: region, above: 0.1}",
         r"rule 't' \(#1\): field 'scope': Input should be 'platform', 'advertiser', 'campaign' or"),
        ("rules:\n- {name: n, compare: no_data, window_days: 3, min_active_days: 4}",
         r"rule 'n' \(#1\): field 'min_active_days' is larger than 'window_days'"),
        ("rules:\n- {name: s, compare: stale}", r"rule 's' \(#1\): field 'max_lag_days' is required"),
        ("rules:\n- {name: s, compare: stale, max_lag_days: 1, scope: campaign}",
         r"rule 's' \(#1\): field 'scope' does not apply to compare 'stale'"),
        ("rules:\n- {compare: stale, max_lag_days: 1}", r"rule #1: field 'name' is required"),
        ("rules:\n- {name: Bad-Name, compare: stale, max_lag_days: 1}",
         r"rule 'Bad-Name' \(#1\): field 'name'"),
        ("rules:\n- {name: s, compare: stale, max_lag_days: 1}\n- {name: s, compare: stale, max_lag_days: 2}",
         r"rule 's' is defined more than once"),
        ("rules:\n- {name: s, compare: sometimes}", r"rule 's' \(#1\): field 'compare': Input should be"),
    ],
)  # fmt: skip
def test_bad_rules_files_fail_naming_the_rule_and_the_field(tmp_path, body, message):
    path = _write(tmp_path, body)
    with pytest.raises(ValueError, match=message) as e:
        load_rules(path)
    assert str(path) in str(e.value)


def test_a_missing_rules_file_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="cannot read the rules file"):
        load_rules(tmp_path / "nope.yaml")


def test_rules_keep_the_file_order_and_their_fields():
    rules = parse_rules(
        {"rules": [{"name": "b", "compare": "stale", "max_lag_days": 2}, {"name": "a", **CVR_DROP}]}
    )
    assert [r.name for r in rules] == ["b", "a"]
    assert rules[0].max_lag_days == 2 and rules[1].change_below == -0.5
    assert Rule.model_validate({"name": "n", "compare": "no_data", "window_days": 5}).active_days == 5


# --- each comparison on hand-made marts ------------------------------------------------


def test_trailing_mean_fires_on_a_drop_and_not_within_limits():
    rows = [
        *steady(range(7)),
        {"event_date": 7, "clicks": 1000, "conversions": 20},  # CVR 2% against 5%: -60%
        {"event_date": 8, "clicks": 1000, "conversions": 45},  # 4.5% against 4.6% (day 7 in the window)
    ]
    findings = evaluate([rule(**CVR_DROP)], mart(rows), [day(7), day(8)])
    drop = only(findings, event_date=day(7))
    assert drop.firing and not drop.clear
    assert drop.value == pytest.approx(0.02) and drop.baseline == pytest.approx(0.05)
    assert drop.change == pytest.approx(-0.6)
    assert (drop.rule, drop.scope, drop.scope_id, drop.metric, drop.severity) == (
        "r", "campaign", "c1", "cvr", "warning"
    )  # fmt: skip
    assert "2.00%" in drop.message and "5.00%" in drop.message and "-60%" in drop.message
    assert "(conversions 20, clicks 1,000)" in drop.message
    back = only(findings, event_date=day(8))
    assert not back.firing and back.clear and "within limits" in back.message
    # A rise only fires a rule with change_above.
    up = evaluate([rule(**{**CVR_DROP, "change_below": None, "change_above": 1.0})], mart(rows), [day(7)])
    assert not only(up, event_date=day(7)).firing


def test_ratio_baselines_are_ratios_of_sums_not_means_of_daily_ratios():
    # Baseline days: 10% on 1,000 clicks and 0% on 10 clicks. Sums: 100 / 1,010 = 9.9%;
    # a mean of the daily ratios would say 5%, and 4.5% would be only 10% below it.
    rows = [
        {"event_date": 0, "clicks": 1000, "conversions": 100},
        {"event_date": 1, "clicks": 10, "conversions": 0},
        {"event_date": 2, "clicks": 1000, "conversions": 45},
    ]
    f = only(evaluate([rule(**CVR_DROP)], mart(rows), [day(2)]), event_date=day(2))
    assert f.baseline == pytest.approx(100 / 1010)
    assert f.change == pytest.approx(0.045 / (100 / 1010) - 1)
    assert f.firing


def test_additive_baselines_are_daily_means_over_the_days_with_rows():
    rows = [
        {"event_date": 0, "spend_micros": 10_000_000},
        {"event_date": 2, "spend_micros": 30_000_000},  # no row on day 1: not a zero day
        {"event_date": 3, "spend_micros": 100_000_000},
    ]
    r = rule(compare="trailing_mean", metric="spend", scope="campaign", change_above=1.0)
    f = only(evaluate([r], mart(rows), [day(3)]), event_date=day(3))
    assert f.value == 100.0 and f.baseline == 20.0 and f.change == 4.0 and f.firing
    assert "previous 2 day(s)" in f.message


def test_minimum_volume_on_the_day_and_on_the_baseline_keeps_small_scopes_quiet():
    r = rule(**CVR_DROP, min_volume={"clicks": 500})
    small_day = [*steady(range(7)), {"event_date": 7, "clicks": 400, "conversions": 0}]
    small_base = [*steady(range(7), clicks=50, conversions=5), {"event_date": 7, "clicks": 1000}]
    assert evaluate([r], mart(small_day), [day(7)]) == []
    assert evaluate([r], mart(small_base), [day(7)]) == []  # 350 baseline clicks in 7 days
    enough = [*steady(range(7), clicks=100, conversions=5), {"event_date": 7, "clicks": 1000}]
    assert only(evaluate([r], mart(enough), [day(7)]), event_date=day(7)).firing  # 700 in the window
    # Money in currency units, counts as counts.
    pacing = rule(compare="trailing_mean", metric="spend", scope="campaign", change_above=1.0)
    rich = [*steady(range(7)), {"event_date": 7, "spend_micros": 5000000000}]
    assert evaluate([pacing.model_copy(update={"min_volume": {"spend": 5001}})], mart(rich), [day(7)]) == []
    assert evaluate([pacing.model_copy(update={"min_volume": {"spend": 5000}})], mart(rich), [day(7)])


def test_min_baseline_days():
    rows = [*steady(range(2)), {"event_date": 2, "clicks": 1000, "conversions": 0}]
    assert evaluate([rule(**CVR_DROP, min_baseline_days=3)], mart(rows), [day(2)]) == []
    assert only(
        evaluate([rule(**CVR_DROP, min_baseline_days=2)], mart(rows), [day(2)]), event_date=day(2)
    ).firing


def test_max_p_value_holds_a_drop_that_chance_explains():
    r = rule(**CVR_DROP, max_p_value=0.01)
    # Expected 2.5 conversions, saw 1: -60%, but a day like that comes 29% of the time.
    thin = [*steady(range(7), clicks=50, conversions=2), {"event_date": 7, "clicks": 62, "conversions": 1}]
    f = only(evaluate([r], mart(thin), [day(7)]), event_date=day(7))
    assert f.change < -0.5 and not f.firing and not f.clear  # held: neither fires nor recovers
    assert "within chance" in f.message
    # The same drop on 20 times the volume is no accident.
    thick = [
        *steady(range(7), clicks=1000, conversions=40),
        {"event_date": 7, "clicks": 1250, "conversions": 20},
    ]
    f = only(evaluate([r], mart(thick), [day(7)]), event_date=day(7))
    assert f.firing and "chance of a day this far off" in f.message


def test_poisson_tails():
    assert poisson_tail(0, 2.0, lower=True) == pytest.approx(np.exp(-2))
    assert poisson_tail(1, 2.0, lower=False) == pytest.approx(1 - np.exp(-2))
    assert poisson_tail(3, 3.0, lower=True) + poisson_tail(4, 3.0, lower=False) == pytest.approx(1)
    # The normal approximation takes over smoothly for large counts.
    assert poisson_tail(950, 1000.0, lower=True) == pytest.approx(0.0598, abs=0.002)
    assert poisson_tail(1100, 1001.0, lower=False) == pytest.approx(0.0009, abs=0.0003)


def test_a_change_back_inside_the_limit_but_not_within_the_recovery_share_holds():
    r = rule(**CVR_DROP)
    between = 0.05 * (1 + 0.75 * r.change_below)  # -37.5%: inside -50%, not within -25%
    assert RECOVERY_SHARE * r.change_below > 0.75 * r.change_below
    rows = [*steady(range(7)), {"event_date": 7, "clicks": 1000, "conversions": round(between * 1000)}]
    f = only(evaluate([r], mart(rows), [day(7)]), event_date=day(7))
    assert not f.firing and not f.clear and "not yet within -25%" in f.message


def test_threshold_fires_outside_its_bounds():
    r = rule(
        compare="threshold",
        metric="ctr",
        scope="campaign",
        below=0.001,
        above=0.05,
        min_volume={"impressions": 1000},
    )
    rows = [
        {"event_date": 0, "campaign_id": "low", "impressions": 10_000, "clicks": 5},
        {"event_date": 0, "campaign_id": "ok", "impressions": 10_000, "clicks": 100},
        {"event_date": 0, "campaign_id": "high", "impressions": 10_000, "clicks": 900},
        {"event_date": 0, "campaign_id": "tiny", "impressions": 100, "clicks": 90},
    ]  # fmt: skip
    findings = {f.scope_id: f for f in evaluate([r], mart(rows), [day(0)])}
    assert set(findings) == {"low", "ok", "high"}  # tiny: below the minimum volume
    assert findings["low"].firing and "below 0.10%" in findings["low"].message
    assert findings["low"].baseline == 0.001
    assert findings["high"].firing and "above 5.00%" in findings["high"].message
    assert findings["ok"].clear and not findings["ok"].firing


def test_no_data_fires_for_a_scope_that_delivered_and_stops():
    r = rule(compare="no_data", scope="campaign", window_days=3, min_volume={"impressions": 100})
    rows = (
        [{"event_date": d, "campaign_id": "steady", "impressions": 500} for d in range(5)]
        + [{"event_date": d, "campaign_id": "stops", "impressions": 400} for d in range(3)]
        + [{"event_date": 3, "campaign_id": "stops", "impressions": 0, "clicks": 1}]  # a row, no delivery
        + [{"event_date": d, "campaign_id": "small", "impressions": 50} for d in range(3)]
        + [{"event_date": d, "campaign_id": "new", "impressions": 500} for d in (2, 3)]
    )
    findings = evaluate([r], mart(rows), [day(3), day(4)])
    stops = only(findings, scope_id="stops", event_date=day(3))
    assert stops.firing and stops.value == 0 and stops.baseline == 400 and stops.change == -1
    assert "after delivering on 3 of the previous 3 day(s)" in stops.message
    # Day 4: its window holds a day without delivery; it fired already and stays so (no finding).
    assert not [f for f in findings if f.scope_id == "stops" and f.event_date == day(4)]
    assert not [f for f in findings if f.scope_id == "small"]  # under the minimum volume
    assert only(findings, scope_id="steady", event_date=day(3)).clear
    assert only(findings, scope_id="new", event_date=day(3)).clear
    assert not [f for f in findings if f.scope_id == "new" and f.event_date == day(4)]  # 2 active days of 3
    # A day with no rows at all is the marts' staleness, not every campaign's outage.
    assert not [f for f in evaluate([r], mart(rows), [day(9)]) if f.firing]
    fewer = rule(compare="no_data", scope="campaign", window_days=3, min_active_days=2)
    assert only(evaluate([fewer], mart(rows), [day(4)]), scope_id="new", event_date=day(4)).firing


def test_stale_fires_when_the_newest_day_lags_the_judged_day():
    r = rule(compare="stale", max_lag_days=1, severity="critical")
    rows = steady(range(3))
    channel = pd.DataFrame(
        {"event_date": [day(0)], "channel": ["search"], **{m: [1] for m in ADDITIVE_METRICS}}
    )
    findings = evaluate([r], mart(rows), [day(2), day(3), day(4)], channel_daily=channel)
    by = {(f.scope_id, f.event_date): f for f in findings}
    assert {f.scope for f in findings} == {"mart"}
    assert not by[("campaign_daily", day(2))].firing and by[("campaign_daily", day(2))].value == 0
    assert not by[("campaign_daily", day(3))].firing
    late = by[("campaign_daily", day(4))]
    assert late.firing and late.value == 2 and "newest day is 2026-11-03" in late.message
    assert by[("channel_daily", day(2))].firing  # its newest day is 2 days behind
    empty = evaluate([r], mart([]), [day(0)])
    assert only(empty, scope_id="campaign_daily").firing


def test_scopes_sum_their_rows():
    rows = steady(range(7), campaign="c1") + steady(range(7), clicks=3000, conversions=150, campaign="c2")
    rows += [
        {"event_date": 7, "campaign_id": "c1", "advertiser_id": "a", "clicks": 1000, "conversions": 10},
        {"event_date": 7, "campaign_id": "c2", "advertiser_id": "a", "clicks": 3000, "conversions": 30},
    ]
    for r in rows:
        r["advertiser_id"] = "a"
    platform = only(
        evaluate([rule(**{**CVR_DROP, "scope": "platform"})], mart(rows), [day(7)]), event_date=day(7)
    )
    assert platform.scope_id == PLATFORM_ID and platform.value == pytest.approx(40 / 4000)
    adv = only(
        evaluate([rule(**{**CVR_DROP, "scope": "advertiser"})], mart(rows), [day(7)]), event_date=day(7)
    )
    assert adv.scope_id == "a" and adv.baseline == pytest.approx(0.05) and "advertiser a" in adv.message


def test_channel_rules_read_channel_daily():
    r = rule(**{**CVR_DROP, "scope": "channel"})
    with pytest.raises(ValueError, match="rule 'r' has scope channel: pass channel_daily"):
        evaluate([r], mart([]), [day(1)])
    ch = mart([*steady(range(7)), {"event_date": 7, "clicks": 1000, "conversions": 5}])
    ch = ch.drop(columns=["advertiser_id", "campaign_id"]).assign(channel="search")
    f = only(evaluate([r], mart([]), [day(7)], channel_daily=ch), event_date=day(7))
    assert f.scope == "channel" and f.scope_id == "search" and f.firing


def test_dates_may_come_as_datetimes_and_disabled_rules_are_skipped():
    rows = [*steady(range(7)), {"event_date": 7, "clicks": 1000, "conversions": 5}]
    frame = mart(rows).assign(event_date=lambda f: pd.to_datetime(f["event_date"]))
    assert only(evaluate([rule(**CVR_DROP)], frame, [day(7)]), event_date=day(7)).firing
    assert evaluate([rule(**CVR_DROP, enabled=False)], frame, [day(7)]) == []
    with pytest.raises(ValueError, match="campaign_daily frame lacks column"):
        evaluate([rule(**CVR_DROP)], frame.drop(columns=["clicks"]), [day(7)])


# --- de-duplication, recovery, history ------------------------------------------------

# CVR by day: steady at 5%, collapsed on days 7 and 8, borderline on day 9, back on day 10.
EPISODE = [
    *steady(range(7)),
    {"event_date": 7, "clicks": 1000, "conversions": 5},
    {"event_date": 8, "clicks": 1000, "conversions": 5},
    {"event_date": 9, "clicks": 1000, "conversions": 25},  # -33% of a baseline with 7 and 8 in it
    {"event_date": 10, "clicks": 1000, "conversions": 50},
]


def test_firing_twice_notifies_once_and_recovery_notifies_once():
    findings = evaluate([rule(**CVR_DROP)], mart(EPISODE), [day(n) for n in range(7, 11)])
    assert [(f.event_date, f.firing, f.clear) for f in findings] == [
        (day(7), True, False),
        (day(8), True, False),
        (day(9), False, False),  # inside the limit, not yet within the recovery share: holds
        (day(10), False, True),
    ]
    notices, state = transitions({}, findings)
    assert [(n.status, n.finding.event_date) for n in notices] == [(FIRED, day(7)), (RECOVERED, day(10))]
    assert state == {("r", "campaign", "c1"): AlertState(False, day(10))}
    # Evaluated one day at a time, as the sensor does, the same notices come out.
    state, one_by_one = {}, []
    for n in range(7, 11):
        new, state = transitions(state, evaluate([rule(**CVR_DROP)], mart(EPISODE), [day(n)]))
        one_by_one += new
    assert one_by_one == notices
    # A rerun over the same days, from the state it left, sends nothing.
    assert transitions(state, findings)[0] == []


def test_transitions_are_pure_and_order_findings_by_date():
    findings = evaluate([rule(**CVR_DROP)], mart(EPISODE), [day(n) for n in range(7, 11)])
    before = {("r", "campaign", "c1"): AlertState(False, day(1))}
    snapshot = dict(before)
    notices, _ = transitions(before, reversed(findings))
    assert before == snapshot
    assert [n.status for n in notices] == [FIRED, RECOVERED]
    # Already firing: no new notice on the collapse, only the recovery.
    notices, _ = transitions({("r", "campaign", "c1"): AlertState(True, day(6))}, findings)
    assert [n.status for n in notices] == [RECOVERED]


def test_history_rows_match_the_schema_and_give_back_the_state():
    findings = evaluate([rule(**CVR_DROP)], mart(EPISODE), [day(n) for n in range(7, 11)])
    notices, state = transitions({}, findings)
    at = datetime(2026, 11, 12, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    rows = history_rows(notices, at, DRY_RUN)
    assert [list(r) for r in rows] == [list(HISTORY_COLUMNS)] * 2
    assert rows[0]["evaluated_at"] == datetime(2026, 11, 12, 7, 30, tzinfo=UTC)
    assert (rows[0]["status"], rows[1]["status"], rows[0]["delivery"]) == (FIRED, RECOVERED, "dry run")
    assert rows[0]["value"] == pytest.approx(0.005) and rows[0]["event_date"] == day(7)
    table = history_table(rows)
    assert table.schema == HISTORY_SCHEMA and table.num_rows == 2
    assert table.schema.field("evaluated_at").type == pa.timestamp("us", tz="UTC")
    assert state_of(rows) == state
    assert state_of(table.to_pylist()) == state  # as the lake gives them back
    naive = history_rows(notices, datetime(2026, 11, 12, 7, 30), "sent")
    assert naive[0]["evaluated_at"] == rows[0]["evaluated_at"]
    # A later evaluation's row wins for the same day.
    again = history_rows(notices[:1], datetime(2026, 11, 13, tzinfo=UTC), "sent")
    again[0]["event_date"] = day(10)
    assert state_of(rows + again)[("r", "campaign", "c1")] == AlertState(True, day(10))
    with pytest.raises(ValueError, match="status 'open'"):
        state_of([{**rows[0], "status": "open"}])


# --- the simulator's incident fires the default rules, and recovers ---------------------

WEEK = [day(n) for n in range(7)]
INCIDENT = Incident(day(4), day(5), factor=0.1)  # days 5 and 6 of the week
DAY_US = 86_400_000_000


def _campaign_daily(events: list[dict], end: date) -> pd.DataFrame:
    """marts.campaign_daily from generated days, as docs/metrics.md defines it: valid
    impressions and clicks (clicks on the campaign of their impression), each order once,
    credited to the last valid click of its user at its advertiser within 7 days."""

    def frame(t, cols):
        return pd.concat([pd.DataFrame({c: ev[t][c] for c in cols}) for ev in events])

    imp = frame(
        "impression",
        ("impression_id", "event_ts", "advertiser_id", "campaign_id", "ivt", "is_test", "cost_micros"),
    )
    clk = frame("click", ("event_ts", "impression_id", "user_id", "ivt", "is_test"))
    conv = frame(
        "conversion", ("order_id", "event_ts", "advertiser_id", "user_id", "is_test", "value_micros")
    )
    imp = imp[(imp.ivt == "none") & ~imp.is_test]
    clk = clk[(clk.ivt == "none") & ~clk.is_test].merge(
        imp[["impression_id", "advertiser_id", "campaign_id"]], on="impression_id"
    )
    conv = conv[~conv.is_test].sort_values("event_ts").drop_duplicates("order_id")
    touches = clk[["user_id", "advertiser_id", "event_ts", "campaign_id"]].rename(
        columns={"event_ts": "click_ts"}
    )
    credited = conv.merge(touches, on=["user_id", "advertiser_id"])
    credited = credited[
        (credited.click_ts <= credited.event_ts) & (credited.click_ts >= credited.event_ts - 7 * DAY_US)
    ]
    credited = credited.sort_values("click_ts").drop_duplicates("order_id", keep="last")
    keys = ["event_date", "advertiser_id", "campaign_id"]
    for df in (imp, clk, credited):
        df["event_date"] = pd.to_datetime(df.event_ts, unit="us").dt.date
    sums = pd.concat(
        [
            imp.groupby(keys).agg(impressions=("impression_id", "size"), spend_micros=("cost_micros", "sum")),
            clk.groupby(keys).size().rename("clicks"),
            credited.groupby(keys).agg(
                conversions=("order_id", "size"), revenue_micros=("value_micros", "sum")
            ),
        ],
        axis=1,
    )
    out = sums.fillna(0).astype("int64").reset_index()
    return out[out.event_date < end][["event_date", "advertiser_id", "campaign_id", *ADDITIVE_METRICS]]


@pytest.fixture(scope="module")
def default_week():
    """make run's week (30,000 impressions a day from 2026-11-01, seed 42) as
    campaign_daily, without and with INCIDENT."""
    cat = build_catalog(42, D0, 30_000)
    out = {}
    for name, incident in (("normal", None), ("incident", INCIDENT)):
        events = [generate_day(cat, 42, d, 30_000, incident=incident) for d in WEEK]
        out[name] = _campaign_daily(events, day(7))
    return out


def test_the_incident_fires_on_its_first_day_and_recovers_the_day_after_it(default_week):
    rules = load_rules()
    notices, _ = transitions({}, evaluate(rules, default_week["incident"], WEEK))
    assert [(n.status, n.finding.rule, n.finding.scope_id, n.finding.event_date) for n in notices] == [
        (FIRED, "cvr_drop_platform", PLATFORM_ID, day(4)),
        (RECOVERED, "cvr_drop_platform", PLATFORM_ID, day(6)),
    ]
    assert notices[0].finding.severity == "critical" and notices[0].finding.change < -0.6


def test_a_normal_week_fires_nothing(default_week):
    findings = evaluate(load_rules(), default_week["normal"], WEEK)
    assert [f.message for f in findings if f.firing] == []
    # ... although every comparison judged something.
    judged = {
        "cvr_drop_platform",
        "ctr_floor_platform",
        "spend_pacing_campaign",
        "no_data_campaign",
        "stale_marts",
    }
    assert {f.rule for f in findings} >= judged
