"""What Spark makes of a raw JSON line, in pure Python (no Spark import): the reading and
the casts behind bronze's parse_lines, so that a service judges a line as bronze will
(contracts.line_problems). Mirrors Spark 4.2 (Jackson 2.21, Java 17); the agreement is
proven line by line by tests/unit/test_contract_agreement.py.

What bronze uses, and what this module mirrors of it:
- json_object_keys (Jackson, single quotes and unescaped control characters allowed, no
  NaN, no leading zeros, no comments): null unless the line starts with a complete,
  well-formed JSON object; text after the object's closing brace is never read.
- from_json with the all-string schema (Jackson through a UTF-8 Reader: single quotes and
  NaN allowed, control characters not): a scalar read as a string is its JSON text as
  Jackson re-serialises it (numbers normalised: `1.50` -> `1.5`, `1e2` -> `100.0`), an
  object or array read as a string is its JSON text, and a nested field of the schema
  that holds anything but an object or null fails the record (corrupt record).
- try_cast to int/bigint (ANSI rules under try: optional sign and ASCII digits only, no
  decimal point, surrounding whitespace and control characters trimmed, range-checked),
  to boolean (t/true/y/yes/1, f/false/n/no/0, trimmed, any case) and to double (Java's
  Double.valueOf grammar, hex included, or inf/infinity/nan in any case).
- try_to_timestamp with TIMESTAMP_FORMAT (java.time, strict resolver, case-insensitive):
  year of exactly 4 digits (more only with a sign), 2-digit month, day, hour, minute and
  second, an optional fraction of 1 to 6 digits, and `Z` or `+HH`/`+HHmm` (no colon).

A timestamp with a year MAX_TIMESTAMP_YEAR or more from 0 is null on both sides: bronze
guards try_to_timestamp, which raises where the microseconds overflow.

Known differences, all exotic:
- Jackson's 20,000,000-character limit on one string value is not mirrored.
- Text, not verdicts: a float read into a string column may differ from Java 17's
  Double.toString in its last digits, and objects read as strings are re-serialised
  approximately; whether the value casts is the same.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

# Jackson's StreamReadConstraints defaults (Spark's JSON options keep them).
MAX_DEPTH = 1000
MAX_NUMBER_DIGITS = 1000
MAX_NAME_LENGTH = 50_000

_WS = " \t\n\r"  # the only whitespace JSON and Jackson allow between tokens


class JsonObject(dict):
    """A JSON object, last value per key (as Spark keeps it); `pairs` holds every pair in
    order when a key repeats (Spark converts each occurrence, so an earlier bad one counts)."""

    pairs: list[tuple[str, object]] | None = None


def _object(pairs: list[tuple[str, object]]) -> JsonObject:
    obj = JsonObject(pairs)
    if len(obj) != len(pairs):
        obj.pairs = pairs
    return obj


@dataclass(frozen=True)
class ParsedLine:
    """A raw line as Spark reads it."""

    root: JsonObject | None  # the top-level object; None: json_object_keys is null (malformed)
    control_chars: bool = False  # a string holds a raw control character: from_json fails


def parse_line(line: bytes | str) -> ParsedLine:
    # Spark reads a line through a UTF-8 Reader: invalid bytes become U+FFFD, no error.
    text = line.decode("utf-8", "replace") if isinstance(line, bytes | bytearray) else line
    start = len(text) - len(text.lstrip(_WS))
    if not text.startswith("{", start):
        return ParsedLine(None)
    if not _needs_exact_parse(text):
        try:
            root, _ = _DECODER.raw_decode(text, start)
            return ParsedLine(root)
        except (ValueError, RecursionError):
            pass  # not plain strict JSON: Jackson's rules decide
    try:
        return _JacksonReader(text).read_root(start)
    except _JsonError:
        return ParsedLine(None)


def _reject_constant(name: str) -> object:
    raise ValueError(f"non-numeric number {name}")  # Jackson's NaN/Infinity are off for the keys


# Python's C decoder accepts exactly strict JSON (no single quotes, no raw control
# characters), a subset of what Jackson reads here: a line it decodes is read alike.
_DECODER = json.JSONDecoder(object_pairs_hook=_object, parse_constant=_reject_constant)
_LONG_NUMBER = re.compile(rf"[0-9.eE+-]{{{MAX_NUMBER_DIGITS + 1}}}")


def _needs_exact_parse(text: str) -> bool:
    """Whether Jackson's limits may matter (deep nesting, long numbers or names): such rare
    lines skip the fast path."""
    if len(text) <= MAX_NUMBER_DIGITS:
        return False
    return (
        len(text) > MAX_NAME_LENGTH
        or text.count("{") + text.count("[") > MAX_DEPTH
        or _LONG_NUMBER.search(text) is not None
    )


class _JsonError(Exception):
    pass


_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "'": "'"}
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(?:\.([0-9]+))?(?:[eE][+-]?([0-9]+))?")
_STRING_END = {'"': re.compile(r'["\\\x00-\x1f]'), "'": re.compile(r"['\\\x00-\x1f]")}
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")


class _JacksonReader:
    """Jackson's ReaderBasedJsonParser as json_object_keys configures it: strict JSON plus
    single-quoted names and strings (and the `\\'` escape), raw control characters in
    strings (noted: from_json then fails), its nesting, number and name limits. Iterative,
    so that nesting to MAX_DEPTH needs no Python recursion."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.control_chars = False

    def read_root(self, i: int) -> ParsedLine:
        text = self.text
        # Each open container: (pairs or items, is_object, key awaiting its value).
        stack: list[list] = []
        value: object = None
        while True:
            i = self._skip_ws(i)
            c = text[i] if i < len(text) else ""
            # A value starts here (the root, an array item or an object's value).
            if c == "{" or c == "[":
                if len(stack) >= MAX_DEPTH:
                    raise _JsonError("nesting too deep")
                stack.append([[], c == "{", None])
                i = self._skip_ws(i + 1)
                closing = "}" if c == "{" else "]"
                if text.startswith(closing, i):
                    i += 1
                    value = self._close(stack.pop())
                elif c == "{":
                    i = self._key(i, stack[-1])
                    continue
                else:
                    continue
            elif c == '"' or c == "'":
                value, i = self._string(i)
            elif c == "-" or "0" <= c <= "9":
                value, i = self._number(i)
            elif text.startswith("true", i):
                value, i = True, i + 4
            elif text.startswith("false", i):
                value, i = False, i + 5
            elif text.startswith("null", i):
                value, i = None, i + 4
            else:
                raise _JsonError(f"unexpected character at {i}")
            # Attach the finished value, then close containers as far as they end here.
            while True:
                if not stack:
                    if not isinstance(value, dict):
                        raise _JsonError("not an object")
                    return ParsedLine(value, self.control_chars)  # text after the root is not read
                top = stack[-1]
                if top[1]:
                    top[0].append((top[2], value))
                else:
                    top[0].append(value)
                i = self._skip_ws(i)
                c = text[i] if i < len(text) else ""
                if c == ",":
                    i = self._skip_ws(i + 1)
                    if top[1]:
                        i = self._key(i, top)
                    break
                if c == ("}" if top[1] else "]"):
                    i += 1
                    value = self._close(stack.pop())
                    continue
                raise _JsonError(f"expected , or a closing bracket at {i}")

    @staticmethod
    def _close(container: list) -> object:
        items, is_object, _ = container
        return _object(items) if is_object else items

    def _skip_ws(self, i: int) -> int:
        text, n = self.text, len(self.text)
        while i < n and text[i] in _WS:
            i += 1
        return i

    def _key(self, i: int, top: list) -> int:
        """Reads `"name" :` into the object on top; returns where its value starts."""
        text = self.text
        if i >= len(text) or text[i] not in "\"'":
            raise _JsonError(f"expected a quoted name at {i}")
        name, i = self._string(i)
        if len(name) > MAX_NAME_LENGTH:
            raise _JsonError("name too long")
        i = self._skip_ws(i)
        if not text.startswith(":", i):
            raise _JsonError(f"expected : at {i}")
        top[2] = name
        return i + 1

    def _string(self, i: int) -> tuple[str, int]:
        text, quote = self.text, self.text[i]
        end = _STRING_END[quote]
        out: list[str] = []
        i += 1
        while True:
            m = end.search(text, i)
            if m is None:
                raise _JsonError("unterminated string")
            j = m.start()
            out.append(text[i:j])
            c = text[j]
            if c == quote:
                return "".join(out), j + 1
            if c != "\\":
                self.control_chars = True  # allowed by json_object_keys, not by from_json
                out.append(c)
                i = j + 1
                continue
            e = text[j + 1 : j + 2]
            if e == "u":
                if not _HEX4.fullmatch(text, j + 2, j + 6):
                    raise _JsonError("bad \\u escape")
                out.append(chr(int(text[j + 2 : j + 6], 16)))
                i = j + 6
            elif e in _ESCAPES:
                out.append(_ESCAPES[e])
                i = j + 2
            else:
                raise _JsonError(f"bad escape at {j}")

    def _number(self, i: int) -> tuple[int | float, int]:
        m = _NUMBER.match(self.text, i)
        if m is None:
            raise _JsonError(f"bad number at {i}")
        whole, fraction, exponent = m.groups()
        if fraction is None and exponent is None:
            if len(whole) > MAX_NUMBER_DIGITS:
                raise _JsonError("number too long")
            return int(m.group()), m.end()
        if len(whole) + len(fraction or "") + len(exponent or "") > MAX_NUMBER_DIGITS:
            raise _JsonError("number too long")
        return float(m.group()), m.end()


