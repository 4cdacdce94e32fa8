"""contracts.line_problems (pure Python) agrees with bronze's Spark parse on every line:
the generator's lines (valid and mangled) and hand-made ones for every reason, every
field type and the corners of Spark's JSON reading (single quotes, control characters,
repeated keys, limits). One Spark job for all of them."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from datetime import date

from ad_assets.generator import generate
from ad_assets.generator.delivery import DeliveryProfile
from spark_jobs.bronze import parse_lines
from spark_jobs.contracts import EVENT_TYPES, RAW_FIELDS, line_problems
from spark_jobs.lake import Lake
from tests.helpers import raw_line_frame

TEMPLATES: dict[str, dict] = {
    "bid_request": {
        "event_id": "r1",
        "event_type": "bid_request",
        "event_ts": "2026-11-02T10:00:00.5Z",
        "request_id": "q1",
        "imp_id": "1",
        "bidfloor_cpm": 0.75,
        "placement_id": "plc-1",
        "ad_format": "banner",
        "channel": "display",
        "site": {"domain": "news.example.com", "publisher": {"id": "pub-1"}},
        "app": None,
        "device": {"devicetype": "mobile", "os": "ios", "ua": "UA/1.0", "geo": {"country": "DE"}},
        "user": {"id": "u9", "consent": "CP"},
        "regs": {"gdpr": 1},
        "is_test": False,
    },
    "bid_response": {
        "event_id": "b1",
        "event_type": "bid_response",
        "event_ts": "2026-11-02T10:00:00.100000Z",
        "request_id": "q1",
        "imp_id": "1",
        "bidder_id": "dsp-0",
        "advertiser_id": "adv-1",
        "campaign_id": "cmp-1",
        "creative_id": "cr-1",
        "bid_price_cpm": 1.25,
        "won": True,
        "clear_price_cpm": 0.8,
        "loss_reason": 0,
        "is_test": False,
    },
    "impression": {
        "event_id": "i1",
        "event_type": "impression",
        "event_ts": "2026-11-02T10:00:01Z",
        "impression_id": "imp-1",
        "request_id": "q1",
        "advertiser_id": "adv-1",
        "campaign_id": "cmp-1",
        "creative_id": "cr-1",
        "publisher_id": "pub-1",
        "placement_id": "plc-1",
        "channel": "display",
        "ad_format": "banner",
        "device_type": "mobile",
        "os": "ios",
        "country": "DE",
        "user_id": "u9",
        "gdpr": 0,
        "consent": "",
        "cost_micros": 948,
        "ivt": "none",
        "is_test": False,
    },
    "click": {
        "event_id": "c1",
        "event_type": "click",
        "event_ts": "2026-11-02T10:00:05.123456Z",
        "click_id": "clk-1",
        "impression_id": "imp-1",
        "campaign_id": "cmp-1",
        "user_id": "u9",
        "gdpr": 0,
        "consent": "",
        "ivt": "none",
        "is_test": False,
    },
    "conversion": {
        "event_id": "v1",
        "event_type": "conversion",
        "event_ts": "2026-11-02T11:00:00Z",
        "conversion_id": "conv-1",
        "order_id": "ord-1",
        "advertiser_id": "adv-1",
        "user_id": "u9",
        "gdpr": 1,
        "consent": "CP",
        "conv_type": "purchase",
        "value_micros": 40572344,
        "currency": "USD",
        "is_test": False,
    },
}


class Raw(str):
    """A value written into the line as this JSON text (e.g. 1e400, which json.dumps cannot)."""


_TS = "2026-11-02T10:00:00"
# Values of each field type: Spark reads them all as strings, then casts (try_cast,
# try_to_timestamp): some cast, some do not; the test needs no expectation, only agreement.
VALUES: dict[str, list] = {
    "bigint": [12, -5, 0, " 12 ", "+12", "-0", "12\t", "\x0712", "12\x7f", "9223372036854775807",
               "-9223372036854775808", "9223372036854775808", 9223372036854775808, "1.0", 1.0, 1e3,
               "1e3", "12a", "", " ", "+", "0x10", True, [1], {"a": 1}, "١٢", Raw("-0"), Raw("1E2"),
               Raw("12.5e1"), Raw("1e0"), Raw("10e-1"), Raw("-0.0"), Raw("1.20E+1")],
    "int": [2147483647, "-2147483648", 2147483648, " -5 ", "1.5", "x1", False],
    "boolean": [True, False, "true", "YES", " t ", "n", "0", 1, 0, "\x00yes", "2", 2, 1.0, "truee", "",
                "on", [True], {"a": True}, "FALSE\x7f", Raw("1e0"), Raw("0E0"), Raw("1.0")],
    "double": [1, 1.5, -0.0, 1e300, "1e5", " 2.5 ", "0x1p3", "0X.8P-1d", "NaN", "-Infinity", "inf", "INF",
               "+nan", "nan ", "1.5d", "1.", ".5", "+1", 12345678901234567890, Raw("1e400"), Raw("-1e400"),
               Raw("1.50"), Raw("1E-400"), "1,5", "", "abc", True, "0x", "1e", "\x7f1", "\x001.5", "NaNd",
               "Infinityx", "1e5e5", "0x1.8", "1_0", Raw("1e9999999999"), Raw("-1e-9999999999")],
    "timestamp": [_TS + "Z", _TS + ".1Z", _TS + ".123456Z", "2026-11-02t10:00:00z", _TS + "+0130",
                  _TS + "-05", _TS + "-1800", "+12026-11-02T10:00:00Z", "0000-01-01T00:00:00Z",
                  "-0001-01-01T00:00:00Z", "2024-02-29T23:59:59Z", "yesterday", _TS, "2026-11-02 10:00:00Z",
                  _TS + ".1234567Z", _TS + "+01:30", "2026-02-29T10:00:00Z", "2026-11-02T24:00:00Z",
                  "12026-11-02T10:00:00Z", "+2026-11-02T10:00:00Z", "-0000-11-02T10:00:00Z",
                  "2026-13-01T10:00:00Z", "2026-11-31T10:00:00Z", "2026-11-02T10:00:60Z", _TS + "+1900",
                  _TS + "+2400", _TS + "+19", " " + _TS + "Z", _TS + ".Z", _TS + "Z ", "2026-1-02T10:00:00Z",
                  1700000000, True, {"a": 1}, "+294247-01-01T00:00:00Z", "-290307-01-01T00:00:00Z",
                  "+294248-01-01T00:00:00Z", "-290309-01-01T00:00:00Z", "+289999-12-31T23:59:59Z",
                  "+290000-01-01T00:00:00Z", "-289999-01-01T00:00:00Z", "+" + "9" * 40 + "-01-01T00:00:00Z"],
    "string": [5, 1.5, True, {"a": 1}, [1, "x"], "", " ", "é\u00e9", "\ud800", Raw("-0.0"), Raw("1e-7"),
               Raw("1e9999999999"), Raw("[1, {\"a\": 1e9999999999}]"), Raw("[1.10, {\"a\": -0}]")],
}  # fmt: skip
# The field that takes every value of its type.
SHOWCASE = {
    "bigint": ("impression", "cost_micros"),
    "int": ("impression", "gdpr"),
    "boolean": ("click", "is_test"),
    "double": ("bid_request", "bidfloor_cpm"),
    "timestamp": ("conversion", "event_ts"),
    "string": ("click", "click_id"),
}
ONE_BAD = {"bigint": "1.5", "int": "x", "boolean": "n/a", "double": "n/a", "timestamp": "yesterday"}


def _line(obj: dict) -> str:
    """The object as a JSON line, Raw values written as they are."""
    raws: list[str] = []

    def mark(v):
        if isinstance(v, Raw):
            raws.append(str(v))
            return f"__raw{len(raws) - 1}__"
        if isinstance(v, dict):
            return {k: mark(x) for k, x in v.items()}
        return v

    text = json.dumps(mark(obj))
    for i, r in enumerate(raws):
        text = text.replace(f'"__raw{i}__"', r)
    return text


def _set(obj: dict, path: str, value, drop: bool = False) -> dict:
    obj = copy.deepcopy(obj)
    *parents, leaf = path.split(".")
    node = obj
    for p in parents:
        if not isinstance(node.get(p), dict):
            node[p] = {}
        node = node[p]
    if drop:
        node.pop(leaf, None)
    else:
        node[leaf] = value
    return obj


def _field_cases() -> list[tuple[str, str]]:
    cases = []
    for event_type, template in TEMPLATES.items():
        cases.append((event_type, _line(template)))
        for f in RAW_FIELDS[event_type]:
            cases.append((event_type, _line(_set(template, f.json_path, None, drop=True))))
            cases.append((event_type, _line(_set(template, f.json_path, None))))
            if f.dtype in ONE_BAD:
                cases.append((event_type, _line(_set(template, f.json_path, ONE_BAD[f.dtype]))))
    for dtype, (event_type, name) in SHOWCASE.items():
        path = next(f.json_path for f in RAW_FIELDS[event_type] if f.name == name)
        for v in VALUES[dtype]:
            cases.append((event_type, _line(_set(TEMPLATES[event_type], path, v))))
    return cases


def _structural_cases() -> list[tuple[str, str]]:
    req, click = TEMPLATES["bid_request"], TEMPLATES["click"]
    c = _line(click)
    body = c[1:-1]  # the object's members, for lines written by hand
    # bid_request: nested fields must hold objects (or null) for from_json.
    nested = [("device", v) for v in ("x", 5, [], "", True, {}, {"geo": "DE"}, {"geo": None}, {"geo": []})]
    nested += [("site", {"publisher": "p"}), ("site", None), ("app", {}), ("user", []), ("regs", "")]
    nested += [("user", {"id": {"a": 1}}), ("regs", {"gdpr": "1"}), ("regs", {"gdpr": "x"}), ("unknown", "x")]
    cases = [("bid_request", _line(_set(req, path, v))) for path, v in nested]
    r = _line(req)[1:-1]
    cases += [
        ("bid_request", '{"device":"x",' + r + "}"),  # a repeated key: the first, bad one counts
        ("bid_request", "{" + r + ',"device":null}'),  # the last one wins
        ("bid_request", "{" + r + ',"site":{"publisher":{"id":5},"publisher":[]}}'),
    ]
    event_types = [None, "CLICK", " click", 5, {"t": "click"}, "impression"]
    cases += [("click", _line({**click, "event_type": t})) for t in event_types]
    cases += [("click", _line({k: v for k, v in click.items() if k != "event_type"}))]
    deep = lambda n: "[" * n + "]" * n  # noqa: E731
    clk = lambda v: c.replace('"clk-1"', v)  # noqa: E731  (the click_id's value written as v)
    lines = [
        "", " ", "null", "[]", "[" + c + "]", '"click"', "{}", "{ }", "{" + body, c[:40], c + c,
        c + " trailing", c + "]", c + "\t\x01garbage", "  \t\r\n" + c, "\x0b" + c, "\ufeff" + c,
        "{" + body + ",}", "{," + body + "}", c.replace(": ", " : "), c.replace('"', "'"),
        c.replace('"ivt": "none"', "'ivt': \"none\""), c.replace('"none"', '"no\\u006ee"'),
        c.replace('"event_id"', '"\\u0065vent_id"'), clk('"clk\\\'1"'),
        clk("'clk\"1'"), clk('"clk\\x1"'), clk('"clk\t1"'),
        clk('"clk\\t1"'), clk('"clk\n1"'), clk('"clk\x7f1"'),
        clk('"\\ud83d\\ude00"'), c.replace(", ", ",\n"),
        clk('"clk-1" /* c */'), clk("clk_1"),
        "{" + body + ', "extra": {"a\tb": 1}}', "{" + body + ', "extra": NaN}',
        "{" + body + ', "extra": -Infinity}', "{" + body + ', "extra": 01}', "{" + body + ', "extra": +1}',
        "{" + body + ', "extra": .5}', "{" + body + ', "extra": 1.}', "{" + body + ', "extra": -}',
        "{" + body + ', "extra": truex}', "{" + body + ', "extra": True}', "{" + body + ', "extra": [1, 2,]}',
        "{" + body + ', "extra": {"a" 1}}', "{" + body + ', "_corrupt_record": "x"}',
        "{" + body + ', "event_id": null}',
        "{" + body + ', "extra": ' + deep(999) + "}", "{" + body + ', "extra": ' + deep(1000) + "}",
        "{" + body + ', "extra": ' + "7" * 1000 + "}", "{" + body + ', "extra": ' + "7" * 1001 + "}",
        "{" + body + ', "extra": 1.' + "5" * 999 + "}", "{" + body + ', "extra": 1.' + "5" * 1000 + "}",
        "{" + body + ', "' + "k" * 50_000 + '": 1}', "{" + body + ', "' + "k" * 50_001 + '": 1}',
        "{" + body + ', "click_id": ' + "7" * 1000 + "}",
        "{" + body + ', "extra": 1e9999999999}', '{"click_id": 1e9999999999,' + body + "}",
        '{"click_id": 5e-1,' + body + "}", "{" + body + ', "event_type": 1.5e0}',
    ]  # fmt: skip
    cases += [("click", line) for line in lines]
    # A line of one type read as another.
    cases += [
        (t, _line(TEMPLATES[o])) for t, o in zip(EVENT_TYPES, EVENT_TYPES[1:] + EVENT_TYPES[:1], strict=True)
    ]
    return cases


def _generated_cases(tmp_path) -> list[tuple[str, str]]:
    """The generator's lines, with many mangled ones: the first lines of each type, and
    every line the Python verdict rejects (a sample, to keep the job small)."""
    lake = Lake(str(tmp_path / "lake"))
    generate(lake, date(2026, 11, 2), 3, 1500, seed=11, delivery=DeliveryProfile(malformed_rate=0.05))
    cases = []
    for event_type in EVENT_TYPES:
        lines = [
            line.decode()
            for p in sorted((tmp_path / "lake" / "raw" / event_type).rglob("*.jsonl.gz"))
            for line in gzip.decompress(p.read_bytes()).splitlines()
        ]
        bad = [line for line in lines if line_problems(event_type, line) is not None]
        cases += [(event_type, line) for line in lines[:40] + bad[:25]]
    return cases


def test_python_verdict_equals_sparks_on_every_line(spark, tmp_path):
    cases = _generated_cases(tmp_path) + _field_cases() + _structural_cases()
    frames = [
        parse_lines(
            raw_line_frame(spark, [line for t, line in cases if t == event_type], event_type), event_type
        )
        for event_type in EVENT_TYPES
    ]
    parsed = frames[0].select("_source_file", "_line_number", "_reason")
    for f in frames[1:]:
        parsed = parsed.unionByName(f.select("_source_file", "_line_number", "_reason"))
    spark_reasons = {(r["_source_file"], r["_line_number"]): r["_reason"] for r in parsed.collect()}

    numbered = Counter()
    disagreements = []
    for event_type, line in cases:
        numbered[event_type] += 1
        ours, sparks = line_problems(event_type, line), spark_reasons[(event_type, numbered[event_type])]
        if ours != sparks:
            disagreements.append(f"{event_type} {line[:160]!r}: python {ours!r}, spark {sparks!r}")
    assert len(spark_reasons) == len(cases) > 500
    assert not disagreements, "\n".join(disagreements)

    # The lines cover every reason and a bad value of every type.
    kinds = {r.split(":")[0] for v in spark_reasons.values() if v for r in v.split("; ")}
    assert kinds == {"malformed_json", "schema_mismatch", "wrong_event_type", "missing", "bad_type"}
    bad_fields = {r[len("bad_type:") :] for v in spark_reasons.values() if v for r in v.split("; ")}
    dtypes = {f.dtype for t in EVENT_TYPES for f in RAW_FIELDS[t] if f.name in bad_fields}
    assert dtypes >= {"bigint", "int", "boolean", "double", "timestamp"}
