"""Live updates for the Django admin."""

from __future__ import annotations

from typing import Any

__all__ = ["LiveAdminMixin", "batch", "notify"]
__version__ = "0.1.0.dev0"


def __getattr__(name: str) -> Any:
    # Imported lazily: these need configured settings, the package itself does not.
    if name == "LiveAdminMixin":
        from .admin import LiveAdminMixin

        return LiveAdminMixin
    if name in ("batch", "notify"):
        from . import broadcast

        return getattr(broadcast, name)
    raise AttributeError(f"module 'live_admin' has no attribute {name!r}")
