"""The embedded key file and its rotation (ad_assets/resources/pseudonym_key.py): no Spark."""

import stat

import pytest

from ad_assets.resources.pseudonym_key import DEFAULT_KEY_VERSION, PseudonymKeyResource, next_version


def test_versions_count_up():
    assert next_version("v1") == "v2" and next_version("v19") == "v20"
    assert next_version("2026q4") == "2026q4.2"


def test_a_rotation_replaces_the_key_only_when_finished_and_resumes_after_a_crash(tmp_path):
    res = PseudonymKeyResource(key_file=str(tmp_path / "secrets" / "hmac.key"))
    old = res.key_bytes()
    assert res.version() == DEFAULT_KEY_VERSION
    assert stat.S_IMODE((tmp_path / "secrets" / "hmac.key").stat().st_mode) == 0o600
    ring = res.keyring()
    new, version = ring.begin_rotation(res.version())
    assert version == "v2" and new != old
    # Interrupted here: the pipeline still uses the old key; a rerun gets the same new one.
    assert res.key_bytes() == old and res.version() == "v1"
    assert ring.begin_rotation(res.version()) == (new, "v2")
    with pytest.raises(ValueError, match="was interrupted"):
        ring.begin_rotation(res.version(), "v9")
    ring.finish_rotation()
    assert res.key_bytes() == new and res.version() == "v2"
    assert not ring.pending_file.exists()
    assert stat.S_IMODE(ring.key_file.stat().st_mode) == 0o600
    with pytest.raises(ValueError, match="already at version"):
        ring.begin_rotation(res.version(), "v2")


def test_a_key_from_the_environment_has_no_keyring():
    res = PseudonymKeyResource(key="k", key_version="v7")
    assert res.keyring() is None and res.version() == "v7" and res.key_bytes() == b"k"
