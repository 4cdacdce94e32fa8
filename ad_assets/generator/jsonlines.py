"""Events -> JSON Lines, column-wise, without a Python object per line. The wire shape is
the one polars' write_ndjson gave (flat columns; bid requests nested the OpenRTB way), byte
for byte: same keys in the same order, no spaces, floats as polars formats them, NaN as null.

Lines are laid out in a byte matrix, one row per line and one slot per piece (keys, an id,
a timestamp, a value): each slot is as wide as the piece's widest value and NUL bytes pad
it. Each slot is filled for all rows at once, as one fixed-size item per row: categorical
values are written once per distinct value (a run of neighbouring ones once per
combination) and gathered by code; ids, times and numbers come as ASCII blocks
(textblocks.py). Dropping the NULs leaves the lines back to back, ready to gzip; JSON text
never contains a NUL byte. Lines are made a batch of rows at a time, so the matrix stays
in cache."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property, lru_cache

import numpy as np

from ad_assets.generator.catalog import USER_AGENTS
from ad_assets.generator.columns import Coded, Column, HexIds
from ad_assets.generator.textblocks import (
    as_items,
    fixed_texts,
    float_ascii,
    int_ascii,
    iso_timestamps,
    item_view,
)

MAX_COMBINATIONS = 4096  # distinct values of one group of categorical columns, at most
CHUNK_BYTES = 1 << 21  # matrix bytes per batch of lines: the batch stays in cache


def lines_of(event_type: str, cols: dict[str, Column]) -> LineWriter:
    """A writer of the event type's JSON lines for rows of these columns."""
    w = LineWriter(len(cols["event_ts"]))
    layout = _bid_request if event_type == "bid_request" else _flat
    layout(w, event_type, cols)
    return w


# --- wire layouts ----------------------------------------------------------------------


def _flat(w: LineWriter, event_type: str, c: dict[str, Column]) -> None:
    _head(w, event_type, c)
    for name, col in c.items():
        if name not in ("event_id", "event_ts"):
            w.text(f',"{name}":')
            w.value(col)
    w.text("}\n")


def _bid_request(w: LineWriter, event_type: str, c: dict[str, Column]) -> None:
    _head(w, event_type, c)
    for name in ("request_id", "imp_id", "bidfloor_cpm", "placement_id", "ad_format", "channel"):
        w.text(f',"{name}":')
        w.value(c[name])
    w.text(",")
    w.group(_site_and_app, c["publisher_is_app"], c["publisher_domain"], c["publisher_id"])
    w.text(',"device":')
    w.group(_device, c["device_type"], c["os"], c["country"])
    w.text(',"user":{"id":')
    w.value(c["user_id"])
    w.text(',"consent":')
    w.value(c["consent"])
    w.text('},"regs":{"gdpr":')
    w.value(c["gdpr"])
    w.text('},"is_test":')
    w.value(c["is_test"])
    w.text("}\n")


def _head(w: LineWriter, event_type: str, c: dict[str, Column]) -> None:
    w.text('{"event_id":')
    w.value(c["event_id"])
    w.text(f',"event_type":{_quoted(event_type)},"event_ts":"')
    w.timestamps(c["event_ts"])
    w.text('Z"')


def _site_and_app(is_app: bool, domain: str, publisher: str) -> str:
    publisher_obj = f'"publisher":{{"id":{_quoted(publisher)}}}'
    if is_app:
        return f'"site":null,"app":{{"bundle":{_quoted(domain)},{publisher_obj}}}'
    return f'"site":{{"domain":{_quoted(domain)},{publisher_obj}}},"app":null'


def _device(device: str, os: str, country: str) -> str:
    ua = USER_AGENTS.get(os, "")
    return (
        f'{{"devicetype":{_quoted(device)},"os":{_quoted(os)},"ua":{_quoted(ua)},'
        f'"geo":{{"country":{_quoted(country)}}}}}'
    )


def _quoted(s: str) -> str:
    """A JSON string. Our vocabularies need no escapes; a value that does would have to be
    escaped exactly as polars does, so it is refused rather than guessed at."""
    if not (s.isascii() and s.isprintable()) or '"' in s or "\\" in s:
        raise ValueError(f"value needs JSON escaping: {s!r}")
    return f'"{s}"'


def _json_value(v: object) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, int | np.integer):
        return str(int(v))
    return _quoted(str(v))


def _full(block: np.ndarray) -> tuple[np.ndarray, int]:
    """A block whose values all fill its width."""
    return block, block.shape[1]


# --- the writer --------------------------------------------------------------------------

Rows = np.ndarray  # row indices into the columns
Items = tuple[np.ndarray | np.void, np.ndarray | int]  # an item per row (or one for all), lengths


class _Slot:
    """One piece of every line, `width` bytes of the line's matrix row."""

    def items(self, rows: Rows) -> Items:
        raise NotImplementedError


