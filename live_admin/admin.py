"""The public ModelAdmin mixin: ``from live_admin.admin import LiveAdminMixin``."""

from __future__ import annotations

from .pages.mixin import LiveAdminMixin
from .registry import live_admins

__all__ = ["LiveAdminMixin", "live_admins"]