# --- a JSON value read as a string column --------------------------------------------------


def spark_string(value: object) -> str | None:
    """The string from_json gives a JSON value read into a string field (None for null)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _java_double_text(value)
    # An object or array: its JSON text, compact (Jackson's re-serialisation, approximately).
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _java_double_text(x: float) -> str:
    """Java's Double.toString, as Jackson writes a float it re-serialises; infinity (a
    number too large for a double) is written as a quoted string."""
    if math.isinf(x):
        return '"Infinity"' if x > 0 else '"-Infinity"'
    if x == 0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    d = Decimal(repr(abs(x)))
    digits = "".join(map(str, d.as_tuple().digits)).rstrip("0") or "0"
    exp = d.adjusted()  # x = 0.d1d2... * 10^(exp + 1)
    sign = "-" if x < 0 else ""
    if 1e-3 <= abs(x) < 1e7:
        if exp >= 0:
            whole, frac = digits[: exp + 1].ljust(exp + 1, "0"), digits[exp + 1 :]
        else:
            whole, frac = "0", "0" * (-exp - 1) + digits
        return f"{sign}{whole}.{frac or '0'}"
    return f"{sign}{digits[0]}.{digits[1:] or '0'}E{exp}"


# --- casts --------------------------------------------------------------------------------

# UTF8String.trimAll and the integral casts trim whitespace and ISO control characters
# (ASCII 0x00-0x20 and 0x7F); java.lang.String.trim (the double cast) trims 0x00-0x20.
_TRIM_ALL = "".join(map(chr, range(0x21))) + "\x7f"
_JAVA_TRIM = "".join(map(chr, range(0x21)))
_INTEGRAL = re.compile(r"[+-]?[0-9]+")
_BOOLEANS = frozenset({"t", "true", "y", "yes", "1", "f", "false", "n", "no", "0"})
_JAVA_DOUBLE = re.compile(
    r"[+-]?(?:NaN|Infinity"
    r"|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[fFdD]?"
    r"|0[xX](?:[0-9a-fA-F]+\.?|[0-9a-fA-F]*\.[0-9a-fA-F]+)[pP][+-]?[0-9]+[fFdD]?)"
)
_DOUBLE_LITERALS = frozenset({"inf", "+inf", "infinity", "+infinity", "-inf", "-infinity", "nan"})


def castable(dtype: str, text: str) -> bool:
    """Whether Spark's try_cast (try_to_timestamp with TIMESTAMP_FORMAT for timestamps)
    gives a value for this string."""
    if dtype == "string":
        return True
    if dtype not in CASTS:
        raise ValueError(f"no cast for {dtype!r}")
    return CASTS[dtype](text)


def _integral(bits: int) -> Callable[[str], bool]:
    bound = 1 << (bits - 1)

    def cast(text: str) -> bool:
        t = text.strip(_TRIM_ALL)
        if not _INTEGRAL.fullmatch(t) or len(t.lstrip("+-").lstrip("0")) > 19:
            return False
        return -bound <= int(t) < bound

    return cast


def _boolean(text: str) -> bool:
    return text.strip(_TRIM_ALL).lower() in _BOOLEANS


def _double(text: str) -> bool:
    t = text.strip(_JAVA_TRIM)
    return _JAVA_DOUBLE.fullmatch(t) is not None or t.lower() in _DOUBLE_LITERALS


def _timestamp(text: str) -> bool:
    return timestamp_micros(text) is not None


# Whether a string casts to the type (every string "casts" to string).
CASTS: dict[str, Callable[[str], bool]] = {
    "int": _integral(32),
    "bigint": _integral(64),
    "boolean": _boolean,
    "double": _double,
    "timestamp": _timestamp,
}


_TIMESTAMP = re.compile(
    r"([+-]?)([0-9]{4,19})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})"
    r"(?:\.([0-9]{1,6}))?(?:[Zz]|([+-])([0-9]{2})([0-9]{2})?)"
)
_MAX_YEAR = 999_999_999  # java.time's year range
# A timestamp whose year is this far from 0 (written with a sign, 6+ digits) is bad_type:
# java.time reads it, but Spark's microseconds since 1970 overflow from about year ±290,300
# and try_to_timestamp then raises instead of giving null (one such line failed bronze).
MAX_TIMESTAMP_YEAR = 290_000
_LONG = 1 << 63


def timestamp_micros(text: str) -> int | None:
    """Microseconds since the epoch of a TIMESTAMP_FORMAT string, as Spark's
    try_to_timestamp parses it (None where it gives null)."""
    m = _TIMESTAMP.fullmatch(text)
    if m is None:
        return None
    sign, year_text, month, day, hour, minute, second, fraction, off_sign, off_h, off_m = m.groups()
    # java.time's year (SignStyle.EXCEEDS_PAD, strict): a sign exactly when more than
    # 4 digits, or a minus (but not minus zero).
    if (sign == "" and len(year_text) != 4) or (sign == "+" and len(year_text) <= 4):
        return None
    year = int(year_text)
    if sign == "-":
        if year == 0:
            return None
        year = -year
    if abs(year) >= MAX_TIMESTAMP_YEAR:  # only a signed year has the digits
        return None  # bronze's guard against Spark's overflow
    mo, d, h, mi, s = int(month), int(day), int(hour), int(minute), int(second)
    if abs(year) > _MAX_YEAR or not 1 <= mo <= 12 or not 1 <= d <= _days_in_month(year, mo):
        return None
    if h > 23 or mi > 59 or s > 59:
        return None
    offset = 0
    if off_sign:
        oh, om = int(off_h), int(off_m or 0)
        offset = (oh * 3600 + om * 60) * (-1 if off_sign == "-" else 1)
        if oh > 23 or om > 59 or abs(offset) > 18 * 3600:
            return None
    seconds = _days_from_civil(year, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset
    micros = int((fraction or "").ljust(6, "0"))
    # Spark: addExact(multiplyExact(seconds, 1e6), micros); an overflow raises in Spark
    # (see the module docstring), a null here.
    if not -_LONG <= seconds * 1_000_000 < _LONG or not -_LONG <= seconds * 1_000_000 + micros < _LONG:
        return None
    return seconds * 1_000_000 + micros


def _days_in_month(year: int, month: int) -> int:
    if month == 2:
        return 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    return 30 if month in (4, 6, 9, 11) else 31


def _days_from_civil(y: int, m: int, d: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date, any year (H. Hinnant's)."""
    y -= m <= 2
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468
