"""Settings of the example project; development only (DEBUG on, a fixed secret key)."""

import os
from pathlib import Path
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = "example-only-not-secret"
DEBUG = True
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "django.contrib.auth",
    "django.contrib.sessions",
    "roadie.contrib.django",
    "orders",
]

MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
]

ROOT_URLCONF = "shop_project.urls"

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ.get("SHOP_DB", str(BASE_DIR / "db.sqlite3")),
    }
}

# DATABASE_URL=postgresql://user:password@host:5432/name switches to
# PostgreSQL (needs psycopg: pip install 'psycopg[binary]').
if os.environ.get("DATABASE_URL"):
    _database = urlsplit(os.environ["DATABASE_URL"])
    if _database.scheme not in ("postgres", "postgresql"):
        raise ValueError(f"DATABASE_URL must be a postgresql:// URL, got scheme {_database.scheme!r}")
    DATABASES["default"] = {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": unquote(_database.path.lstrip("/")),
        "USER": unquote(_database.username or ""),
        "PASSWORD": unquote(_database.password or ""),
        "HOST": _database.hostname or "",
        "PORT": str(_database.port or ""),
    }

# The keys of roadie.yml. The Redis URL comes from $REDIS_URL, else
# redis://localhost:6379/0. Jobs enqueued inside a transaction wait for its
# commit (defer_until_commit, on by default).
ROADIE = {"queues": ["receipts", "default"]}
