"""The HTTP collector: ad servers POST their log events; each is judged by the data
contract exactly as bronze will judge it (contracts.line_problems), then produced, as the
bytes it came in, to its event type's Kafka topic (stream_layout.topic, keyed by
message_key). Imports neither Dagster, Spark nor dbt.

Guarantees (docs/streaming.md):
- All or nothing per request: if any event breaks the contract, the answer is 422 naming
  each bad event (its line, event type and reason) and nothing is produced; the client
  fixes or drops those and posts again.
- Nothing lost once acknowledged: 202 comes only after the broker acknowledged every event
  (acks=all, idempotent producer). If any delivery fails or does not finish in time, the
  answer is 503 and the client posts the whole request again; the events that did arrive
  arrive twice, which is fine: the stream and the lake deduplicate by event_id.

Routes: POST /v1/events, GET /health, and FastAPI's /docs and /openapi.json.
"""

from __future__ import annotations

import argparse
import json
import logging
import threading
import time
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from confluent_kafka import KafkaException, Producer
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from spark_jobs.contracts import EVENT_TYPES, line_problems
from spark_jobs.kafka_auth import KafkaAuth, client_config
from spark_jobs.spark_json import parse_line, spark_string
from spark_jobs.stream_layout import message_key, topic

log = logging.getLogger("adlake.collector")

MAX_BODY_BYTES = 10 * 1024 * 1024  # per request, after any gzip decoding
MAX_EVENTS = 50_000
# One event must fit in one Kafka message (librdkafka's message.max.bytes is 1,000,000,
# record overhead included): a larger one could never be delivered, however often posted.
MAX_EVENT_BYTES = 900_000
# How long a request waits for the broker's acknowledgements. Producer messages time out
# a little earlier (message.timeout.ms), so a broker that is down shows as a failed
# delivery within the request rather than as a late one after it.
DELIVERY_TIMEOUT_S = 15.0
PRODUCER_DEFAULTS: dict[str, object] = {
    "acks": "all",
    "enable.idempotence": True,  # a retried send is written once, in order
    "linger.ms": 5,  # a request's events go out in a few batches, not one by one
    # lz4 is built into librdkafka (zstd may not be); cheap on CPU, about 3x on these lines.
    "compression.type": "lz4",
    "queue.buffering.max.messages": 4 * MAX_EVENTS,
}
# Reasons of the collector's own, besides bronze's (contracts.line_problems):
UNKNOWN_EVENT_TYPE = "unknown_event_type"  # event_type missing or not one of EVENT_TYPES
TOO_LARGE = "too_large"  # over MAX_EVENT_BYTES

JSON_TYPES = frozenset({"application/json"})
LINES_TYPES = frozenset(
    {"application/x-ndjson", "application/ndjson", "application/jsonl", "application/x-jsonlines"}
    | {"text/plain"}
)
_JSON_WS = b" \t\r\n"


class Accepted(BaseModel):
    accepted: int


class LineError(BaseModel):
    line: int  # 1-based: the line of a JSON Lines body, the element of an array, 1 for one object
    event_type: str | None  # as the event names it (None when it does not)
    reason: str  # bronze's quarantine reason (contracts.line_problems), unknown_event_type or too_large


class Rejected(BaseModel):
    rejected: int
    errors: list[LineError]


class Problem(BaseModel):
    detail: str


