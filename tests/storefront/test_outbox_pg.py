"""The outbox under concurrency, on PostgreSQL: workers delivering the same event at the
same time, each with its own connection. A subscriber's effect happens exactly once and
its success is recorded exactly once."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from storefront.events import DeliveryOutcome, event_deliver, event_publish, subscribe, unsubscribe
from storefront.models import OutboxDelivery, OutboxEvent
from tests.storefront.test_outbox import TOPIC, PublishedTasks, celery_broker

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

WAIT = 30  # seconds; only reached when something is broken


@pytest.fixture
def memory_broker() -> Iterator[PublishedTasks]:
    # Publishing commits for real here, so the relay is enqueued: keep it in memory.
    with celery_broker("memory://") as published:
        yield published


@pytest.fixture
def effects() -> Iterator[dict]:
    """A subscriber (``tests.outbox.capture_points``) that records each run and, while
    ``hold`` is set, waits inside its transaction (holding its delivery row) until
    ``release`` is set."""
    state = {
        "runs": [],
        "lock": threading.Lock(),
        "hold": threading.Event(),
        "inside": threading.Event(),
        "release": threading.Event(),
    }

    def capture_points(event: OutboxEvent) -> None:
        with state["lock"]:
            state["runs"].append(event.pk)
        state["inside"].set()
        if state["hold"].is_set():
            assert state["release"].wait(timeout=WAIT)

    subscribe(TOPIC, capture_points, name="tests.outbox.capture_points")
    yield state
    state["release"].set()
    unsubscribe(TOPIC, "tests.outbox.capture_points")


def publish() -> OutboxEvent:
    with transaction.atomic():
        return event_publish(
            topic=TOPIC, aggregate_type="order", aggregate_id=42, payload={"order_id": 42}
        )


def deliver_in_thread(event_id: int, outcomes: list) -> threading.Thread:
    def run() -> None:
        try:
            outcomes.append(event_deliver(event_id=event_id))
        except Exception as exc:  # surfaced by the test's assertions
            outcomes.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_a_second_worker_skips_the_subscriber_the_first_one_is_running(memory_broker, effects):
    event = publish()
    effects["hold"].set()
    first_outcomes: list = []
    second_outcomes: list = []

    first = deliver_in_thread(event.pk, first_outcomes)
    assert effects["inside"].wait(timeout=WAIT)  # the first worker holds the delivery row
    second = deliver_in_thread(event.pk, second_outcomes)
    second.join(timeout=WAIT)  # returns without waiting for the first
    assert not second.is_alive()
    effects["release"].set()
    first.join(timeout=WAIT)

    [first_outcome] = first_outcomes
    [second_outcome] = second_outcomes
    assert isinstance(first_outcome, DeliveryOutcome)
    assert first_outcome.succeeded == ("tests.outbox.capture_points",)
    assert second_outcome == DeliveryOutcome(
        event_id=event.pk, busy=("tests.outbox.capture_points",)
    )
    assert effects["runs"] == [event.pk]
    delivery = OutboxDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1


def test_many_workers_delivering_one_event_at_once_run_the_subscriber_once(memory_broker, effects):
    event = publish()
    start = threading.Barrier(8)
    outcomes: list = []

    def worker() -> None:
        try:
            start.wait(timeout=WAIT)
            outcomes.append(event_deliver(event_id=event.pk))
        except Exception as exc:
            outcomes.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=WAIT)

    assert all(isinstance(outcome, DeliveryOutcome) for outcome in outcomes), outcomes
    assert len(outcomes) == 8
    assert effects["runs"] == [event.pk]
    assert sum(len(outcome.succeeded) for outcome in outcomes) == 1
    assert OutboxDelivery.objects.filter(event=event).count() == 1
    delivery = OutboxDelivery.objects.get(event=event)
    assert (delivery.status, delivery.attempts) == ("succeeded", 1)
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_delivery_locks_its_row_with_skip_locked(memory_broker, effects):
    event = publish()

    with CaptureQueriesContext(connection) as queries:
        event_deliver(event_id=event.pk)

    assert any(
        "FOR UPDATE SKIP LOCKED" in q["sql"] and "storefront_outboxdelivery" in q["sql"]
        for q in queries.captured_queries
    )
    assert effects["runs"] == [event.pk]