class _Text(_Slot):
    def __init__(self, text: str) -> None:
        self.text = np.void(text.encode())

    def items(self, rows: Rows) -> Items:
        return self.text, self.text.itemsize


class _Block(_Slot):
    """Made per batch of rows: a (rows, width) ASCII block, NUL where a value is shorter,
    and the values' lengths (or the width, if all fill it)."""

    def __init__(self, make: Callable[[Rows], tuple[np.ndarray, np.ndarray | int]]) -> None:
        self.make = make

    def items(self, rows: Rows) -> Items:
        block, lengths = self.make(rows)
        return as_items(block), lengths


class _Choice(_Slot):
    """table[code] per row: the table laid out once, NUL-padded to its widest entry."""

    def __init__(self, codes: np.ndarray, table: list[str]) -> None:
        self.codes = codes
        width = max(len(t) for t in table)
        self.table = fixed_texts(table, width)
        self.lengths = np.array([len(t) for t in table])

    def items(self, rows: Rows) -> Items:
        codes = self.codes[rows]
        return self.table[codes], self.lengths[codes]


class _Choices:
    """Neighbouring categorical values (and the text between them) as one slot: the
    combination of their columns' codes picks the text. Columns on the same codes count
    once, so a run of placement fields costs what one field does."""

    def __init__(self) -> None:
        self.parts: list[np.ndarray] = []  # distinct code arrays
        self.sizes: list[int] = []  # values each part can take
        # (parts it depends on, its text for each combination of their codes)
        self.segments: list[tuple[tuple[int, ...], np.ndarray]] = []

    def add(self, cols: tuple[Coded, ...]) -> tuple[int, ...] | None:
        """Each column's part (codes new to the run become parts), or None, changing
        nothing, if that would make too many combinations."""
        new = {id(c.codes): len(c.values) for c in cols if not any(p is c.codes for p in self.parts)}
        if int(np.prod(self.sizes)) * int(np.prod(list(new.values()))) > MAX_COMBINATIONS:
            return None
        at = []
        for c in cols:
            i = next((i for i, p in enumerate(self.parts) if p is c.codes), None)
            if i is None:
                self.parts.append(c.codes)
                self.sizes.append(0)
                i = len(self.parts) - 1
            self.sizes[i] = max(self.sizes[i], len(c.values))
            at.append(i)
        return tuple(at)

    def text(self, s: str) -> None:
        self.segments.append(((), np.array(s)))

    def slot(self, n: int) -> _Slot:
        """Codes: the combination's number (mixed radix); its text from every segment."""
        if not self.parts:
            return _Text("".join(str(t) for _, t in self.segments))
        codes = np.zeros(n, dtype=np.int64)
        for p, size in zip(self.parts, self.sizes, strict=True):
            codes = codes * size + p
        digits = np.indices(self.sizes).reshape(len(self.sizes), -1)
        texts = np.array("")
        for axes, table in self.segments:
            # A code past a shorter table never occurs with it: any entry will do there.
            at = tuple(np.minimum(digits[a], table.shape[k] - 1) for k, a in enumerate(axes))
            texts = np.char.add(texts, table[at] if axes else table)
        return _Choice(codes, np.broadcast_to(texts, digits.shape[1:]).tolist())


def _key(values: np.ndarray) -> tuple[str, tuple[object, ...]]:
    """A vocabulary as a cache key (the kind matters: False == 0 in Python)."""
    return values.dtype.kind, tuple(values.tolist())


@lru_cache(maxsize=1024)
def _json_values(values: tuple[str, tuple[object, ...]]) -> np.ndarray:
    return np.array([_json_value(v) for v in values[1]])


@lru_cache(maxsize=256)
def _formatted(
    fmt: Callable[..., str], at: tuple[int, ...], values: tuple[tuple[str, tuple[object, ...]], ...]
) -> np.ndarray:
    """fmt over every combination of the distinct parts `at` maps the columns to."""
    axes = sorted(set(at))
    vocab = [v for _, v in values]
    shape = [max(len(v) for v, a in zip(vocab, at, strict=True) if a == axis) for axis in axes]
    out = np.empty(shape, dtype=object)
    for combo in np.ndindex(*shape):
        digit = dict(zip(axes, combo, strict=True))
        out[combo] = fmt(*(v[min(digit[a], len(v) - 1)] for v, a in zip(vocab, at, strict=True)))
    return out.astype(str)