class BodyError(Exception):
    """A request whose body cannot be read as events at all (not one event's fault)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


@dataclass(frozen=True)
class Event:
    line: int
    raw: bytes  # as posted (on one line, see one_line): produced without re-serialising


# --- reading a body -----------------------------------------------------------------------


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";")[0].strip().lower()


def split_events(body: bytes, media: str, max_events: int = MAX_EVENTS) -> list[Event]:
    """The events of a body: JSON Lines (one event per line, blank lines skipped), or
    JSON (one object, or an array of them)."""
    if media in LINES_TYPES:
        events = [
            Event(n, raw.removesuffix(b"\r"))
            for n, raw in enumerate(body.split(b"\n"), start=1)
            if raw.strip(_JSON_WS)
        ]
    elif media in JSON_TYPES or media.endswith("+json"):
        events = _json_events(body)
    else:
        sent = media or "(none)"
        raise BodyError(415, f"Content-Type {sent}: send application/json or application/x-ndjson")
    if len(events) > max_events:
        raise BodyError(413, f"{len(events)} events in one request; at most {max_events}")
    return events


_ARRAY_DECODER = json.JSONDecoder(strict=False)  # raw control characters: line_problems' call


def one_line(raw: bytes) -> bytes:
    """A JSON text on one line, the same value: line breaks between tokens dropped, those
    inside a string escaped (\\n, \\r). The raw layout is one event per line: an event posted
    pretty-printed would otherwise land as several broken lines."""
    if b"\n" not in raw and b"\r" not in raw:
        return raw
    out = bytearray()
    in_string = escaped = False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
            elif byte in (0x0A, 0x0D):
                out += b"\\n" if byte == 0x0A else b"\\r"
                continue
        elif byte == 0x22:
            in_string = True
        elif byte in (0x0A, 0x0D):
            continue
        out.append(byte)
    return bytes(out)


def _json_events(body: bytes) -> list[Event]:
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as ex:
        raise BodyError(400, f"the body is not UTF-8: {ex}") from None
    start = _skip_ws(text, 0)
    if start == len(text):
        raise BodyError(400, "empty body")
    if text[start] != "[":
        return [Event(1, one_line(text[start:].rstrip(" \t\r\n").encode()))]
    # An array: each element's own text (its original bytes: UTF-8 decodes and encodes back
    # exactly), found by decoding one element at a time.
    events: list[Event] = []
    i = _skip_ws(text, start + 1)
    if text.startswith("]", i):
        return events
    while True:
        try:
            _, end = _ARRAY_DECODER.raw_decode(text, i)
        except ValueError as ex:
            raise BodyError(400, f"the body is not a JSON array (element {len(events) + 1}): {ex}") from None
        events.append(Event(len(events) + 1, one_line(text[i:end].encode())))
        i = _skip_ws(text, end)
        if text.startswith(",", i):
            i = _skip_ws(text, i + 1)
        elif text.startswith("]", i) and _skip_ws(text, i + 1) == len(text):
            return events
        else:
            raise BodyError(400, f"the body is not a JSON array: unexpected text at character {i}")


def _skip_ws(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t\r\n":
        i += 1
    return i


@dataclass(frozen=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def judge(events: list[Event]) -> tuple[list[Message], list[LineError]]:
    """Each event's topic and key, or why it is rejected (as bronze would quarantine it)."""
    messages: list[Message] = []
    errors: list[LineError] = []
    for ev in events:
        parsed = parse_line(ev.raw)
        event_type = spark_string(parsed.root.get("event_type")) if parsed.root is not None else None
        if parsed.root is None:
            reason = "malformed_json"
        elif event_type not in EVENT_TYPES:
            reason = UNKNOWN_EVENT_TYPE
        else:
            reason = line_problems(event_type, parsed)
        if reason is None and len(ev.raw) > MAX_EVENT_BYTES:
            reason = TOO_LARGE
        if reason is not None:
            errors.append(LineError(line=ev.line, event_type=event_type, reason=reason))
        elif not errors:  # once one fails nothing is produced: stop building messages
            key = message_key(parsed.root).encode("utf-8", "replace")
            messages.append(Message(topic(event_type), key, ev.raw))
    return messages, errors


# --- Kafka --------------------------------------------------------------------------------


class _Deliveries:
    """Delivery reports of one request's messages (called on the poller thread)."""

    def __init__(self, expected: int) -> None:
        self.pending = expected
        self.failure: str | None = None
        self.done = threading.Event()
        self._lock = threading.Lock()
        if expected == 0:
            self.done.set()

    def report(self, err, msg) -> None:
        with self._lock:
            if err is not None and self.failure is None:
                self.failure = f"delivery to {msg.topic()} failed: {err.str()}"
            self.pending -= 1
            if self.pending == 0:
                self.done.set()


