"""Property-based tests of the bronze parser (hypothesis): random and mutated log lines
never make it raise, none is lost or doubled, and each valid or broken mutation of a
contract-conforming line gets the verdict the contract implies."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from spark_jobs.bronze import parse_lines
from spark_jobs.contracts import EVENT_TYPES, RAW_FIELDS, Field
from tests.helpers import raw_line_frame

SETTINGS = settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
NO_NEWLINE = st.characters(blacklist_characters="\n\r", blacklist_categories=("Cs",))

_VALUES = {
    "string": st.text(NO_NEWLINE, min_size=1, max_size=12),
    "bigint": st.integers(0, 2**53),
    "int": st.integers(0, 2**31 - 1),
    "double": st.floats(0, 1e9, allow_nan=False),
    "boolean": st.booleans(),
    "timestamp": st.datetimes(datetime(2020, 1, 1), datetime(2030, 1, 1)).map(
        lambda d: d.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ),
}
# A value Spark cannot cast to the field's type.
_NOT_A = {"bigint": "twelve", "int": "x1", "double": "NaN-ish", "boolean": "yes!", "timestamp": "yesterday"}


def _set(obj: dict, path: str, value) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        obj = obj.setdefault(p, {})
    obj[leaf] = value


def _drop(obj: dict, path: str) -> None:
    *parents, leaf = path.split(".")
    for p in parents:
        obj = obj[p]
    del obj[leaf]


@st.composite
def valid_event(draw, event_type: str) -> dict:
    obj: dict = {"event_type": event_type}
    for f in RAW_FIELDS[event_type]:
        if f.required or draw(st.booleans()):
            _set(obj, f.json_path, draw(_VALUES[f.dtype]))
    return obj


@st.composite
def mutated_line(draw, event_type: str) -> tuple[str, str | None]:
    """(line, expected reason prefix or None for a valid line)."""
    obj = draw(valid_event(event_type))
    fields: list[Field] = RAW_FIELDS[event_type]
    kind = draw(st.sampled_from(["valid", "missing", "bad_type", "truncated", "unknown_field", "wrong_type"]))
    if kind == "missing":
        f = draw(st.sampled_from([f for f in fields if f.required]))
        _drop(obj, f.json_path)
        return json.dumps(obj), f"missing:{f.name}"
    if kind == "bad_type":
        typed = [f for f in fields if f.dtype in _NOT_A]
        f = draw(st.sampled_from(typed))
        _set(obj, f.json_path, _NOT_A[f.dtype])
        return json.dumps(obj), f"bad_type:{f.name}"
    if kind == "truncated":
        line = json.dumps(obj)
        return line[: draw(st.integers(1, len(line) - 1))], ""
    if kind == "unknown_field":
        obj[f"new_field_{draw(st.integers(0, 9))}"] = draw(_VALUES["string"] | _VALUES["int"])
        return json.dumps(obj), None
    if kind == "wrong_type":
        obj["event_type"] = next(t for t in EVENT_TYPES if t != event_type)
        return json.dumps(obj), "wrong_event_type"
    return json.dumps(obj), None


def _parse(spark, lines: list[str], event_type: str) -> dict[int, str | None]:
    """line number -> reason (None when the line is loaded into bronze)."""
    parsed = parse_lines(raw_line_frame(spark, lines, source_file="f", arrival_hour=0), event_type)
    got = parsed.select("_line_number", "_reason").collect()
    assert sorted(r["_line_number"] for r in got) == list(range(1, len(lines) + 1))  # none lost or doubled
    return {r["_line_number"]: r["_reason"] for r in got}


@pytest.mark.parametrize("event_type", EVENT_TYPES)
@SETTINGS
@given(data=st.data())
def test_mutations_get_the_verdict_the_contract_implies(spark, event_type, data):
    cases = data.draw(st.lists(mutated_line(event_type), min_size=1, max_size=30))
    reasons = _parse(spark, [line for line, _ in cases], event_type)
    for i, (line, expected) in enumerate(cases, start=1):
        if expected is None:
            assert reasons[i] is None, (line, reasons[i])
        else:
            assert reasons[i] is not None and expected in reasons[i], (line, expected, reasons[i])


@SETTINGS
@given(lines=st.lists(st.text(NO_NEWLINE, max_size=200), min_size=1, max_size=40))
def test_arbitrary_text_never_raises_and_is_never_loaded_unless_it_is_an_event(spark, lines):
    reasons = _parse(spark, lines, "click")
    for i, line in enumerate(lines, start=1):
        try:
            is_object = isinstance(json.loads(line), dict)
        except ValueError:
            is_object = False
        if not is_object:
            assert reasons[i] is not None, line
