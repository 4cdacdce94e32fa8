"""Which raw files of a window can be read. Each file is decompressed once, before Spark
reads the window, so a corrupt, truncated or empty file is quarantined as a whole (one row
naming the file and why) and the rest of the partition loads. Left to Spark, one bad gzip
fails the whole job, and `ignoreCorruptFiles` would drop it silently."""

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


def check_gzip(data: bytes) -> str | None:
    """None for a gzip file with at least one line, else the quarantine reason."""
    try:
        text = igzip.decompress(data)
    except EOFError as e:
        return f"{UNREADABLE_FILE}: truncated gzip ({e})"
    except (igzip.BadGzipFile, OSError, zlib.error) as e:
        return f"{UNREADABLE_FILE}: not gzip ({e})"
    return None if text.strip() else EMPTY_FILE


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
            with fs.open_input_stream(info.path, compression=None) as f:
                reason = check_gzip(f.read())
            if reason is None:
                out.readable.append(spark_path)
            else:
                hour = int(info.path.rsplit("/hour=", 1)[1].split("/", 1)[0])
                out.unreadable.append(UnreadableFile(spark_path, day, hour, reason))
    return out