class KafkaSink:
    """One idempotent producer for the app; a background thread serves its delivery
    reports, so that each request waits for its own messages only."""

    def __init__(self, producer_config: dict, delivery_timeout: float = DELIVERY_TIMEOUT_S) -> None:
        self.delivery_timeout = delivery_timeout
        config = {
            **PRODUCER_DEFAULTS,
            "message.timeout.ms": int(max(1.0, delivery_timeout - 2.0) * 1000),
            # librdkafka's own log (a broker down, say) as Python log records, not stderr.
            "logger": logging.getLogger("adlake.collector.kafka"),
            **producer_config,
        }
        self.producer = Producer(config)
        self._stop = threading.Event()
        self._poller = threading.Thread(target=self._poll, name="kafka-delivery-reports", daemon=True)
        self._poller.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.producer.poll(0.1)

    def send(self, messages: list[Message]) -> str | None:
        """Produce and wait for every acknowledgement: None when all are delivered, else why not."""
        deliveries = _Deliveries(len(messages))
        deadline = time.monotonic() + self.delivery_timeout
        produce = self.producer.produce
        for m in messages:
            while True:
                try:
                    produce(m.topic, m.value, m.key, on_delivery=deliveries.report)
                    break
                except BufferError:  # the local queue is full: the poller drains it
                    if time.monotonic() > deadline:
                        return "the producer's queue stayed full"
                    time.sleep(0.005)
                except KafkaException as ex:
                    return f"produce to {m.topic} failed: {ex}"
        if not deliveries.done.wait(max(0.0, deadline - time.monotonic())):
            waited = f"{self.delivery_timeout:g} s"
            return f"{deliveries.pending} of {len(messages)} deliveries unconfirmed after {waited}"
        return deliveries.failure

    def health(self, timeout: float = 2.0) -> tuple[bool, dict]:
        """Whether the broker answers and has every event topic."""
        try:
            md = self.producer.list_topics(timeout=timeout)
        except KafkaException as ex:
            return False, {"detail": f"broker unreachable: {ex}"}
        missing = sorted(topic(t) for t in EVENT_TYPES if topic(t) not in md.topics)
        info = {"brokers": len(md.brokers), "missing_topics": missing}
        return not missing and bool(md.brokers), info

    def close(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._poller.join()
        left = self.producer.flush(timeout)
        if left:
            log.warning("collector stopped with %d messages undelivered (their requests got 503)", left)


# --- the app ------------------------------------------------------------------------------

_EVENTS_BODY = {
    "requestBody": {
        "required": True,
        "description": "One event (a JSON object), a JSON array of events, or JSON Lines (one event per "
        "line). Each event names its type in `event_type`. Content-Encoding: gzip is accepted.",
        "content": {
            "application/json": {"schema": {"oneOf": [{"type": "object"}, {"type": "array", "items": {}}]}},
            "application/x-ndjson": {"schema": {"type": "string"}},
            "text/plain": {"schema": {"type": "string"}},
        },
    }
}


def create_app(
    producer_config: dict,
    *,
    delivery_timeout: float = DELIVERY_TIMEOUT_S,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_events: int = MAX_EVENTS,
) -> FastAPI:
    """The collector app; its producer (`producer_config` over PRODUCER_DEFAULTS, at least
    bootstrap.servers) is created at startup and flushed at shutdown."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.sink = KafkaSink(producer_config, delivery_timeout)
        try:
            yield
        finally:
            await run_in_threadpool(app.state.sink.close)
            app.state.sink = None  # the producer goes (and stops reconnecting) with the app

    app = FastAPI(
        title="AdLake collector",
        version="1",
        description=(__doc__ or "").split("\n\n", 1)[-1],
        lifespan=lifespan,
    )

    @app.post(
        "/v1/events",
        status_code=202,
        response_model=Accepted,
        openapi_extra=_EVENTS_BODY,
        responses={
            400: {"model": Problem, "description": "The body cannot be read as events"},
            413: {"model": Problem, "description": f"Over {max_body_bytes} bytes or {max_events} events"},
            415: {"model": Problem, "description": "Not JSON or JSON Lines"},
            422: {"model": Rejected, "description": "Events that break the contract; none was produced"},
            503: {"model": Problem, "description": "Not every event reached Kafka: post the request again"},
        },
    )
    async def post_events(request: Request):
        """Validate every event, then produce them all and answer once Kafka has them."""
        try:
            body = await _read_body(request, max_body_bytes)
            media = media_type(request.headers.get("content-type"))
            outcome = await run_in_threadpool(_handle, app.state.sink, body, media, max_events)
        except BodyError as ex:
            return JSONResponse({"detail": ex.detail}, status_code=ex.status)
        return outcome

    @app.get("/health", responses={503: {"description": "The broker is unreachable or lacks a topic"}})
    async def health():
        """200 when the producer reaches the broker and every event topic exists."""
        ok, info = await run_in_threadpool(app.state.sink.health)
        return JSONResponse({"status": "ok" if ok else "unavailable", **info}, status_code=200 if ok else 503)

    return app


def _handle(sink: KafkaSink, body: bytes, media: str, max_events: int) -> JSONResponse:
    events = split_events(body, media, max_events)
    messages, errors = judge(events)
    if errors:
        log.info("rejected a request of %d events: %d break the contract", len(events), len(errors))
        rejected = Rejected(rejected=len(errors), errors=errors)
        return JSONResponse(rejected.model_dump(), status_code=422)
    failure = sink.send(messages)
    if failure is not None:
        log.warning("answered 503 to a request of %d events: %s", len(messages), failure)
        return JSONResponse({"detail": failure}, status_code=503, headers={"Retry-After": "1"})
    return JSONResponse({"accepted": len(messages)}, status_code=202)


async def _read_body(request: Request, limit: int) -> bytes:
    """The body, gzip decoded if it says so; 413 past `limit` bytes (read no further)."""
    declared = request.headers.get("content-length")
    gzipped = request.headers.get("content-encoding", "").strip().lower() == "gzip"
    if declared is not None and declared.isdigit() and not gzipped and int(declared) > limit:
        raise BodyError(413, f"the body has {declared} bytes; at most {limit}")
    inflate = zlib.decompressobj(wbits=31) if gzipped else None
    parts: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            if inflate is not None:
                chunk = inflate.decompress(chunk, limit + 1 - size)
            size += len(chunk)
            if size > limit:
                raise BodyError(413, f"the body has more than {limit} bytes")
            parts.append(chunk)
        if inflate is not None and not inflate.eof:
            raise BodyError(400, "truncated gzip body")
        if inflate is not None and inflate.unused_data:
            # Events past the first gzip member would otherwise be dropped unseen.
            raise BodyError(400, "a gzip body of several members: send one member (one gzip stream)")
    except zlib.error as ex:
        raise BodyError(400, f"bad gzip body: {ex}") from None
    return b"".join(parts)


def serve_collector(
    host: str = "127.0.0.1",
    port: int = 8088,
    bootstrap: str = "127.0.0.1:9092",
    producer_config: dict | None = None,
    log_level: str = "info",
    auth: KafkaAuth | None = None,
) -> None:
    """Run the collector with uvicorn until interrupted. `auth` None: the process's
    ADLAKE_KAFKA_AUTH (spark_jobs/kafka_auth.py), read here at the edge (MSK's IAM on AWS)."""
    import uvicorn

    app = create_app({**client_config(bootstrap, auth), **(producer_config or {})})
    uvicorn.run(app, host=host, port=port, log_level=log_level)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m serving.collector", description="AdLake's collector")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--kafka", default="127.0.0.1:9092", help="bootstrap servers")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    serve_collector(args.host, args.port, args.kafka)


if __name__ == "__main__":
    main()
