"""The live admin protocol: message types, channel-layer group names, close and error codes,
and the limits the page scripts share.

Channels accepts group names of ASCII letters, digits, ``-``, ``_`` and ``.``, shorter than 100
characters. Labels and values that fit are used as they are (readable in ``redis-cli``); anything
else is replaced by a hash, with a prefix that keeps the two kinds from colliding.

Nothing here imports the rest of the package: every stage may use it.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

# -- message types on the channel layer --------------------------------------------------------

#: A change of rows (content-free: which model, objects and fields, never values).
CHANGED = "live_admin.changed"
#: A session logged out: its sockets close.
LOGOUT = "live_admin.logout"
#: Someone's presence on an object (viewing, editing, gone) or a changelist's question.
PRESENCE = "live_admin.presence"
#: A batch of a model's changes was stored for its change badges.
BADGE = "live_admin.badge"
#: A user opened a changelist: their badge of it clears.
SEEN = "live_admin.seen"
#: Told to a socket when changes may not reach it (its hub lost the channel layer).
DELAYED = "live_admin.delayed"
#: Told to a socket when it may have missed events: its page checks what it shows.
RESYNC = "live_admin.resync"
#: A page's message POSTed for its event stream (the fallback transport), on its way to it.
CLIENT = "live_admin.client"
#: Event types a hub hands to its sockets; anything else on its channel is dropped.
ROUTED = frozenset({CHANGED, LOGOUT, PRESENCE, BADGE, SEEN, CLIENT})

# -- close codes and error codes (docs/protocol.md) ---------------------------------------------

CLOSE_NOT_LOGGED_IN = 4401
CLOSE_NOT_ALLOWED = 4403
CLOSE_TOO_MANY_SOCKETS = 4429
CLOSE_TOO_BIG = 4009

# -- limits shared with the page scripts ---------------------------------------------------------

MAX_ID_LENGTH = 64
MAX_VALUE_LENGTH = 255
#: Objects one model or group message describes one by one (for row refreshes); past this,
#: pages refresh whole lists.
MAX_OBJECTS = 200
#: Rows one watch may follow (a changelist page shows 100 by default).
MAX_WATCHED = 200
#: How often a page repeats its presence (seconds), and how long others keep it without one.
HEARTBEAT = 4
TTL = 10
#: Parts one conflict token may have (an object, a form and its formsets' rows).
MAX_PARTS = 100


def page_limits() -> dict[str, int]:
    """The limits a page script reads from its ``data-*`` attributes."""
    return {"max_watched": MAX_WATCHED, "max_parts": MAX_PARTS, "heartbeat": HEARTBEAT}


#: Models one page may ask change badges of.
MAX_MODELS = 200


def display_name(user: Any) -> str:
    """How live_admin names a user to others (``by``, presence): full name, else username."""
    return getattr(user, "get_full_name", str)() or user.get_username()


# -- channel-layer group names -------------------------------------------------------------------
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


def stream_group(stream: str) -> str:
    """One page's event stream, which the page's POSTed messages reach."""
    return f"{PREFIX}.t.{token(stream)}"


def session_group(session_key: str) -> str:
    """The sockets of one login session, closed together on logout."""
    return f"{PREFIX}.s.{token(session_key)}"


def presence_group(label: str, pk: object) -> str:
    """Who has one object open (announcements of live admin pages)."""
    return f"{object_group(label, pk)}.p"


def presence_ask_group(label: str) -> str:
    """The pages present on some object of the model, asked who is there by a changelist."""
    return f"{_model(label)}.pa"


def badge_group(label: str, scope: str = "") -> str:
    """The pages showing a change badge of the model, told when a batch of its changes is kept
    (``scope``: a process's own mark when each process counts its own badges)."""
    return f"{_model(label)}.b{scope and '.' + token(scope)}"


def user_group(user: object, scope: str = "") -> str:
    """The badge-showing pages of one user, told when they open a changelist."""
    return f"{PREFIX}.u.{token(user)}{scope and '.' + token(scope)}"
