"""The model registry in the lake (docs/prediction.md): every trained version is a folder
with its artifact and its card (metrics, features, training window); `current.json` names
the promoted version. The pointer is written last, so a reader sees an old version or a
new one, never half of one. Works on any lake (local or S3) through pyarrow's filesystem.

    models/<name>/versions/<version>/model.joblib   the pickled model (prediction.models)
    models/<name>/versions/<version>/card.json      what it is and how it scored
    models/<name>/versions/<version>/*.png          its evaluation plots
    models/<name>/candidate.json                     the last trained version, awaiting promotion
    models/<name>/current.json                       {"version": ..., "promoted_at": ...}
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import joblib
import pyarrow.fs as pafs

from spark_jobs.lake import Lake

MODELS_DIR = "models"
CTR = "ctr"  # the click model
CVR = "cvr"  # the conversion-given-click model


@dataclass(frozen=True)
class Registry:
    lake: Lake
    name: str = CTR

    def _base(self) -> tuple[pafs.FileSystem, str]:
        fs, base = self.lake.arrow_fs()
        return fs, f"{base}/{MODELS_DIR}/{self.name}"

    def _write(self, path: str, data: bytes) -> None:
        fs, _ = self._base()
        fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        if isinstance(fs, pafs.LocalFileSystem):
            tmp = f"{path}.tmp-{time.time_ns()}"
            with fs.open_output_stream(tmp) as f:
                f.write(data)
            fs.move(tmp, path)  # a rename: atomic on one local filesystem
        else:
            with fs.open_output_stream(path) as f:  # one PUT: atomic on S3
                f.write(data)

    def _read(self, path: str) -> bytes | None:
        fs, _ = self._base()
        try:
            with fs.open_input_stream(path) as f:
                return f.read()
        except FileNotFoundError:
            return None

    def save(self, model: object, card: dict) -> str:
        """Store a new version (artifact, then card); returns its id. Not promoted yet."""
        version = datetime.now(UTC).strftime("v%Y%m%dT%H%M%S%fZ")
        _, base = self._base()
        buf = io.BytesIO()
        joblib.dump(model, buf, compress=3)
        self._write(f"{base}/versions/{version}/model.joblib", buf.getvalue())
        self._write(f"{base}/versions/{version}/card.json", json.dumps({**card, "version": version}).encode())
        return version

    def attach(self, version: str, filename: str, data: bytes) -> str:
        """Store a file beside a version (its plots); returns its path in the lake."""
        _, base = self._base()
        path = f"{base}/versions/{version}/{filename}"
        self._write(path, data)
        return path

    def card(self, version: str) -> dict | None:
        _, base = self._base()
        data = self._read(f"{base}/versions/{version}/card.json")
        return json.loads(data) if data else None

    def load(self, version: str) -> object:
        _, base = self._base()
        data = self._read(f"{base}/versions/{version}/model.joblib")
        if data is None:
            raise FileNotFoundError(f"model {self.name} version {version} is not in the registry")
        return joblib.load(io.BytesIO(data))

    def _pointer(self, name: str) -> str | None:
        _, base = self._base()
        data = self._read(f"{base}/{name}.json")
        return json.loads(data)["version"] if data else None

    def _point(self, name: str, version: str, **extra: str) -> None:
        if self.card(version) is None:
            raise FileNotFoundError(f"model {self.name} version {version} is not in the registry")
        _, base = self._base()
        pointer = {"version": version, f"{name}_at": datetime.now(UTC).isoformat(), **extra}
        self._write(f"{base}/{name}.json", json.dumps(pointer).encode())

    def current(self) -> str | None:
        """The promoted version, or None before the first promotion."""
        return self._pointer("current")

    def candidate(self) -> str | None:
        """The version trained last (promoted or not)."""
        return self._pointer("candidate")

    def nominate(self, version: str) -> None:
        self._point("candidate", version)

    def promote(self, version: str) -> None:
        self._point("current", version)

    def versions(self) -> list[str]:
        fs, base = self._base()
        sel = pafs.FileSelector(f"{base}/versions", allow_not_found=True)
        return sorted(i.base_name for i in fs.get_file_info(sel) if i.type == pafs.FileType.Directory)
