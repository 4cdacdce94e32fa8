"""The stream-versus-batch rule on its own: batch == live + late per campaign and metric."""

from spark_jobs.stream_reconcile import reconcile


def test_live_plus_late_equal_to_batch_matches():
    batch = {"c1": {"impressions": 10, "clicks": 2, "spend_micros": 500}, "c2": {"impressions": 3}}
    live = {"c1": {"impressions": 9, "clicks": 2, "spend_micros": 450}, "c2": {"impressions": 3}}
    late = {"c1": {"impressions": 1, "spend_micros": 50}}
    r = reconcile(batch, live, late)
    assert r.matches and r.campaigns == 2
    assert r.batch == {"impressions": 13, "clicks": 2, "spend_micros": 500}
    assert r.late == {"impressions": 1, "clicks": 0, "spend_micros": 50}


def test_a_difference_names_the_campaign_and_the_three_figures():
    batch = {"c1": {"impressions": 10}}
    live = {"c1": {"impressions": 8}, "c9": {"clicks": 1}}  # c9: counted live, unknown to gold
    late = {"c1": {"impressions": 1}}
    r = reconcile(batch, live, late)
    assert not r.matches
    assert r.differences == [
        {"campaign": "c1", "metric": "impressions", "batch": 10, "live": 8, "late": 1},
        {"campaign": "c9", "metric": "clicks", "batch": 0, "live": 1, "late": 0},
    ]
