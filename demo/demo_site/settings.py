"""Settings of the django-live-admin demo. Not for production."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY = "demo-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["localhost", "127.0.0.1"]
# After logging in at /admin/login/, the admin (Unfold and Jazzmin drop the "next" there).
LOGIN_REDIRECT_URL = "/admin/"
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
    "live_admin",
    "shop",
]
# DEMO_THEME=jazzmin, grappelli or unfold (`DEMO_THEME=unfold make demo` installs it): the demo on
# an admin theme; its app goes before the admin's.
DEMO_THEME = os.environ.get("DEMO_THEME") or None
if DEMO_THEME not in (None, "jazzmin", "grappelli", "unfold"):
    raise SystemExit(f"DEMO_THEME={DEMO_THEME!r}: one of jazzmin, grappelli and unfold")
if DEMO_THEME:
    INSTALLED_APPS.insert(INSTALLED_APPS.index("django.contrib.admin"), DEMO_THEME)
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "demo_site.urls"
ASGI_APPLICATION = "demo_site.asgi.application"
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
DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
        "OPTIONS": {"timeout": 20},
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
STATIC_URL = "/static/"

LIVE_ADMIN = {
    "DEBOUNCE_MS": 300,
    # Django's own user and group admins, made live by settings alone.
    "MODELS": {"auth.user": {}, "auth.group": {}},
}

# One process on channels' in-memory layer by default; DEMO_REDIS_URL=redis://... for Redis. That
# layer serves only live_admin here, so it takes the README's advice directly: group_expiry about
# three times RECHECK_SECONDS (60 s by default), so a killed server leaves its groups (W009).
if os.environ.get("DEMO_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["DEMO_REDIS_URL"]], "group_expiry": 180},
        }
    }
    # Change badges are counted in the same Redis (the default on channels-redis), so every
    # process counts every change.
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

# Added to Django's default logging, which shows daphne's access log, request tracebacks and
# server errors (such as a port in use).
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {
        "daphne": {"handlers": ["console"], "level": "WARNING"},
        "live_admin": {"handlers": ["console"], "level": "INFO"},
    },
}
