"""Key rotation on the shared end-to-end lake (conftest `lakehouse`): every pseudonym moves
to the new key, joins still work, and rotating back to the old key gives back the same
lake, table for table."""

import hashlib
import hmac

from deltalake import DeltaTable

from ad_assets.privacy.rotation import rotate_key
from ad_assets.resources.pseudonym_key import PseudonymKeyResource
from spark_jobs.layers import ArrivalWindow
from spark_jobs.pipeline import run_gold
from spark_jobs.rekey import PSEUDONYMISED_TABLES
from spark_jobs.segment_rules import AUDIENCE_TABLES
from tests.integration.helpers import END, all_contents, table_content


def _pid(key: bytes, user_id: str) -> str:
    return hmac.new(key, user_id.encode(), hashlib.sha256).hexdigest()


def test_rotation_moves_every_pseudonym_keeps_joins_and_rotates_back(lakehouse, spark):
    lake, res = lakehouse["lake"], lakehouse["resources"]["pseudonym_key"]
    before = all_contents(lake)
    before_rows = {n: _rows(lake, "gold", n) for n in AUDIENCE_TABLES}
    old_key, old_version = res.key_bytes(), res.version()
    messages: list[str] = []

    r = rotate_key(spark, lake, res, log=messages.append)
    new_key = res.key_bytes()
    assert (r.old_version, r.new_version, res.version()) == (old_version, "v2", "v2") and new_key != old_key
    assert "destroyed" in messages[-1]
    # Silver: each row's pseudonym is the new key's HMAC of the raw id bronze kept.
    for name in PSEUDONYMISED_TABLES:
        raw = {r["event_id"]: r["user_id"] for r in _rows(lake, "bronze", name)}
        silver = _rows(lake, "silver", name)
        assert r.silver_updated[name] == sum(1 for s in silver if s["user_pid"] is not None)
        for s in silver:
            user = raw[s["event_id"]]
            expected = (_pid(new_key, user), "v2") if user else (None, None)
            assert (s["user_pid"], s["key_version"]) == expected
    # Gold: the audience tables hold the same rows under the new pseudonyms.
    moved = {_pid(old_key, u): _pid(new_key, u) for u in _raw_ids(lake)}
    for name in AUDIENCE_TABLES:
        old = [{**r, "user_pid": moved[r["user_pid"]]} for r in before_rows[name]]
        assert _sorted(_rows(lake, "gold", name)) == _sorted(old), name
    # Joins across the rotation: gold recomputed from the re-keyed silver is unchanged.
    run_gold(spark, lake, ArrivalWindow(END, END))
    for name in ("attribution", "campaign_daily", "conversion_paths"):
        assert table_content(lake, "gold", name) == before[f"gold_{name}"], name

    # Back to the old key (as an operator would with a key from the environment).
    rotate_key(spark, lake, PseudonymKeyResource(key=old_key.decode(), key_version=old_version))
    res.keyring().key_file.write_text(old_key.decode())
    res.keyring().key_file.with_name("hmac.key.version").unlink()
    assert res.key_bytes() == old_key and res.version() == old_version
    assert all_contents(lake) == before


def _rows(lake, layer: str, name: str) -> list[dict]:
    return DeltaTable(lake.delta_rs_uri(layer, name)).to_pyarrow_table().to_pylist()


def _raw_ids(lake) -> set[str]:
    rows = [r for name in PSEUDONYMISED_TABLES for r in _rows(lake, "bronze", name)]
    return {r["user_id"] for r in rows if r["user_id"]}


def _sorted(rows: list[dict]) -> list[tuple]:
    return sorted(tuple(sorted((k, str(v)) for k, v in r.items())) for r in rows)
