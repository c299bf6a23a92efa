"""Per-user checks for subscriptions, through the registered ModelAdmins' own methods."""

from __future__ import annotations

from dataclasses import dataclass
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from django.apps import apps
from django.conf import settings
from django.contrib.auth import get_user
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.http import HttpRequest

from .. import options
from .. import protocol as groups
from ..protocol import CLOSE_NOT_ALLOWED, CLOSE_NOT_LOGGED_IN
from ..registry import live_admins


def user_refusal(user: Any) -> int | None:
    """The close code that refuses ``user`` a socket, or None when they may connect."""
    if user is None or not user.is_authenticated:
        return CLOSE_NOT_LOGGED_IN
    if not (user.is_active and user.is_staff):
        return CLOSE_NOT_ALLOWED
    return None


@database_sync_to_async
def fresh_user(session_key: str | None) -> Any:
    """The session's user as stored now (anonymous when the session ended or was invalidated)."""
    request = HttpRequest()
    request.session = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(request)


class Refused(Exception):
    """A subscription the user may not have; ``code`` is the protocol's error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Subscription:
    """A granted subscription and the channel-layer groups that feed it."""

    id: str
    model: str
    pk: str | None
    field: str | None
    value: str | None
    groups: tuple[str, ...]


NOT_FOUND = Refused("not_found", "No live admin for that model.")


def build_request(scope: Any, user: Any) -> HttpRequest:
    """An ``HttpRequest`` standing for the socket's user, for ModelAdmin permission methods."""
    request = HttpRequest()
    request.method = "GET"
    request.path = request.path_info = scope.get("path", "/")
    request.user = user
    session = scope.get("session")
    if session is not None:
        request.session = session
    for name, value in scope.get("headers", ()):
        key = name.decode("latin-1").upper().replace("-", "_")
        request.META["HTTP_" + key] = value.decode("latin-1")
    client = scope.get("client") or ("", 0)
    request.META["REMOTE_ADDR"] = client[0]
    server = scope.get("server") or ("localhost", 80)
    request.META["SERVER_NAME"], request.META["SERVER_PORT"] = server[0], str(server[1])
    return request


def resolve(
    request: HttpRequest,
    sub_id: str,
    label: str,
    pk: str | None = None,
    field: str | None = None,
    value: str | None = None,
) -> Subscription:
    """Grant a subscription to model ``label``, one object ``pk``, or the group ``field=value``.

    Raises :class:`Refused`. A model that does not exist and one with no live ModelAdmin are
    refused alike, so a user learns nothing about models they cannot see.
    """
    try:
        model = apps.get_model(label)
    except (LookupError, ValueError):
        raise NOT_FOUND from None
    admins = [a for a in live_admins(model) if a.admin_site.has_permission(request)]
    if not admins:
        raise NOT_FOUND
    label = model._meta.label_lower
    viewers = [a for a in admins if a.has_view_permission(request)]
    if not viewers:
        raise Refused("forbidden", "You may not view that model.")
    if pk is not None:
        return _object(request, viewers, sub_id, label, pk)
    if field is not None:
        return _group(request, viewers, sub_id, label, field, value)
    return Subscription(sub_id, label, None, None, None, (groups.model_group(label),))


def _object(
    request: HttpRequest, viewers: list[Any], sub_id: str, label: str, pk: str
) -> Subscription:
    try:
        key = viewers[0].model._meta.pk.to_python(pk)
    except ValidationError:
        raise NOT_FOUND from None
    found = False
    for admin in viewers:
        obj = admin.get_queryset(request).filter(pk=key).first()
        if obj is None:
            continue
        found = True
        if admin.has_view_permission(request, obj):
            key_str = str(obj.pk)
            names = (groups.object_group(label, key_str), groups.any_object_group(label))
            return Subscription(sub_id, label, key_str, None, None, names)
    if not found:
        raise Refused("not_found", "No such object.")
    raise Refused("forbidden", "You may not view that object.")


def _group(
    request: HttpRequest,
    viewers: list[Any],
    sub_id: str,
    label: str,
    field: str,
    value: str | None,
) -> Subscription:
    candidates = [a for a in viewers if field in options.group_by(a)]
    if not candidates:
        raise Refused("invalid", "That field is not in the admin's live_group_by.")
    try:
        python_value = (
            None if value is None else candidates[0].model._meta.get_field(field).to_python(value)
        )
    except (FieldDoesNotExist, ValidationError):
        raise Refused("invalid", "That value does not fit the field.") from None
    if not any(a.has_live_group_permission(request, field, python_value) for a in candidates):
        raise Refused("forbidden", "You may not follow that group.")
    text = None if python_value is None else str(python_value)
    names = (groups.field_group(label, field, text), groups.any_field_group(label))
    return Subscription(sub_id, label, None, field, text, names)


def watchable(request: HttpRequest, label: str, pks: list[str]) -> tuple[str, list[str]]:
    """The model's label and those of ``pks`` the user may view (for presence on a changelist's
    rows): in an admin's ``get_queryset`` and passing its ``has_view_permission(request, obj)``.
    Raises :class:`Refused` as for a model subscription."""
    model_sub = resolve(request, "watch", label)
    model = apps.get_model(model_sub.model)
    keys = []
    for pk in pks:
        try:
            keys.append(model._meta.pk.to_python(pk))
        except ValidationError:
            continue
    granted: set[str] = set()
    for admin in live_admins(model):
        if not (admin.admin_site.has_permission(request) and admin.has_view_permission(request)):
            continue
        for obj in admin.get_queryset(request).filter(pk__in=keys):
            if admin.has_view_permission(request, obj):
                granted.add(str(obj.pk))
    return model_sub.model, [pk for pk in pks if pk in granted]
