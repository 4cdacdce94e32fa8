"""The prediction API (docs/prediction.md): pCTR and pCVR for impressions in the raw log
contract's shape, from the promoted models in the lake's registry and the counts in Redis's
online store. Imports neither Dagster, Spark nor dbt.

- POST /v1/predict: one impression or a list (at most MAX_BATCH) -> one pCTR each and, once
  a conversion model is promoted, one pCVR (conversion given a click; null before), with
  the model versions and the feature snapshot that produced them. A missing or invalid field gets
  422 naming it (pydantic's errors, in FastAPI's shape); fields the contract has but the
  model does not use are accepted and ignored, so a logged impression can be posted as is.
- GET /health: the model versions, the snapshot, this worker's feature cache (entries,
  hits, misses), and whether Redis answers.
- A model reloads when its `current.json` moves (polled every RELOAD_INTERVAL_S): the new one
  is loaded beside the old one and swapped in by one assignment, so no request fails or
  waits for it. Redis down or no snapshot yet: the features' documented defaults (the
  response says so in `features`), never an error.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC

import orjson
import redis
from fastapi import FastAPI, Request, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

import prediction  # noqa: F401  (OpenMP's wait policy, before the model's libraries load)
from ad_assets.privacy.pseudonyms import pseudonym
from prediction import online_store
from prediction.features import HOUR, serving_columns
from prediction.registry import CVR, Registry
from spark_jobs.consent import measurement_allowed

log = logging.getLogger("adlake.prediction_api")

MAX_BATCH = 1_000
# A worker is one Python process (one core at most): one per core.
DEFAULT_WORKERS = os.cpu_count() or 1
RELOAD_INTERVAL_S = 1.0
CACHE_ENTRIES = 1_000_000  # per worker; more empties the cache (online_store.LookupCache)
REDIS_TIMEOUT_S = 0.05  # a lookup slower than this serves defaults rather than a slow answer


class Impression(BaseModel):
    """The impression fields of the raw log contract (spark_jobs/contracts.py) the model
    reads; the others are allowed and ignored."""

    model_config = ConfigDict(extra="ignore")

    event_ts: AwareDatetime
    campaign_id: str = Field(min_length=1)
    impression_id: str | None = None
    creative_id: str | None = None
    publisher_id: str | None = None
    placement_id: str | None = None
    channel: str | None = None
    ad_format: str | None = None
    device_type: str | None = None
    os: str | None = None
    country: str | None = None
    user_id: str | None = None
    gdpr: int | None = Field(default=None, ge=0, le=1)
    consent: str | None = None


_BODY: TypeAdapter[Impression | list[Impression]] = TypeAdapter(Impression | list[Impression])
_BODY_SCHEMA = {"schema": _BODY.json_schema()}


class Prediction(BaseModel):
    impression_id: str | None
    p_ctr: float
    p_cvr: float | None  # given a click; null while no conversion model is promoted


class Predictions(BaseModel):
    model_version: str  # the CTR model's
    cvr_model_version: str | None
    features: str  # the online snapshot used, or why defaults were used
    predictions: list[Prediction]


@dataclass(frozen=True)
class Loaded:
    version: str
    model: object


class State:
    """What the app serves from; replaced piecewise by the reload task."""

    def __init__(
        self, registry: Registry, redis_url: str, hmac_key: bytes | None, cache_entries: int = CACHE_ENTRIES
    ) -> None:
        self.registry = registry
        self.cvr_registry = Registry(registry.lake, CVR)
        self.redis_url = redis_url
        self.hmac_key = hmac_key
        self.model: Loaded | None = None  # the CTR model
        self.cvr_model: Loaded | None = None
        self.snapshot: str | None = None
        # A blocking client, called from the event loop: one pipelined round trip on loopback
        # takes less than the asyncio client's own bookkeeping (profiled: docs/prediction.md).
        self.redis = redis.Redis.from_url(
            redis_url, socket_timeout=REDIS_TIMEOUT_S, socket_connect_timeout=REDIS_TIMEOUT_S
        )
        self.reloads = 0
        # This worker's reads of the current snapshot (0 entries: every lookup goes to Redis).
        self.lookups = online_store.LookupCache(cache_entries)

    def _newer(self, registry: Registry, served: Loaded | None) -> Loaded | None:
        """The promoted version when it is not the one served (blocking: run in a thread)."""
        version = registry.current()
        if not version or (served is not None and served.version == version):
            return None
        t = time.perf_counter()
        loaded = Loaded(version, registry.load(version))
        self.reloads += 1
        log.info("serving %s model %s (loaded in %.2fs)", registry.name, version, time.perf_counter() - t)
        return loaded

    def refresh_model(self) -> None:
        # One assignment each: a request sees the old model or the new one.
        if (ctr := self._newer(self.registry, self.model)) is not None:
            self.model = ctr
        if (cvr := self._newer(self.cvr_registry, self.cvr_model)) is not None:
            self.cvr_model = cvr

    def refresh_snapshot(self) -> None:
        try:
            self.snapshot = online_store.current_snapshot(self.redis)
        except (redis.RedisError, OSError):
            self.snapshot = None

    def refresh(self) -> None:
        try:
            self.refresh_model()
        except Exception:  # a half-written or unreadable version: keep serving the old one
            log.exception("model reload failed; still serving %s", self.model and self.model.version)
        self.refresh_snapshot()


def _for_model(imp: Impression, hmac_key: bytes | None) -> dict[str, object]:
    """The impression as the feature definitions name it: context, hour (UTC) and the user's
    pseudonym where measurement is allowed (as silver decides, spark_jobs/consent.py)."""
    row: dict[str, object] = imp.model_dump(exclude={"event_ts", "user_id", "gdpr", "consent"})
    row[HOUR] = str(imp.event_ts.astimezone(UTC).hour)
    allowed = measurement_allowed(imp.gdpr, imp.consent)
    row["user_pid"] = pseudonym(hmac_key, imp.user_id) if imp.user_id and hmac_key and allowed else None
    return row


def _lookup(state: State, rows: list[dict[str, object]]) -> tuple[list[dict[str, float]], str]:
    snapshot = state.snapshot
    if snapshot is None:
        return [{} for _ in rows], "defaults (no feature snapshot in Redis)"
    try:
        return state.lookups.lookup_many(state.redis, snapshot, rows), snapshot
    except (redis.RedisError, OSError) as ex:
        return [{} for _ in rows], f"defaults (Redis: {type(ex).__name__})"


def _error(status: int, detail: object) -> tuple[int, bytes]:
    return status, orjson.dumps({"detail": detail})  # FastAPI's error shape


def answer(state: State, body: bytes) -> tuple[int, bytes]:
    """POST /v1/predict: the status and JSON body for a request body. The body is validated
    in one pydantic call on its bytes; the answer is encoded in Predictions' shape (the
    OpenAPI schema) without validating it again."""
    try:
        parsed = _BODY.validate_json(body)
    except ValidationError as ex:
        errors = ex.errors(include_url=False, include_context=False)
        return _error(422, [{**e, "loc": ["body", *e["loc"]]} for e in errors])
    impressions = parsed if isinstance(parsed, list) else [parsed]
    if not impressions or len(impressions) > MAX_BATCH:
        return _error(422, f"send 1 to {MAX_BATCH} impressions")
    served = state.model
    if served is None:
        return _error(503, "no model promoted yet: run the train_models job (make run)")
    rows = [_for_model(i, state.hmac_key) for i in impressions]
    counts, features = _lookup(state, rows)
    columns = serving_columns(rows, counts)
    p_ctr = served.model.predict(columns).tolist()
    cvr = state.cvr_model
    p_cvr = cvr.model.predict(columns).tolist() if cvr else [None] * len(rows)
    out = {
        "model_version": served.version,
        "cvr_model_version": cvr and cvr.version,
        "features": features,
        "predictions": [
            {"impression_id": imp.impression_id, "p_ctr": c, "p_cvr": v}
            for imp, c, v in zip(impressions, p_ctr, p_cvr, strict=True)
        ],
    }
    return 200, orjson.dumps(out)


class PredictFastPath:
    """ASGI: POST /v1/predict answered directly by `answer`, everything else (the lifespan,
    /health, /docs) by the FastAPI app. Starlette's middleware and routing took a third of a
    prediction's time (profiled: docs/prediction.md#speed); the route behind it answers the
    same and documents the endpoint."""

    def __init__(self, app: FastAPI, state: State) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http" or scope["path"] != "/v1/predict" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        chunks = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        try:
            status, content = answer(self.state, b"".join(chunks))
        except Exception:  # a bug: a 500 with a log line, as FastAPI's own handler would
            log.exception("prediction failed")
            status, content = _error(500, "internal error")
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(content)).encode())]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": content})


def create_app(
    registry: Registry, redis_url: str, hmac_key: bytes | None, cache_entries: int = CACHE_ENTRIES
) -> PredictFastPath:
    state = State(registry, redis_url, hmac_key, cache_entries)

    async def keep_fresh() -> None:
        while True:
            await asyncio.sleep(RELOAD_INTERVAL_S)
            await run_in_threadpool(state.refresh)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(state.refresh)
        task = asyncio.create_task(keep_fresh())
        yield
        task.cancel()
        state.redis.close()

    app = FastAPI(title="AdLake prediction API", version="1", lifespan=lifespan)

    @app.post(
        "/v1/predict",
        response_model=Predictions,
        openapi_extra={
            "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
        },
    )
    async def predict(request: Request) -> Response:
        # Served by PredictFastPath in front of the app; this route gives /docs its schema and
        # answers the same, through the same function.
        status, content = answer(state, await request.body())
        return Response(content, status_code=status, media_type="application/json")

    @app.get("/health")
    async def health() -> dict[str, object]:
        try:
            redis_ok = bool(state.redis.ping())
        except (redis.RedisError, OSError):
            redis_ok = False
        model = state.model
        return {
            "status": "ok" if model else "no_model",
            "model_version": model and model.version,
            "cvr_model_version": state.cvr_model and state.cvr_model.version,
            "model_reloads": state.reloads,
            "feature_snapshot": state.snapshot,
            "feature_cache": {
                "entries": len(state.lookups.entries),
                "hits": state.lookups.hits,
                "misses": state.lookups.misses,
            },
            "redis": redis_ok,
        }

    return PredictFastPath(app, state)


def app_from_settings() -> PredictFastPath:
    """The app for the environment's settings (uvicorn's factory: each worker process builds
    its own, reading the settings once, here at the edge)."""
    from ad_assets.privacy.pseudonyms import read_key
    from ad_assets.settings import load_settings

    s = load_settings()
    key = read_key(s.home)
    if key is None:
        log.warning("no pseudonymisation key: user features are not looked up")
    # The bench switches the cache off with 0 to measure what it saves (docs/prediction.md).
    entries = int(os.environ.get("ADLAKE_FEATURE_CACHE_ENTRIES", CACHE_ENTRIES))
    return create_app(Registry(s.lake()), s.redis_url, key, entries)


def serve(host: str = "127.0.0.1", port: int = 8090, workers: int = 1, log_level: str = "info") -> None:
    """Run the API with uvicorn until interrupted; `workers` processes share the port."""
    import uvicorn

    uvicorn.run(
        "serving.prediction_api:app_from_settings",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.prediction_api", description=__doc__)
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve(port=args.port, workers=args.workers)


if __name__ == "__main__":
    main()
