"""Health endpoints polled by the load balancer and docker compose: liveness touches
nothing; readiness checks the database, the cache and the Celery broker, each against a
real server or a real port nothing listens on (never a stubbed check)."""

from __future__ import annotations

import socket

import pytest
from django.urls import reverse

from storefront import views
from tests.fixtures.core import unavailable

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_broker_checks():
    """Each test checks the broker afresh (the view remembers a result for 2 s)."""
    views.broker_check_memo.clear()
    yield
    views.broker_check_memo.clear()


def closed_port() -> int:
    """A local TCP port nothing listens on: bound by us, then released."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def filesystem_broker(settings, tmp_path):
    """The embedded default broker, in a folder of this test's own."""
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(tmp_path),
        "data_folder_out": str(tmp_path),
    }
    return tmp_path


def test_live_answers_without_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get(reverse("health-live"))
    assert response.status_code == 200
    assert response.content == b"ok"
    assert "no-cache" in response["Cache-Control"]


def test_ready_is_200_when_database_cache_and_broker_answer(client, filesystem_broker):
    response = client.get(reverse("health-ready"))
    assert response.status_code == 200
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "cache": "ok", "broker": "ok"},
    }
    assert "no-cache" in response["Cache-Control"]


def test_ready_runs_one_query(client, filesystem_broker, django_assert_num_queries):
    with django_assert_num_queries(1) as queries:
        response = client.get(reverse("health-ready"))
    assert response.status_code == 200
    assert queries.captured_queries[0]["sql"] == "SELECT 1"


def test_ready_pings_a_redis_broker(client, settings):
    if not settings.REDIS_URL:
        unavailable("needs Redis: set REDIS_URL=redis://... to run it")
    settings.CELERY_BROKER_URL = settings.REDIS_URL
    response = client.get(reverse("health-ready"))
    assert response.status_code == 200
    assert response.json()["checks"]["broker"] == "ok"


def test_ready_is_503_naming_the_broker_when_redis_is_unreachable(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get(reverse("health-ready"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "ok", "cache": "ok", "broker": "error"},
    }


def test_ready_is_503_when_an_amqp_broker_is_unreachable(client, settings):
    # Any other kombu transport goes through one kombu connection attempt.
    settings.CELERY_BROKER_URL = f"amqp://guest:guest@127.0.0.1:{closed_port()}//"
    response = client.get(reverse("health-ready"))
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "error"}


def test_ready_is_503_when_the_filesystem_broker_folder_is_missing(
    client, settings, filesystem_broker
):
    missing = str(filesystem_broker / "gone")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": missing,
        "data_folder_out": missing,
    }
    response = client.get(reverse("health-ready"))
    assert response.status_code == 503
    assert response.json()["checks"] == {"database": "ok", "cache": "ok", "broker": "error"}


def test_ready_is_503_when_the_cache_is_unreachable(client, settings, filesystem_broker):
    # A real Redis client pointed at a port nothing listens on.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{closed_port()}/0",
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
    response = client.get(reverse("health-ready"))
    assert response.status_code == 503
    assert response.json() == {
        "status": "error",
        "checks": {"database": "ok", "cache": "error", "broker": "ok"},
    }
