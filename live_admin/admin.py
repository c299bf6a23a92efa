"""The ModelAdmin mixin that makes an admin's pages live."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from django.contrib.admin.sites import all_sites
from django.http import HttpRequest, HttpResponse

from .broadcast import acting, batch
from .observers import observe

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
    from django.db.models import Model

    _Base = ModelAdmin[Any]
else:
    _Base = object

__all__ = ["ORIGIN_FIELD", "ORIGIN_HEADER", "LiveAdminMixin", "live_admins"]

#: A live page sends its origin id with its writes, as this header or this form field.
ORIGIN_HEADER = "X-Live-Admin-Origin"
ORIGIN_FIELD = "_live_origin"
_ORIGIN = re.compile(r"[A-Za-z0-9_-]{1,64}\Z")


class LiveAdminMixin(_Base):
    """Mix into a ModelAdmin to broadcast its model's changes to live admin pages.

    ``live_fields``: only changes to these fields are broadcast (default: every field).
    ``live_group_by``: fields whose values form object groups that pages can subscribe to.
    """

    live_fields: Sequence[str] | None = None
    live_group_by: Sequence[str] = ()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        observe(self)

    def has_live_group_permission(self, request: HttpRequest, field: str, value: object) -> bool:
        """May ``request.user`` follow the object group ``field=value``? Narrow it for tenants.

        Called after ``has_view_permission(request)`` passed. An admin whose ``get_queryset``
        filters rows per user should return False for the groups a user may not see, and its
        pages should subscribe to groups rather than to the whole model.
        """
        return True

    @contextmanager
    def live_acting(self, request: HttpRequest) -> Iterator[None]:
        """Attribute the writes made while serving ``request`` to its user and page, and coalesce
        them (an admin action saving rows one by one sends one message per group)."""
        origin = request.headers.get(ORIGIN_HEADER)
        if origin is None and request.method == "POST":
            origin = request.POST.get(ORIGIN_FIELD)
        if origin is not None and not _ORIGIN.match(origin):
            origin = None
        user = request.user
        by = None
        if user.is_authenticated:
            by = getattr(user, "get_full_name", str)() or user.get_username()
        with acting(by, origin), batch():
            yield

    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.live_acting(request):
            return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.live_acting(request):
            return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        with self.live_acting(request):
            return super().delete_view(request, *args, **kwargs)


def live_admins(model: type[Model]) -> list[LiveAdminMixin]:
    """The live ModelAdmins registered for ``model`` on every admin site."""
    found = []
    for site in list(all_sites):
        admin = site._registry.get(model)
        if isinstance(admin, LiveAdminMixin):
            found.append(admin)
    return found