class LineWriter:
    """Lines of rows of one batch of columns. The layout (slots, tables of categorical
    values) is made once; `write` then fills it for any rows."""

    def __init__(self, n: int) -> None:
        self.n = n  # rows in the columns
        self.pieces: list[str | _Slot | _Choices] = []  # the layout as it is being made
        self.scratch = np.empty(0, dtype=np.uint8)  # the matrix's memory, reused
        self.mask = np.empty(0, dtype=np.bool_)

    @cached_property
    def slots(self) -> list[_Slot]:
        """The layout, made final on first use."""
        return [
            _Text(p) if isinstance(p, str) else p.slot(self.n) if isinstance(p, _Choices) else p
            for p in self.pieces
        ]

    def write(self, rows: Rows) -> tuple[np.ndarray, np.ndarray]:
        """The lines of `rows`, in that order: (their bytes back to back, each line's end)."""
        n = len(rows)
        items = [slot.items(rows) for slot in self.slots]
        widths = [v.dtype.itemsize for v, _ in items]
        matrix = self._scratch(n, sum(widths))
        at = 0
        for (v, _), width in zip(items, widths, strict=True):
            item_view(matrix, at, width)[...] = v
            at += width
        lengths = np.zeros(n, dtype=np.int64)
        for _, length in items:
            lengths += length
        flat = matrix.reshape(-1)
        np.not_equal(flat, 0, out=self.mask[: len(flat)])
        return flat[self.mask[: len(flat)]], np.cumsum(lengths)

    def batch_rows(self) -> int:
        """Rows per call of `write` that keep its matrix near CHUNK_BYTES."""
        width = sum(s.table.itemsize if isinstance(s, _Choice) else 24 for s in self.slots)
        return max(1024, CHUNK_BYTES // width)

    def _scratch(self, n: int, width: int) -> np.ndarray:
        if len(self.scratch) < n * width:
            self.scratch = np.empty(n * width, dtype=np.uint8)
            self.mask = np.empty(n * width, dtype=np.bool_)
        return self.scratch[: n * width].reshape(n, width)

    # Layout.

    def text(self, s: str) -> None:
        last = self.pieces[-1] if self.pieces else None
        if isinstance(last, _Choices):
            last.text(s)
        elif isinstance(last, str):
            self.pieces[-1] = last + s
        else:
            self.pieces.append(s)

    def value(self, col: Column) -> None:
        """A column's JSON values."""
        if isinstance(col, HexIds):
            self.text(f'"{col.prefix}')
            self.pieces.append(_Block(lambda rows: _full(col.take(rows).hex_ascii())))
            self.text('"')
        elif isinstance(col, Coded) or col.dtype == np.bool_ or _small_int_range(col):
            c = _as_coded(col)
            self.choice(_json_values(_key(c.values)), c)
        elif col.dtype.kind in "iu":
            self.pieces.append(_Block(lambda rows: int_ascii(col[rows])))
        elif col.dtype.kind == "f":
            self.pieces.append(_Block(lambda rows: float_ascii(col[rows])))
        else:
            raise TypeError(f"no JSON writer for {col.dtype}")

    def timestamps(self, ts: np.ndarray) -> None:
        self.pieces.append(_Block(lambda rows: _full(iso_timestamps(ts[rows]))))

    def group(self, fmt: Callable[..., str], *cols: Column) -> None:
        """fmt(the columns' values) per row, for categorical columns."""
        coded = [_as_coded(c) for c in cols]
        self.choice(lambda at: _formatted(fmt, at, tuple(_key(c.values) for c in coded)), *coded)

    def choice(self, table: np.ndarray | Callable[[tuple[int, ...]], np.ndarray], *cols: Coded) -> None:
        """A text per row, chosen by the columns' codes: `table` indexed by them (or made
        from where the columns' codes sit among the run's parts)."""
        run = self.pieces[-1] if self.pieces else None
        if not isinstance(run, _Choices) or not self._join(run, table, cols):
            run = _Choices()
            # Text just before joins the run: one slot fewer.
            if self.pieces and isinstance(self.pieces[-1], str):
                run.text(self.pieces.pop())
            if not self._join(run, table, cols):
                raise ValueError("a group's columns have too many combinations")
            self.pieces.append(run)

    @staticmethod
    def _join(run: _Choices, table: np.ndarray | Callable, cols: tuple[Coded, ...]) -> bool:
        at = run.add(cols)
        if at is None:
            return False
        if callable(table):
            run.segments.append((tuple(sorted(set(at))), table(at)))
        else:
            run.segments.append((at, table))
        return True


def _as_coded(col: Column) -> Coded:
    if isinstance(col, Coded):
        return col
    if isinstance(col, np.ndarray) and col.dtype == np.bool_:
        return Coded(col.view(np.uint8), np.array([False, True]))
    if isinstance(col, np.ndarray) and _small_int_range(col):
        low = int(col.min())
        return Coded(col.astype(np.int64) - low, np.arange(low, int(col.max()) + 1))
    raise TypeError("not a categorical column")


def _small_int_range(col: np.ndarray) -> bool:
    return col.dtype.kind in "iu" and len(col) > 0 and int(col.max()) - int(col.min()) < 256
