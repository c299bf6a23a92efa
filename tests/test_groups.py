from __future__ import annotations

import re
import uuid

import pytest
from channels.layers import BaseChannelLayer

from live_admin import protocol as groups

VALID = re.compile(r"[A-Za-z0-9_.-]{1,99}\Z")
ODD = [
    "1",
    1,
    uuid.uuid4(),
    "a b",
    "ü" * 500,
    "x" * 1000,
    "",
    None,
    "v1",
    "h" + "0" * 31,
    "\ud800",
    "../..",
]


@pytest.mark.parametrize("value", ODD)
def test_every_name_is_valid_for_channels(value: object) -> None:
    names = [
        groups.model_group("app_ünïcode.model_" + "m" * 200),
        groups.object_group("shop.ticket", value),
        groups.field_group("shop.ticket", "f" * 300, value),
        groups.session_group(str(value)),
        groups.any_object_group("shop.ticket"),
        groups.any_field_group("shop.ticket"),
    ]
    layer = BaseChannelLayer()
    for name in names:
        assert VALID.match(name), name
        assert layer.require_valid_group_name(name)


def test_names_are_distinct() -> None:
    tokens = {groups.token(v) for v in ODD}
    assert len(tokens) == len(ODD) - 1  # all but 1 and "1"
    assert groups.token("1") == groups.token(
        1
    )  # pks compare as their text, as subscribers send them
    assert groups.object_group("a.b", "1") != groups.field_group("a.b", "o", "1")


def test_readable_when_safe() -> None:
    assert groups.model_group("shop.ticket") == "live_admin.vshop-ticket"
    assert groups.object_group("shop.ticket", 42) == "live_admin.vshop-ticket.o.v42"
