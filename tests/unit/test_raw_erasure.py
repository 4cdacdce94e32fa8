"""Erasure in raw files (spark_jobs/raw_erasure.py) on files the tests write: lines are
numbered as Spark numbers them, an id matches only whole, files are replaced whole, and
an unreadable file stays unreadable the same way. And the tables' statistics policy that
keeps ids out of the Delta log."""

import gzip
import os
import zlib

from isal import igzip
from pyspark.sql.types import (
    BooleanType,
    DateType,
    LongType,
    MapType,
    StringType,
    StructField,
    StructType,
    TimestampType,
)

from spark_jobs.delta_io import table_properties
from spark_jobs.lake import Lake
from spark_jobs.raw_erasure import find_lines, mentioning, needles, rewrite_without, split_lines
from spark_jobs.raw_files import check_gzip, count_lines


def test_lines_split_as_spark_counts_them():
    for text in (b"", b"a", b"a\n", b"a\r\nb\rc\n\n", b"a\nb", b"\n\n"):
        assert len(split_lines(text)) == count_lines(text), text
        assert b"".join(split_lines(text)) == text


def test_an_id_matches_whole_wherever_it_is_in_the_line():
    text = b'{"user_id":"u-1"}\n{"user_id":"u-12"}\n{"x":{"ref":"u-1"}}\nnot json "u-1\n{"user_id": "u-1" \n'
    assert mentioning(text, needles(["u-1"])) == [1, 3, 5]
    assert mentioning(text, needles(["u-12", "u-9"])) == [2]
    assert mentioning(text, needles(["u-9"])) == []


def _write(lake: Lake, name: str, data: bytes) -> str:
    path = f"{lake.root}/raw/click/dt=2026-11-01/hour=03/{name}"
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)
    return path


def _read(path: str) -> bytes:
    with open(path, "rb") as f:
        return f.read()


def test_files_are_rewritten_without_the_lines_and_a_rerun_changes_nothing(tmp_lake):
    lines = [
        b'{"user_id":"u-1","n":1}\n',
        b'{"user_id":"u-2","n":2}\r\n',
        b'{"user_id":"u-1","n":3}\n',
        b"{}",
    ]
    whole = _write(tmp_lake, "a.jsonl.gz", gzip.compress(b"".join(lines)))
    only_mine = _write(tmp_lake, "b.jsonl.gz", gzip.compress(lines[0]))
    other = _write(tmp_lake, "c.jsonl.gz", gzip.compress(lines[1]))
    truncated = _write(tmp_lake, "d.jsonl.gz", gzip.compress(b"".join(lines[:3]) * 50)[:-20])
    not_gzip = _write(tmp_lake, "e.jsonl.gz", b"".join(lines))

    found = {raw.path: n for raw, n in find_lines(tmp_lake, ["click"], ["u-1"]).items()}
    assert found[whole] == [1, 3] and found[only_mine] == [1] and other not in found
    assert found[not_gzip] == [1, 3] and found[truncated][:2] == [1, 3]

    by_path = {raw.path: raw for raw in find_lines(tmp_lake, ["click"], ["u-1"])}
    removed = {p: rewrite_without(tmp_lake, raw, ["u-1"]) for p, raw in by_path.items()}
    assert removed[whole] == 2 and removed[only_mine] == 1 and removed[not_gzip] == 2
    assert igzip.decompress(_read(whole)) == lines[1] + lines[3]
    assert not os.path.exists(only_mine)  # nothing left: deleted, not emptied
    assert _read(not_gzip) == lines[1] + lines[3]
    # Truncated stays truncated: the pipeline quarantines it as before.
    data = _read(truncated)
    assert check_gzip(data)[0].startswith("unreadable_file: truncated")
    assert b"u-1" not in zlib.decompressobj(wbits=31).decompress(data)
    assert gzip.decompress(_read(other)) == lines[1]
    # A rerun finds nothing left and rewrites nothing.
    assert find_lines(tmp_lake, ["click"], ["u-1"]) == {}
    assert all(rewrite_without(tmp_lake, raw, ["u-1"]) == 0 for raw in by_path.values())


def test_tables_with_ids_keep_no_statistics_on_them():
    """Delta's log keeps per-file min/max forever: none for ids (spark_jobs/delta_io.py)."""
    schema = StructType(
        [
            StructField("event_id", StringType()),
            StructField("user_pid", StringType()),
            StructField("is_test", BooleanType()),  # Delta has no statistics for booleans
            StructField("event_ts", TimestampType()),
            StructField("cost_micros", LongType()),
            StructField("event_date", DateType()),  # partition column
            StructField("extra", MapType(StringType(), StringType())),
        ]
    )
    assert table_properties(schema, ("event_date",)) == {
        "delta.dataSkippingStatsColumns": "event_id,event_ts,cost_micros"
    }
    assert table_properties(StructType([StructField("campaign_id", StringType())]), ()) == {}
