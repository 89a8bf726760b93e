"""The embedded defaults and the environment switch to PostgreSQL/Redis."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _settings_in_subprocess(env: dict[str, str], code: str) -> dict:
    """Load the settings in a fresh interpreter with exactly the given environment."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_", "REDIS_", "CELERY_"))
    }
    clean.update(env, DJANGO_SETTINGS_MODULE="storefront.settings")
    program = "import django, json; django.setup(); from django.conf import settings\n" + code
    out = subprocess.run(
        [sys.executable, "-c", program],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_embedded_defaults_use_sqlite_wal_filesystem_broker_and_local_memory_cache(tmp_path):
    database = tmp_path / "db.sqlite3"
    result = _settings_in_subprocess(
        {"DATABASE_URL": f"sqlite:///{database}"},
        "from django.db import connection\n"
        "c = connection.cursor(); c.execute('PRAGMA journal_mode')\n"
        "print(json.dumps({'journal': c.fetchone()[0], 'broker': settings.CELERY_BROKER_URL,"
        " 'cache': settings.CACHES['default']['BACKEND']}))",
    )
    assert result == {
        "journal": "wal",
        "broker": "filesystem://",
        "cache": "django.core.cache.backends.locmem.LocMemCache",
    }


def test_empty_variables_mean_the_embedded_defaults():
    result = _settings_in_subprocess(
        {"DATABASE_URL": "", "REDIS_URL": "", "CELERY_BROKER_URL": ""},
        "print(json.dumps({'engine': settings.DATABASES['default']['ENGINE'],"
        " 'broker': settings.CELERY_BROKER_URL}))",
    )
    assert result == {"engine": "django.db.backends.sqlite3", "broker": "filesystem://"}


def test_database_and_redis_urls_switch_to_postgresql_and_redis():
    result = _settings_in_subprocess(
        {
            "DATABASE_URL": "postgres://u:p@db.example:5432/store",
            "REDIS_URL": "redis://cache.example:6379/0",
        },
        "d = settings.DATABASES['default']\n"
        "print(json.dumps({'engine': d['ENGINE'], 'host': d['HOST'], 'name': d['NAME'],"
        " 'broker': settings.CELERY_BROKER_URL, 'cache': settings.CACHES['default']['BACKEND'],"
        " 'location': settings.CACHES['default']['LOCATION']}))",
    )
    assert result == {
        "engine": "django.db.backends.postgresql",
        "host": "db.example",
        "name": "store",
        "broker": "redis://cache.example:6379/0",
        "cache": "storefront.cache_redis.ReusingRedisCache",
        "location": "redis://cache.example:6379/0",
    }


@pytest.mark.django_db
@pytest.mark.skipif(
    not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")),
    reason="checks the CI configuration: needs DATABASE_URL and REDIS_URL set",
)
def test_suite_runs_on_the_database_and_cache_the_environment_names():
    """Under CI the suite really runs on PostgreSQL and Redis, not on a fallback."""
    from django.core.cache import cache, caches
    from django.db import connection

    assert connection.vendor == "postgresql"
    from django.core.cache.backends.redis import RedisCache

    assert isinstance(caches["default"], RedisCache)
    cache.set("ci-probe", 1)
    assert cache.get("ci-probe") == 1
