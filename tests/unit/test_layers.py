"""The layers' date keys and the arrival window (pure Python: no Spark needed)."""

from datetime import date, timedelta

import pytest

from spark_jobs.contracts import MAX_LATENESS
from spark_jobs.layers import (
    ARRIVAL_DATE,
    BRONZE,
    EVENT_DATE,
    GOLD,
    LATENESS_DAYS,
    QUARANTINE_TABLE,
    RAW,
    SILVER,
    ArrivalWindow,
    date_column,
)


def test_lateness_in_days_follows_from_the_contract():
    assert LATENESS_DAYS == 2
    # An event at 00:00 of D - LATENESS_DAYS, as late as the contract allows, lands on D.
    assert MAX_LATENESS <= timedelta(days=LATENESS_DAYS) < MAX_LATENESS + timedelta(days=1)


def test_each_layer_is_keyed_by_one_date_column():
    assert date_column(BRONZE) == ARRIVAL_DATE == date_column(QUARANTINE_TABLE[0])
    assert date_column(SILVER) == date_column(GOLD) == EVENT_DATE
    with pytest.raises(ValueError, match="no Delta tables in layer 'raw'"):
        date_column(RAW)


def test_a_window_rewrites_its_arrival_dates_and_the_event_dates_they_touch():
    w = ArrivalWindow(date(2026, 11, 3), date(2026, 11, 4))
    assert w.arrival_dates() == [date(2026, 11, 3), date(2026, 11, 4)]
    assert w.event_start == date(2026, 11, 1)
    assert w.event_dates() == [date(2026, 11, d) for d in range(1, 5)]
    assert w.dates(BRONZE) == (w.start, w.end)
    assert w.dates(SILVER) == w.dates(GOLD) == (w.event_start, w.end)
