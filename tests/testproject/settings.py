"""Settings for live_admin's own test suite."""

import json
import os
import tempfile
from pathlib import Path

SECRET_KEY = "live-admin-tests-only"
DEBUG = True
ALLOWED_HOSTS = ["testserver", "localhost", "127.0.0.1"]
USE_TZ = True

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "import_export",
    "live_admin",
    "testapp",
]
# Browser tests of an admin theme (tests/browser/test_themes.py): its app goes before the admin's.
THEME = os.environ.get("LIVE_ADMIN_TEST_THEME")
if THEME:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.admin"), THEME)
if os.environ.get("LIVE_ADMIN_TEST_PGTRIGGER"):  # django-pgtrigger's app, with its migrations
    INSTALLED_APPS.append("pgtrigger")
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
if os.environ.get("LIVE_ADMIN_TEST_CSP") == "1":  # browser tests of a strict policy
    MIDDLEWARE.append("testproject.csp.strict_csp")
ROOT_URLCONF = "testproject.urls"
ASGI_APPLICATION = "testproject.asgi.application"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# A file, so that server and writer processes started by the tests share the test database;
# one per test run (the processes it starts are handed the path), so two runs never share one.
_db = os.environ.get("LIVE_ADMIN_TEST_DB") or str(
    Path(tempfile.gettempdir()) / f"live-admin-test-{os.getpid()}.sqlite3"
)
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": _db,
        "TEST": {"NAME": _db},
        "OPTIONS": {"timeout": 20},
    }
}
if os.environ.get("LIVE_ADMIN_TEST_PG"):  # a PostgreSQL server the tests started (postgres.py)
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            # The suite's test database is made beside this one; the processes it starts are
            # handed the test database's name, as they are the SQLite file's path.
            "NAME": os.environ.get("LIVE_ADMIN_TEST_DB") or "live_admin",
            "USER": "postgres",
            "HOST": "127.0.0.1",
            "PORT": os.environ["LIVE_ADMIN_TEST_PG"],
        }
    }
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

_redis = os.environ.get("LIVE_ADMIN_TEST_REDIS")
CHANNEL_LAYERS = {
    "default": (
        {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [_redis + ("&" if "?" in _redis else "?") + "socket_timeout=10"],
                "group_expiry": int(os.environ.get("LIVE_ADMIN_TEST_GROUP_EXPIRY", "180")),
            },
        }
        if _redis
        else {"BACKEND": "channels.layers.InMemoryChannelLayer"}
    )
}
if os.environ.get("LIVE_ADMIN_TEST_LAYER"):  # Sentinel or shards (tests/topologies.py)
    CHANNEL_LAYERS = {"default": json.loads(os.environ["LIVE_ADMIN_TEST_LAYER"])}
LIVE_ADMIN = {
    "SEND_TIMEOUT": 1.0,
    "RECONNECT_MS": 1000,  # quick reconnects keep browser tests short
    "RECHECK_SECONDS": float(os.environ.get("LIVE_ADMIN_TEST_RECHECK", "60")),
    "MAX_SOCKETS_PER_USER": int(os.environ.get("LIVE_ADMIN_TEST_MAX_SOCKETS", "20")),
    "CAPTURE": os.environ.get("LIVE_ADMIN_TEST_CAPTURE", "signals"),
    # Admins made live by settings alone: django.contrib.auth's own UserAdmin (live in code
    # on the other site too, where the options merge), and a plain ModelAdmin.
    "MODELS": json.loads(os.environ.get("LIVE_ADMIN_TEST_MODELS", "null"))
    or {"auth.user": {}, "testapp.widget": {"live_exclude": ["counted_at"]}},
}
if os.environ.get("LIVE_ADMIN_TEST_BADGE_CACHE"):  # a badge store the test's processes share
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "badges": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["LIVE_ADMIN_TEST_BADGE_CACHE"],
            "OPTIONS": {"socket_timeout": 1, "socket_connect_timeout": 1},
        },
    }
    LIVE_ADMIN["BADGE_CACHE"] = "badges"
