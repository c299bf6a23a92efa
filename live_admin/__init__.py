"""Live updates for the Django admin."""

from __future__ import annotations

from typing import Any

__all__ = ["LiveAdminMixin", "batch", "notify", "send_stats"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    # Imported lazily: these need configured settings, the package itself does not.
    if name == "LiveAdminMixin":
        from .pages.mixin import LiveAdminMixin

        return LiveAdminMixin
    if name in ("batch", "notify"):
        from .capture import record

        return getattr(record, name)
    if name == "send_stats":
        from .delivery.sender import stats

        return stats
    raise AttributeError(f"module 'live_admin' has no attribute {name!r}")
