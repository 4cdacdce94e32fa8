"""Which raw files of a window can be read, and how many lines each holds. Each file is
decompressed once (ISA-L, about a second per GB), before Spark reads the window, so a
corrupt, truncated or empty file is quarantined as a whole (one row naming the file and
why) and the rest of the partition loads. Left to Spark, one bad gzip fails the whole job,
and `ignoreCorruptFiles` would drop it silently.

The line counts come from the same decompression: the raw side of the raw -> bronze
reconciliation, counted by a second reader rather than by the Spark job that parses. A
process keeps each file's verdict by (path, size, modification time), so the raw asset,
bronze and the chain check of one run decompress a file once."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from datetime import date

import pyarrow.fs as pafs
from isal import igzip

from spark_jobs.lake import Lake

EMPTY_FILE = "empty_file"
UNREADABLE_FILE = "unreadable_file"


@dataclass(frozen=True)
class UnreadableFile:
    path: str  # as Spark reads it
    arrival_date: date
    arrival_hour: int
    reason: str

    @property
    def source_file(self) -> str:
        """The file as Spark's `_metadata.file_path` names it (bronze's `_source_file`)."""
        return f"file:{self.path}" if self.path.startswith("/") else self.path


@dataclass
class RawFiles:
    readable: list[str] = field(default_factory=list)  # Spark paths
    unreadable: list[UnreadableFile] = field(default_factory=list)
    lines: dict[date, int] = field(default_factory=dict)  # per arrival date, readable files


def count_lines(text: bytes) -> int:
    """Lines as Spark's text reader splits them: at \n, \r or \r\n, the last one
    counted whether or not it ends with a terminator."""
    if not text:
        return 0
    breaks = text.count(b"\n") + text.count(b"\r") - text.count(b"\r\n")
    return breaks + (0 if text.endswith((b"\n", b"\r")) else 1)


def check_gzip(data: bytes) -> tuple[str | None, int]:
    """(None, lines) for a gzip file with at least one line, else (the quarantine reason, 0)."""
    try:
        text = igzip.decompress(data)
    except EOFError as e:
        return f"{UNREADABLE_FILE}: truncated gzip ({e})", 0
    except (igzip.BadGzipFile, OSError, zlib.error) as e:
        return f"{UNREADABLE_FILE}: not gzip ({e})", 0
    return (None, count_lines(text)) if text.strip() else (EMPTY_FILE, 0)


# (path, size, mtime) -> check_gzip's verdict; a re-delivered file has a new size or mtime.
_verdicts: dict[tuple[str, int, object], tuple[str | None, int]] = {}


def _verdict(fs: pafs.FileSystem, info: pafs.FileInfo) -> tuple[str | None, int]:
    key = (info.path, info.size, info.mtime_ns)
    if key not in _verdicts:
        with fs.open_input_stream(info.path, compression=None) as f:
            _verdicts[key] = check_gzip(f.read())
    return _verdicts[key]


def inspect_raw_files(lake: Lake, event_type: str, dates: list[date]) -> RawFiles:
    fs, base = lake.arrow_fs()
    out = RawFiles()
    for day in dates:
        folder = f"{base}/raw/{event_type}/dt={day.isoformat()}"
        infos = fs.get_file_info(pafs.FileSelector(folder, recursive=True, allow_not_found=True))
        for info in sorted(
            (i for i in infos if i.is_file and i.path.endswith(".jsonl.gz")), key=lambda i: i.path
        ):
            spark_path = lake.spark_path(info.path[len(base) + 1 :])
            reason, lines = _verdict(fs, info)
            if reason is None:
                out.readable.append(spark_path)
                out.lines[day] = out.lines.get(day, 0) + lines
            else:
                hour = int(info.path.rsplit("/hour=", 1)[1].split("/", 1)[0])
                out.unreadable.append(UnreadableFile(spark_path, day, hour, reason))
    return out
