"""Settings for the benchmark project (bench/run.py starts its servers with these)."""

import os

SECRET_KEY = "live-admin-bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "testserver"]
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
    "benchapp",
]
MIDDLEWARE = [
    "benchapp.middleware.server_timing",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
ROOT_URLCONF = "benchproject.urls"
ASGI_APPLICATION = "benchproject.asgi.application"
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
        "NAME": os.environ.get("BENCH_DB", "/tmp/live-admin-bench.sqlite3"),
        "OPTIONS": {"timeout": 30, "init_command": "PRAGMA synchronous=OFF"},
    }
}
if os.environ.get("BENCH_PG"):  # a PostgreSQL server the bench started, on this port
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("BENCH_PG_DB", "postgres"),
        "USER": "postgres",
        "HOST": "127.0.0.1",
        "PORT": os.environ["BENCH_PG"],
        "OPTIONS": {"pool": {"min_size": 2, "max_size": 8}},  # as a deployment would
    }
STATIC_URL = "/static/"
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# BENCH_LAYER: memory (the default), redis (RedisChannelLayer) or pubsub (RedisPubSubChannelLayer).
_layer = os.environ.get("BENCH_LAYER", "memory")
_redis = os.environ.get("BENCH_REDIS", "redis://127.0.0.1:6379/0")
_hosts = [f"{_redis}?socket_timeout=10&max_connections=2000"]
CHANNEL_LAYERS = {
    "default": {
        "memory": {"BACKEND": "channels.layers.InMemoryChannelLayer", "CONFIG": {"capacity": 1000}},
        "redis": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": _hosts, "group_expiry": 300, "capacity": 1000},
        },
        "pubsub": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": _hosts},
        },
    }[_layer]
}
LIVE_ADMIN = {
    "MAX_SOCKETS_PER_USER": 100_000,  # the bench connects thousands of sockets as one user
    "SEND_TIMEOUT": 5.0,
    "MAX_PENDING": 100_000,
    "CAPTURE": os.environ.get("BENCH_CAPTURE", "signals"),  # section 9: "database" too
}
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"live_admin": {"handlers": ["console"], "level": "WARNING"}},
}
