"""A pretty-printed event is produced on one line with the same value (the raw layout is
one event per line)."""

import json

from serving.collector import one_line, split_events


def test_an_event_posted_pretty_printed_lands_on_one_line_with_the_same_value():
    event = {"event_type": "click", "note": "line\nbreak", "ids": [1, 2]}
    pretty = json.dumps(event, indent=2).encode()
    (e,) = split_events(pretty, "application/json")
    assert b"\n" not in e.raw and json.loads(e.raw) == event
    raw_break = b'{"a": "x\ny",\r\n "b": 1}'  # a raw line break inside a string (lenient JSON)
    assert json.loads(one_line(raw_break)) == json.loads(raw_break, strict=False)
    assert one_line(b'{"a":1}') == b'{"a":1}'  # untouched when already one line
