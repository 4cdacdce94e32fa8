"""The consent-for-measurement rule (spark_jobs/consent.py): its Python and Spark forms
agree, it reads real TCF v2 strings, silver records it, and journeys honour it."""

from datetime import date

import pytest
from pyspark.sql import functions as F

from ad_assets.generator.catalog import CONSENT_STRINGS, build_catalog
from ad_assets.generator.simulate import generate_day
from spark_jobs.consent import (
    CONSENT_COLUMN,
    MEASUREMENT_PURPOSES,
    encode_tcf,
    measurement_allowed,
    measurement_allowed_column,
    tcf_purposes,
    user_level,
)

ALL = encode_tcf(range(1, 11), vendors=(10, 755))
NO_MEASUREMENT = encode_tcf((1, 2, 3, 4))
# A CMP's string from the wild (IAB's decoder shows no purpose consented).
WILD_NO_PURPOSES = "CPXxRfAPXxRfAAfKABENB-CgAAAAAAAAAAYgAAAAAAAA"

CASES = [
    (1, ALL, True),
    (1, ALL + ".YAAAAAAAAAAA", True),  # a disclosed-vendors segment follows the core
    (1, encode_tcf(MEASUREMENT_PURPOSES), True),  # exactly what measurement needs
    (1, NO_MEASUREMENT, False),
    (1, encode_tcf((7,)), False),  # measurement without device access
    (1, WILD_NO_PURPOSES, False),
    (1, "", False),
    (1, None, False),
    (1, "!!not-base64!!", False),
    (1, "QUJD", False),  # base64, but too short to be a TC string
    (1, "B" + ALL[1:], False),  # version 1 (TCF v1): not read as v2
    (0, None, True),
    (0, NO_MEASUREMENT, True),  # GDPR does not apply: no consent needed
    (None, None, True),  # sources that never log gdpr
]


def test_tcf_strings_decode_to_their_purposes():
    assert tcf_purposes(ALL) == frozenset(range(1, 11))
    assert tcf_purposes(NO_MEASUREMENT) == {1, 2, 3, 4}
    assert tcf_purposes(WILD_NO_PURPOSES) == frozenset()
    assert tcf_purposes("garbage") == frozenset()


@pytest.mark.parametrize(("gdpr", "consent", "allowed"), CASES)
def test_python_rule(gdpr, consent, allowed):
    assert measurement_allowed(gdpr, consent) is allowed


def test_spark_rule_agrees_with_python(spark):
    df = spark.createDataFrame([(g, c) for g, c, _ in CASES], "gdpr int, consent string")
    got = [r[0] for r in df.select(measurement_allowed_column(F.col("gdpr"), F.col("consent"))).collect()]
    assert got == [allowed for _, _, allowed in CASES]


def test_user_level_keeps_measurable_and_unjudged_rows(spark):
    rows = [("a", True), ("b", False), ("c", None)]
    df = spark.createDataFrame(rows, f"id string, {CONSENT_COLUMN} boolean")
    assert sorted(r.id for r in user_level(df).collect()) == ["a", "c"]


def test_simulated_users_answer_once_and_carry_it_on_every_event():
    """Consent is the user's: every event of a user carries the same verdict, GDPR
    countries only send strings, and a realistic share cannot be measured."""
    cat = build_catalog(11, date(2026, 11, 1), 20_000)
    day = generate_day(cat, 11, date(2026, 11, 2), 20_000)
    verdicts: dict[str, set[bool]] = {}
    total = blocked = 0
    for event_type in ("bid_request", "impression", "click", "conversion"):
        cols = day[event_type]
        for user, gdpr, consent in zip(cols["user_id"], cols["gdpr"], cols["consent"], strict=True):
            assert gdpr == 1 or consent == "", "a string only where GDPR applies"
            assert consent in CONSENT_STRINGS
            ok = measurement_allowed(int(gdpr), consent)
            verdicts.setdefault(user, set()).add(ok)
            total += 1
            blocked += not ok
    assert all(len(v) == 1 for v in verdicts.values())
    assert 0.03 < blocked / total < 0.12, blocked / total  # ~1/3 of users in GDPR countries, 22% of them
