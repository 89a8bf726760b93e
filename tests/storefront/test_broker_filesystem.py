"""The embedded filesystem broker (`make run` without Redis): a worker reading the queue
while the web process writes to it only ever sees whole messages."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from django.conf import settings
from kombu import Connection

from storefront.broker_filesystem import Transport

MESSAGES = 300  # of 200 kB: long writes, so the stock transport loses the race often


def connection(folder) -> Connection:
    return Connection(
        transport=Transport,
        transport_options={
            "data_folder_in": str(folder),
            "data_folder_out": str(folder),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        },
    )


@pytest.fixture
def folder(tmp_path):
    for sub in ("processed", "control"):
        (tmp_path / sub).mkdir()
    return tmp_path


PRODUCER = """
import sys
from django.conf import settings
from kombu import Connection
from storefront.broker_filesystem import Transport
folder = sys.argv[1]
options = {
    "data_folder_in": folder, "data_folder_out": folder,
    "processed_folder": folder + "/processed", "control_folder": folder + "/control",
    "store_processed": False,
}
with Connection(transport=Transport, transport_options=options) as conn:
    queue = conn.SimpleQueue("tasks")
    for number in range(int(sys.argv[2])):
        queue.put({"number": number, "padding": "x" * 200_000})
"""


def test_a_reader_polling_while_another_process_writes_gets_every_message_whole(folder):
    """As under `make run`: the web process publishes while the worker polls the folder."""
    producer = subprocess.Popen(
        [sys.executable, "-c", PRODUCER, str(folder), str(MESSAGES)],
        cwd=settings.BASE_DIR,
        stderr=subprocess.PIPE,
    )
    received: list[int] = []
    deadline = time.monotonic() + 60
    with connection(folder) as conn:
        queue = conn.SimpleQueue("tasks")
        while len(received) < MESSAGES and time.monotonic() < deadline:
            try:
                message = queue.get(timeout=0.01)  # a half-written file raised JSONDecodeError
            except queue.Empty:
                if producer.poll() not in (None, 0):
                    break
                continue
            received.append(message.payload["number"])
            message.ack()
        queue.close()
    _, errors = producer.communicate(timeout=60)
    assert producer.returncode == 0, errors.decode()
    assert sorted(received) == list(range(MESSAGES))


def test_part_files_are_not_read_as_messages(folder):
    # (Its own queue name: kombu keeps queue bindings per transport class, per process.)
    (folder / ".1_abc.parts.msg.part").write_bytes(b"")  # a message being written
    with connection(folder) as conn:
        queue = conn.SimpleQueue("parts")
        queue.put({"number": 1})
        assert queue.get(timeout=1).payload == {"number": 1}
        with pytest.raises(queue.Empty):
            queue.get(timeout=0.05)
        queue.close()
    assert (folder / ".1_abc.parts.msg.part").exists()


def test_filesystem_urls_use_the_atomic_transport():
    """``filesystem://`` (make run's default broker) resolves to this transport, while any
    other URL keeps its own (the broker the settings name is the one used)."""
    from storefront.celery import app

    assert isinstance(Connection("filesystem://").transport, Transport)
    assert not isinstance(Connection("memory://").transport, Transport)
    assert app.conf.broker_transport is None
