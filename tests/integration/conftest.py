"""Fixtures for the fault tests (issue 7): a Redis server of the test's own, which it may
stop and start again, and real Celery workers whose broker is that server.

The shared Redis (``REDIS_URL``, what CI and other runs use) is never stopped or flushed
here: the broker is a private ``redis-server`` on a free port, without persistence, so a
restart also loses every message that was in it (the worst case for "nothing committed is
lost"). The cache stays on ``REDIS_URL``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.db import connection

from storefront.celery import app as celery_app
from tests.fixtures.celery import _forget_broker_connections
from tests.fixtures.core import unavailable
from tests.fixtures.worker import CeleryWorkers, _database_url


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class OwnRedis:
    """A ``redis-server`` on ``port`` that the test owns: ``stop()`` and ``start()`` it."""

    binary: str
    port: int
    process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                self.binary,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--save",
                "",
                "--appendonly",
                "no",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.is_up():
                return
            time.sleep(0.05)
        pytest.fail(f"redis-server did not start on port {self.port}")

    def stop(self) -> None:
        """Stop the server (SIGKILL: nothing is saved, queued messages are gone)."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self.process = None

    def is_up(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False


@pytest.fixture
def own_redis() -> Iterator[OwnRedis]:
    binary = shutil.which("redis-server")
    if binary is None:
        unavailable("needs the redis-server binary to run a Redis of the test's own")
    server = OwnRedis(binary=binary, port=_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_broker_workers(settings, sandbox_url: str, own_redis: OwnRedis) -> Iterator[CeleryWorkers]:
    """Like ``celery_workers`` (tests/fixtures/worker.py), with ``own_redis`` as the broker
    of the workers and of this process."""
    redis_url = os.environ.get("REDIS_URL", "")
    if connection.vendor != "postgresql" or not redis_url:
        unavailable("needs PostgreSQL and Redis (DATABASE_URL and REDIS_URL) for a real worker")
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(),
        "REDIS_URL": redis_url,
        "CELERY_BROKER_URL": own_redis.url,
        "SANDBOX_URL": sandbox_url,
        "FX_RATE_SOURCE_URL": f"{sandbox_url}/fx/rates",
        "STRIPE_API_BASE": settings.STRIPE_API_BASE,
        "PYTHONUNBUFFERED": "1",
        "TRACKING_REPOLL_SECONDS": "0",
        "SOURCING_BATCH_SECONDS": "0",
    }
    for name in ("TRACKING_URL", "SOURCING_URL", "CUSTOMS_CHECK_URL", "CARRIER_POINTS_URL"):
        env.pop(name, None)  # derived from SANDBOX_URL
    workers = CeleryWorkers(env)
    previous = celery_app.conf.broker_url
    _forget_broker_connections()
    celery_app.conf.broker_url = own_redis.url
    try:
        yield workers
    finally:
        workers.stop_all()
        _forget_broker_connections()
        celery_app.conf.broker_url = previous
