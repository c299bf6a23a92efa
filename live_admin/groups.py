"""Channel-layer group names for models, objects and object groups.

Channels accepts group names of ASCII letters, digits, ``-``, ``_`` and ``.``, shorter than 100
characters. Labels and values that fit are used as they are (readable in ``redis-cli``); anything
else is replaced by a hash, with a prefix that keeps the two kinds from colliding.
"""

from __future__ import annotations

import hashlib
import re

PREFIX = "live_admin"
_SAFE = re.compile(r"[A-Za-z0-9_-]{1,32}\Z")


def token(value: object, *, length: int = 32) -> str:
    """A group-name-safe token for any value: ``v<value>`` when safe, else ``h<hash>``."""
    if value is None:
        return "n"
    text = str(value)
    if _SAFE.match(text) and len(text) < length:
        return "v" + text
    return "h" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[: length - 1]


def _model(label: str) -> str:
    return f"{PREFIX}.{token(label.replace('.', '-'))}"


def model_group(label: str) -> str:
    """Every change of the model ``label`` (``app_label.model_name``)."""
    return _model(label)


def object_group(label: str, pk: object) -> str:
    """Changes of one object."""
    return f"{_model(label)}.o.{token(pk)}"


def field_group(label: str, field: str, value: object) -> str:
    """Changes of the objects whose ``field`` holds ``value`` (a ``live_group_by`` group)."""
    return f"{_model(label)}.g.{token(field, length=16)}.{token(value)}"


def any_object_group(label: str) -> str:
    """Changes that may touch any object of the model (``notify(model)`` with no pks)."""
    return f"{_model(label)}.o_"


def any_field_group(label: str) -> str:
    """Changes whose object groups are unknown (``notify()``, reverse many-to-many clears)."""
    return f"{_model(label)}.g_"


def session_group(session_key: str) -> str:
    """The sockets of one login session, closed together on logout."""
    return f"{PREFIX}.s.{token(session_key)}"


def presence_group(label: str, pk: object) -> str:
    """Who has one object open (announcements of live admin pages)."""
    return f"{object_group(label, pk)}.p"


def presence_ask_group(label: str) -> str:
    """The pages present on some object of the model, asked who is there by a changelist."""
    return f"{_model(label)}.pa"


def badge_group(label: str) -> str:
    """The pages showing a change badge of the model, told when a batch of its changes is kept."""
    return f"{_model(label)}.b"


def user_group(user: object) -> str:
    """The badge-showing pages of one user, told when they open a changelist."""
    return f"{PREFIX}.u.{token(user)}"
