"""Consent for measurement: the one rule that decides whether an event may enter
user-level processing (segments, attribution journeys, model features). Every event
still counts in the aggregates. docs/privacy.md explains the rule.

An event is measurable when GDPR does not apply to it (`gdpr` 0 or absent) or its IAB TCF
v2 consent string grants every purpose in MEASUREMENT_PURPOSES. Ad servers log `gdpr` and
`consent` on bid requests (OpenRTB `regs.gdpr`, `user.consent`). Impressions, clicks and
conversions carry the same two fields, filled by the TCF macros `${GDPR}` and
`${GDPR_CONSENT_XXXX}` of the ad tag, the click URL and the conversion pixel.

The rule is written twice, once per engine: `measurement_allowed` in Python (the
reference, the collector, the tests) and `measurement_allowed_column` in Spark. Both read
the constants below, and a test runs them side by side on the same strings. This module
does not import Spark at load time."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame

TCF_VERSION = 2
# Where the 24 PurposesConsent bits start in a TCF v2 core string: after Version(6),
# Created(36), LastUpdated(36), CmpId(12), CmpVersion(12), ConsentScreen(6),
# ConsentLanguage(12), VendorListVersion(12), TcfPolicyVersion(6), IsServiceSpecific(1),
# UseNonStandardTexts(1) and SpecialFeatureOptIns(12).
PURPOSES_OFFSET_BITS = 152
PURPOSE_COUNT = 24
# TCF purpose 1: store and/or access information on a device; purpose 7: measure
# advertising performance. Both are needed to follow a user across events.
MEASUREMENT_PURPOSES: tuple[int, ...] = (1, 7)
# The silver column that carries the verdict, on every table with user ids.
CONSENT_COLUMN = "measurement_consent"


def _purpose_bit(purpose: int) -> tuple[int, int]:
    """(byte index, bit mask) of a purpose's consent bit in the decoded core string."""
    bit = PURPOSES_OFFSET_BITS + purpose - 1
    return bit // 8, 0x80 >> (bit % 8)


def _core_bytes(consent: str) -> bytes | None:
    core = consent.split(".", 1)[0]
    try:
        return base64.urlsafe_b64decode(core + "=" * (-len(core) % 4))
    except (binascii.Error, ValueError):
        return None


def tcf_purposes(consent: str | None) -> frozenset[int]:
    """The purposes a TCF v2 string consents to; none for anything that is not one."""
    raw = _core_bytes(consent) if consent else None
    if not raw or raw[0] >> 2 != TCF_VERSION or len(raw) * 8 < PURPOSES_OFFSET_BITS + PURPOSE_COUNT:
        return frozenset()
    bits = {p: _purpose_bit(p) for p in range(1, PURPOSE_COUNT + 1)}
    return frozenset(p for p, (i, mask) in bits.items() if raw[i] & mask)


def measurement_allowed(gdpr: int | None, consent: str | None) -> bool:
    """The rule, in Python. `gdpr` absent counts as 0: OpenRTB leaves applicability to the
    exchange, and events from sources that never log it are not made unmeasurable."""
    if not gdpr:
        return True
    return set(MEASUREMENT_PURPOSES) <= tcf_purposes(consent)


def measurement_allowed_column(gdpr: Column, consent: Column) -> Column:
    """The rule, as a Spark column of built-ins (no Python UDF): a malformed string
    decodes to null and so grants nothing."""
    from pyspark.sql import functions as F

    raw = F.try_to_binary(F.translate(F.substring_index(consent, ".", 1), "-_", "+/"), F.lit("base64"))

    def byte(i: int) -> Column:  # 0-based
        return F.conv(F.hex(F.substring(raw, i + 1, 1)), 16, 10).cast("int")

    granted = (F.length(raw) * 8 >= PURPOSES_OFFSET_BITS + PURPOSE_COUNT) & (
        F.shiftright(byte(0), 2) == TCF_VERSION
    )
    for purpose in MEASUREMENT_PURPOSES:
        i, mask = _purpose_bit(purpose)
        granted = granted & (byte(i).bitwiseAND(mask) != 0)
    return F.coalesce(gdpr, F.lit(0)).eqNullSafe(0) | F.coalesce(granted, F.lit(False))


def with_measurement_consent(df: DataFrame) -> DataFrame:
    """Silver's verdict on each row, in CONSENT_COLUMN. Rows from sources that log no
    `gdpr` or `consent` are judged as GDPR not applying (see measurement_allowed)."""
    from pyspark.sql import functions as F

    def column(name: str) -> Column:
        return F.col(name) if name in df.columns else F.lit(None)

    return df.withColumn(CONSENT_COLUMN, measurement_allowed_column(column("gdpr"), column("consent")))


def user_level(df: DataFrame) -> DataFrame:
    """The rows user-level processing may use. Silver rows written before the verdict
    existed have it null and, like rows without consent fields, count as measurable; so do
    frames without the column (built by hand, or before silver judged consent)."""
    from pyspark.sql import functions as F

    if CONSENT_COLUMN not in df.columns:
        return df
    return df.where(F.coalesce(F.col(CONSENT_COLUMN), F.lit(True)))


def _bits(value: int, width: int) -> str:
    return format(value, f"0{width}b")


def encode_tcf(
    purposes: Iterable[int],
    vendors: Iterable[int] = (),
    created_ds: int = 16_700_000_000,  # deciseconds since the epoch (2022-12-02)
    cmp_id: int = 300,
    vendor_list_version: int = 150,
) -> str:
    """A TCF v2.2 core string consenting to `purposes` and `vendors` (bit-field encoded),
    the way a consent management platform writes it. The simulator and tests use it."""
    chosen, vendor_set = set(purposes), set(vendors)
    max_vendor = max(vendor_set, default=0)
    letters = lambda s: "".join(_bits(ord(ch) - ord("A"), 6) for ch in s)  # noqa: E731
    bits = "".join(
        (
            _bits(TCF_VERSION, 6),
            _bits(created_ds, 36),
            _bits(created_ds, 36),
            _bits(cmp_id, 12),
            _bits(1, 12),  # CmpVersion
            _bits(1, 6),  # ConsentScreen
            letters("EN"),
            _bits(vendor_list_version, 12),
            _bits(4, 6),  # TcfPolicyVersion 4: TCF v2.2
            "1",  # IsServiceSpecific
            "0",  # UseNonStandardTexts
            _bits(0, 12),  # SpecialFeatureOptIns
            "".join("1" if p in chosen else "0" for p in range(1, PURPOSE_COUNT + 1)),
            _bits(0, 24),  # PurposesLITransparency
            "0",  # PurposeOneTreatment
            letters("AA"),  # PublisherCC
            _bits(max_vendor, 16),
            "0",  # IsRangeEncoding: a bit field follows
            "".join("1" if v in vendor_set else "0" for v in range(1, max_vendor + 1)),
            _bits(0, 16),  # legitimate-interest vendors: none
            "0",
            _bits(0, 12),  # NumPubRestrictions
        )
    )
    bits += "0" * (-len(bits) % 8)
    raw = int(bits, 2).to_bytes(len(bits) // 8, "big")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")
