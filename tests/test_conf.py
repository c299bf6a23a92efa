from __future__ import annotations

from django.test import override_settings

from live_admin.conf import DEFAULTS, TYPES, get_config


def test_defaults_cover_every_type() -> None:
    assert set(DEFAULTS) == set(TYPES)
    assert all(isinstance(DEFAULTS[k], TYPES[k]) for k in DEFAULTS)


def test_user_values_merge_and_reset_on_setting_changed() -> None:
    assert get_config()["MAX_SUBSCRIPTIONS"] == DEFAULTS["MAX_SUBSCRIPTIONS"]
    with override_settings(LIVE_ADMIN={"MAX_SUBSCRIPTIONS": 3, "UNKNOWN": 1}):
        config = get_config()
        assert config["MAX_SUBSCRIPTIONS"] == 3
        assert "UNKNOWN" not in config
        assert config["WS_PATH"] == DEFAULTS["WS_PATH"]
    assert get_config()["MAX_SUBSCRIPTIONS"] == DEFAULTS["MAX_SUBSCRIPTIONS"]


def test_a_non_dict_setting_means_defaults() -> None:
    with override_settings(LIVE_ADMIN="oops"):
        assert get_config() == {**DEFAULTS, "SEND_TIMEOUT": DEFAULTS["SEND_TIMEOUT"]}
