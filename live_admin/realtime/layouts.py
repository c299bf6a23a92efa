"""A changelist's layout (see :mod:`live_admin.pages.rows`) as the socket reads it: the signed
token the page hands over, and whether a change left the page's rows where they were."""

from __future__ import annotations

from typing import Any

from django.core import signing

_SALT = "live_admin.layout"


def layout_token(fields: frozenset[str], label: str) -> str:
    """The signed layout of a changelist of model ``label``."""
    return signing.Signer(salt=_SALT).sign_object([label, sorted(fields)], compress=True)


def read_layout(value: Any, label: str) -> frozenset[str] | None:
    """The fields of a layout token for model ``label``; None for a missing or bad one, or one
    of another model (whole-page refreshes)."""
    if not isinstance(value, str):
        return None
    try:
        token_label, fields = signing.Signer(salt=_SALT).unsign_object(value)
    except (signing.BadSignature, ValueError, TypeError):
        return None
    if token_label != label or not isinstance(fields, list):
        return None
    if not all(isinstance(f, str) for f in fields):
        return None
    return frozenset(fields)


def all_in_place(event: dict[str, Any], fields: frozenset[str] | None) -> bool:
    """Whether a model's or group's change ``event`` left every row of a page laid out on
    ``fields`` where it was: known objects, each changed :func:`in_place`."""
    objects = event.get("objects")
    if not objects:
        return False
    return all(in_place(obj, fields) for obj in objects.values())


def in_place(event: dict[str, Any], fields: frozenset[str] | None) -> bool:
    """Whether the change of one object (its part of a message's ``objects``) could only have
    changed its row in place for a page laid out on ``fields``: updated (not created, deleted
    or bulk-changed), in known fields outside the layout."""
    changed = event.get("fields")
    if fields is None or not changed:
        return False
    return (
        event.get("action") == "saved" and not event.get("created") and fields.isdisjoint(changed)
    )
