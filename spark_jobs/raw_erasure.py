"""Erasure in the raw files: find the lines that mention given user ids, and rewrite each
file without them (docs/privacy.md, "Erasure"). No Spark: each file is decompressed once
in memory (ISA-L) and searched as bytes.

A line mentions an id when it holds the id as a JSON string ("u-..." with its quotes):
that finds it in `user_id`, in an unknown field, and in a line too broken to parse, while
an id never matches inside a longer one. Lines are split as Spark's text reader splits
them (spark_jobs/raw_files.py `count_lines`), so a line's number here is its
`_line_number` in bronze, silver and quarantine.

A file that cannot be read whole (truncated gzip, not gzip) is searched in what can be
read; rewritten, it stays unreadable in the same way, so the pipeline judges it as
before."""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import pyarrow.fs as pafs
from isal import igzip

from spark_jobs.lake import Lake

_LINE = re.compile(rb"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_GZIP_TRAILER = 8  # CRC32 and size: without them a gzip stream reads as truncated


def needles(user_ids: Iterable[str]) -> tuple[bytes, ...]:
    """The byte strings that mark a line as mentioning one of user_ids."""
    return tuple(json.dumps(u).encode() for u in sorted(set(user_ids)))


def split_lines(text: bytes) -> list[bytes]:
    """The lines of text, each with its terminator (\\n, \\r or \\r\\n)."""
    return _LINE.findall(text)


def mentioning(text: bytes, marks: tuple[bytes, ...]) -> list[int]:
    """1-based numbers of the lines of text that hold any of marks."""
    if not any(m in text for m in marks):  # most files: one pass per id, no split
        return []
    return [i for i, line in enumerate(split_lines(text), 1) if any(m in line for m in marks)]


def without_lines(text: bytes, numbers: list[int]) -> bytes:
    drop = set(numbers)
    return b"".join(line for i, line in enumerate(split_lines(text), 1) if i not in drop)


@dataclass(frozen=True)
class RawFile:
    path: str  # in the lake's arrow filesystem
    source_file: str  # as Spark's _metadata.file_path names it (bronze's _source_file)
    event_type: str
    readable: bool  # a whole gzip stream; else truncated or not gzip


def _decode(data: bytes) -> tuple[bytes, bool]:
    """(the text that can be read, whether the file is a whole gzip stream)."""
    try:
        return igzip.decompress(data), True
    except (EOFError, OSError, zlib.error, igzip.BadGzipFile):
        pass
    inflate = zlib.decompressobj(wbits=31)
    try:  # a truncated stream: what inflates before it ends
        return inflate.decompress(data), False
    except zlib.error:
        return data, False  # not gzip at all: the bytes as they are


def _encode(text: bytes, like: RawFile, original: bytes) -> bytes:
    if like.readable:
        return igzip.compress(text, compresslevel=1)
    if original[:2] == b"\x1f\x8b":  # truncated gzip stays truncated
        return igzip.compress(text, compresslevel=1)[:-_GZIP_TRAILER]
    return text


def raw_files(lake: Lake, event_types: Iterable[str]) -> Iterator[tuple[RawFile, bytes, bytes]]:
    """Every raw file of these event types: (file, its bytes, its readable text)."""
    fs, base = lake.arrow_fs()
    for event_type in event_types:
        selector = pafs.FileSelector(f"{base}/raw/{event_type}", recursive=True, allow_not_found=True)
        for info in sorted(fs.get_file_info(selector), key=lambda i: i.path):
            if not (info.is_file and info.path.endswith(".jsonl.gz")):
                continue
            with fs.open_input_stream(info.path, compression=None) as f:
                data = f.read()
            text, readable = _decode(data)
            spark_path = lake.spark_path(info.path[len(base) + 1 :])
            source = f"file:{spark_path}" if spark_path.startswith("/") else spark_path
            yield RawFile(info.path, source, event_type, readable), data, text


def find_lines(lake: Lake, event_types: Iterable[str], user_ids: Iterable[str]) -> dict[RawFile, list[int]]:
    """{raw file: numbers of its lines that mention any of user_ids}, files with none left out."""
    marks = needles(user_ids)
    found = {}
    for raw, _, text in raw_files(lake, event_types):
        lines = mentioning(text, marks)
        if lines:
            found[raw] = lines
    return found


def rewrite_without(lake: Lake, raw: RawFile, user_ids: Iterable[str]) -> int:
    """Rewrite one raw file without the lines that mention user_ids; the lines removed.
    The new file replaces the old whole: a rename on a local disk, one PUT on S3, so a
    reader sees the old file or the new one. A readable file left with no line is
    deleted."""
    fs, _ = lake.arrow_fs()
    if fs.get_file_info(raw.path).type == pafs.FileType.NotFound:
        return 0  # deleted by an earlier run
    with fs.open_input_stream(raw.path, compression=None) as f:
        data = f.read()
    text, _ = _decode(data)
    lines = mentioning(text, needles(user_ids))
    if not lines:
        return 0  # already rewritten (a rerun)
    kept = without_lines(text, lines)
    if raw.readable and not kept.strip():
        # Nothing left: an empty file would be quarantined as one (empty_file) on a rerun.
        fs.delete_file(raw.path)
        return len(lines)
    new = _encode(kept, raw, data)
    if lake.is_s3:
        with fs.open_output_stream(raw.path, compression=None) as out:
            out.write(new)
    else:
        temporary = raw.path + ".erasing"  # not *.jsonl.gz: no reader lists it
        with fs.open_output_stream(temporary, compression=None) as out:
            out.write(new)
        fs.move(temporary, raw.path)
    return len(lines)
