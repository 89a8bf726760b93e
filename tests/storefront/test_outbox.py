"""The domain-event outbox: publishing in the caller's transaction, enqueueing the relay
after commit (and surviving a broker that is down), delivering each subscriber once with
its success recorded exactly once, retries, the sweep, and the read-only admin.

The relay is enqueued for real, to an in-memory Celery broker (``memory_broker``); a test
plays the worker by running what was published with the task's ``apply`` (eagerly, with
its retries). No worker runs and nothing reaches the development broker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

import pytest
from celery.signals import after_task_publish
from django.contrib.auth.models import Group, Permission, User
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse, reverse_lazy
from django.utils import timezone
from kombu.transport import memory

from storefront.celery import app as celery_app
from storefront.events import (
    event_deliver,
    event_publish,
    events_relay_due,
    subscribe,
    subscriber,
    subscribers_for,
    unsubscribe,
)
from storefront.models import OutboxDelivery, OutboxEvent
from storefront.tasks import outbox_relay, outbox_sweep

TOPIC = "outbox_test.happened"
FOLLOW_UP = "outbox_test.followed"
UNREACHABLE_BROKER = "redis://127.0.0.1:1/0"  # nothing listens on port 1

CHANGELIST = reverse_lazy("admin:storefront_outboxevent_changelist")

pytestmark = pytest.mark.django_db


# --- A broker for the test, and the test playing the worker -------------------------------


@dataclass
class PublishedTasks:
    """Task messages the broker accepted during the test, as (task name, args)."""

    messages: list[tuple[str, list]] = field(default_factory=list)

    def relays(self) -> list[int]:
        """The event ids of the relay messages, in publishing order."""
        return [args[0] for name, args in self.messages if name == outbox_relay.name]

    def run_relays(self) -> list:
        """Play the worker: run every published relay (with its retries), then forget them."""
        event_ids, self.messages = self.relays(), []
        return [outbox_relay.apply(args=[event_id]) for event_id in event_ids]


def _forget_broker_connections() -> None:
    # The app keeps a connection pool for the broker URL it first used; drop it so the
    # next message goes to the URL configured now. (Not closed: kombu keeps one pool per
    # URL process-wide and hands the same one out again.)
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@contextmanager
def celery_broker(url: str) -> Iterator[PublishedTasks]:
    """Point the Celery app at ``url`` and record what it accepts."""
    published = PublishedTasks()

    def record(sender=None, body=None, **kwargs) -> None:
        published.messages.append((sender, list(body[0])))

    previous = celery_app.conf.broker_url
    _forget_broker_connections()
    celery_app.conf.broker_url = url
    after_task_publish.connect(record, weak=False)
    try:
        yield published
    finally:
        after_task_publish.disconnect(record)
        _forget_broker_connections()
        celery_app.conf.broker_url = previous
        memory.Channel.queues.clear()


@pytest.fixture
def memory_broker() -> Iterator[PublishedTasks]:
    with celery_broker("memory://") as published:
        yield published


@pytest.fixture
def broker_down() -> Iterator[PublishedTasks]:
    with celery_broker(UNREACHABLE_BROKER) as published:
        yield published


# --- Test subscribers ---------------------------------------------------------------------


@pytest.fixture
def register() -> Iterator[Callable[..., list[int]]]:
    """``register(name, behaviour=None, topic=TOPIC)`` subscribes a recording function
    (named ``tests.outbox.<name>``) and returns the list of event ids it was called with;
    ``behaviour(event, call_number)`` may raise or write. Unsubscribed after the test."""
    registered: list[tuple[str, str]] = []

    def _register(name: str, behaviour=None, topic: str = TOPIC) -> list[int]:
        calls: list[int] = []

        def handler(event: OutboxEvent) -> None:
            calls.append(event.pk)
            if behaviour is not None:
                behaviour(event, len(calls))

        subscribe(topic, handler, name=f"tests.outbox.{name}")
        registered.append((topic, f"tests.outbox.{name}"))
        return calls

    yield _register
    for topic, name in registered:
        unsubscribe(topic, name)


def fail_first(times: int):
    def behaviour(event: OutboxEvent, call_number: int) -> None:
        if call_number <= times:
            raise RuntimeError("carrier points unavailable")

    return behaviour


def always_fail(event: OutboxEvent, call_number: int) -> None:
    raise RuntimeError("carrier points unavailable")


def publish(aggregate_id: int = 42, topic: str = TOPIC, **payload) -> OutboxEvent:
    with transaction.atomic():
        return event_publish(
            topic=topic,
            aggregate_type="order",
            aggregate_id=aggregate_id,
            payload=payload or {"order_id": aggregate_id, "total_krw": 15000},
        )


def publish_then_fail(*, aggregate_id: int) -> None:
    """A service that publishes, then fails before its transaction commits."""
    with transaction.atomic():
        event_publish(topic=TOPIC, aggregate_type="order", aggregate_id=aggregate_id, payload={})
        raise ValueError("payment declined")


def make_due(event: OutboxEvent, *, seconds_ago: int = 120) -> None:
    """Arrange an event published ``seconds_ago`` whose sweep time has passed."""
    then = timezone.now() - timedelta(seconds=seconds_ago)
    OutboxEvent.objects.filter(pk=event.pk).update(
        created_at=then, next_attempt_at=then + timedelta(seconds=60)
    )


def deliveries(event: OutboxEvent) -> dict[str, tuple[str, int]]:
    return {
        d.subscriber.removeprefix("tests.outbox."): (d.status, d.attempts)
        for d in OutboxDelivery.objects.filter(event=event)
    }


# --- Publish ------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_raises_and_writes_nothing(memory_broker):
    with pytest.raises(RuntimeError, match=r"inside the transaction\.atomic\(\) block"):
        event_publish(topic=TOPIC, aggregate_type="order", aggregate_id=1, payload={"order_id": 1})

    assert OutboxEvent.objects.count() == 0
    assert memory_broker.messages == []


@pytest.mark.django_db(transaction=True)
def test_publish_in_a_rolled_back_transaction_leaves_no_row_and_enqueues_nothing(
    memory_broker, register
):
    calls = register("effect")

    with pytest.raises(ValueError, match="payment declined"):
        publish_then_fail(aggregate_id=7)

    assert OutboxEvent.objects.count() == 0
    assert memory_broker.messages == []
    assert calls == []


@pytest.mark.django_db(transaction=True)
def test_commit_enqueues_one_relay_for_the_event_and_not_before(memory_broker, register):
    calls = register("effect")

    with transaction.atomic():
        event = event_publish(
            topic=TOPIC, aggregate_type="order", aggregate_id=7, payload={"order_id": 7}
        )
        assert memory_broker.messages == []  # nothing leaves before the commit

    assert memory_broker.messages == [("storefront.tasks.outbox_relay", [event.pk])]
    [result] = memory_broker.run_relays()
    assert result.successful()
    assert calls == [event.pk]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_on_commit_callback_enqueues_the_relay(
    memory_broker, register, django_capture_on_commit_callbacks
):
    calls = register("effect")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        event = publish(aggregate_id=9)

    assert len(callbacks) == 1
    assert memory_broker.relays() == [event.pk]
    assert calls == []  # enqueued, not run: that is the worker's job
    memory_broker.run_relays()
    assert calls == [event.pk]


def test_a_rolled_back_savepoint_drops_its_on_commit_enqueue(
    memory_broker, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        kept = publish(aggregate_id=1)
        with pytest.raises(ValueError, match="payment declined"):
            publish_then_fail(aggregate_id=2)

    assert len(callbacks) == 1
    assert memory_broker.relays() == [kept.pk]
    assert list(OutboxEvent.objects.values_list("aggregate_id", flat=True)) == ["1"]


@pytest.mark.django_db(transaction=True)
def test_a_broker_that_is_down_at_commit_is_logged_and_the_sweep_catches_up(
    broker_down, register, caplog
):
    calls = register("effect")

    # The committed request does not see the broker error.
    with caplog.at_level(logging.WARNING, logger="storefront.events"), transaction.atomic():
        event = event_publish(
            topic=TOPIC, aggregate_type="order", aggregate_id=3, payload={"order_id": 3}
        )

    assert broker_down.messages == []
    assert f"Could not enqueue the relay of outbox event {event.pk}" in caplog.text
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert calls == []

    make_due(event)
    with celery_broker("memory://") as broker_back:
        assert outbox_sweep.apply().result == 1
        assert broker_back.relays() == [event.pk]
        broker_back.run_relays()
    assert calls == [event.pk]
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_publish_stores_the_event_with_a_string_aggregate_id_and_plain_payload():
    before = timezone.now()
    event = publish(aggregate_id=42, order_id=42, number="GS-0042", total_krw=15000)

    event.refresh_from_db()
    assert (event.topic, event.aggregate_type, event.aggregate_id) == (TOPIC, "order", "42")
    assert event.payload == {"order_id": 42, "number": "GS-0042", "total_krw": 15000}
    assert event.dispatched_at is None
    assert event.attempts == 0
    assert event.next_attempt_at == event.created_at + timedelta(seconds=60)
    assert event.created_at >= before


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"topic": "OrderPaid"}, ValueError, "must look like 'order.paid'"),
        ({"topic": "order"}, ValueError, "must look like 'order.paid'"),
        ({"aggregate_id": ""}, ValueError, "aggregate_id"),
        ({"payload": {"amount_usd": Decimal("12.50")}}, TypeError, "plain JSON values"),
        ({"payload": {"ratio": float("nan")}}, TypeError, "plain JSON values"),
        ({"payload": [1, 2]}, TypeError, "is a dict"),
    ],
)
def test_publish_refuses_malformed_events_and_writes_nothing(kwargs, error, match):
    arguments = {"topic": TOPIC, "aggregate_type": "order", "aggregate_id": 1, "payload": {}}
    arguments.update(kwargs)

    with pytest.raises(error, match=match), transaction.atomic():
        event_publish(**arguments)

    assert OutboxEvent.objects.count() == 0


# --- Registry -----------------------------------------------------------------------------


def test_the_decorator_registers_one_function_for_several_topics_under_its_dotted_name():
    @subscriber("outbox_test.one", "outbox_test.two")
    def on_either(event: OutboxEvent) -> None:
        pass

    name = f"{__name__}.{on_either.__qualname__}"
    try:
        assert subscribers_for("outbox_test.one") == {name: on_either}
        assert subscribers_for("outbox_test.two") == {name: on_either}
        subscribe("outbox_test.one", on_either)  # registering it again is harmless
        assert subscribers_for("outbox_test.one") == {name: on_either}
    finally:
        unsubscribe("outbox_test.one", on_either)
        unsubscribe("outbox_test.two", on_either)
    assert subscribers_for("outbox_test.one") == {}


def test_two_functions_cannot_share_one_subscriber_name(register):
    register("points_capture")

    with pytest.raises(ValueError, match="already registered"):
        subscribe(TOPIC, lambda event: None, name="tests.outbox.points_capture")
    with pytest.raises(ValueError, match="must look like"):
        subscribe("paid", lambda event: None)


# --- Deliver ------------------------------------------------------------------------------


def test_deliver_runs_each_subscriber_once_even_when_delivered_twice(register):
    allocations = register("allocate")
    points = register("capture_points")
    event = publish()

    first = event_deliver(event_id=event.pk)
    second = event_deliver(event_id=event.pk)

    assert allocations == [event.pk]
    assert points == [event.pk]
    assert first.succeeded == ("tests.outbox.allocate", "tests.outbox.capture_points")
    assert first.dispatched is True
    assert (second.dispatched, second.succeeded, second.failed) == (True, (), ())
    assert deliveries(event) == {
        "allocate": ("succeeded", 1),
        "capture_points": ("succeeded", 1),
    }
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 1
    assert event.last_error == ""


def test_a_failing_subscriber_records_its_error_and_only_it_runs_again(register):
    allocations = register("allocate")
    points = register("capture_points", fail_first(1))
    event = publish()

    first = event_deliver(event_id=event.pk)

    assert first.failed == ("tests.outbox.capture_points",)
    assert first.succeeded == ("tests.outbox.allocate",)
    assert first.dispatched is False
    assert deliveries(event) == {"allocate": ("succeeded", 1), "capture_points": ("failed", 1)}
    failed = OutboxDelivery.objects.get(event=event, subscriber="tests.outbox.capture_points")
    assert "RuntimeError: carrier points unavailable" in failed.last_error
    assert "Traceback" in failed.last_error
    assert failed.succeeded_at is None
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.attempts == 1
    assert event.last_error == (
        "tests.outbox.capture_points: RuntimeError: carrier points unavailable"
    )
    assert event.next_attempt_at > timezone.now()  # backed off for the sweep

    second = event_deliver(event_id=event.pk)

    assert second.succeeded == ("tests.outbox.capture_points",)
    assert second.dispatched is True
    assert allocations == [event.pk]  # the succeeded subscriber is not run again
    assert points == [event.pk, event.pk]
    assert deliveries(event) == {
        "allocate": ("succeeded", 1),
        "capture_points": ("succeeded", 2),
    }
    failed.refresh_from_db()
    assert failed.last_error == ""
    assert failed.succeeded_at is not None
    event.refresh_from_db()
    assert event.dispatched_at is not None
    assert event.attempts == 2
    assert event.last_error == ""


def test_a_failing_subscriber_s_writes_roll_back_and_a_succeeding_one_s_commit(register):
    def publish_follow_up_then_fail(event: OutboxEvent, call_number: int) -> None:
        event_publish(topic=FOLLOW_UP, aggregate_type="order", aggregate_id="failed", payload={})
        raise RuntimeError("after writing")

    def publish_follow_up(event: OutboxEvent, call_number: int) -> None:
        event_publish(topic=FOLLOW_UP, aggregate_type="order", aggregate_id="kept", payload={})

    register("writes_then_fails", publish_follow_up_then_fail)
    register("writes", publish_follow_up)
    event = publish()

    event_deliver(event_id=event.pk)

    follow_ups = OutboxEvent.objects.filter(topic=FOLLOW_UP)
    assert list(follow_ups.values_list("aggregate_id", flat=True)) == ["kept"]
    assert deliveries(event) == {"writes_then_fails": ("failed", 1), "writes": ("succeeded", 1)}


def test_dispatched_only_when_every_subscriber_has_succeeded(register):
    register("allocate")
    register("capture_points", always_fail)
    event = publish()

    for _ in range(3):
        outcome = event_deliver(event_id=event.pk)
        assert outcome.dispatched is False

    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.attempts == 3
    assert deliveries(event) == {"allocate": ("succeeded", 1), "capture_points": ("failed", 3)}


def test_an_event_nobody_subscribes_to_is_dispatched_at_once():
    event = publish(topic="outbox_test.unheard")

    outcome = event_deliver(event_id=event.pk)

    assert outcome.dispatched is True
    assert OutboxDelivery.objects.count() == 0
    event.refresh_from_db()
    assert event.dispatched_at is not None


def test_deliver_of_an_unknown_event_does_nothing(register):
    calls = register("effect")

    outcome = event_deliver(event_id=987654)

    assert (outcome.found, outcome.dispatched) == (False, False)
    assert calls == []
    assert OutboxDelivery.objects.count() == 0


# --- Relay task ---------------------------------------------------------------------------


def test_the_relay_retries_until_a_failing_subscriber_recovers(register, memory_broker):
    allocations = register("allocate")
    points = register("capture_points", fail_first(2))
    event = publish()

    result = outbox_relay.apply(args=[event.pk])

    assert result.successful()
    assert result.result["dispatched"] is True
    assert allocations == [event.pk]
    assert points == [event.pk] * 3
    assert deliveries(event) == {
        "allocate": ("succeeded", 1),
        "capture_points": ("succeeded", 3),
    }


def test_the_relay_gives_up_after_its_retries_and_leaves_the_event_to_the_sweep(
    register, memory_broker
):
    points = register("capture_points", always_fail)
    event = publish()

    result = outbox_relay.apply(args=[event.pk])

    assert result.failed()
    assert points == [event.pk] * (1 + outbox_relay.max_retries)
    event.refresh_from_db()
    assert event.dispatched_at is None
    assert event.attempts == 1 + outbox_relay.max_retries
    assert event.next_attempt_at > timezone.now()
    assert deliveries(event) == {"capture_points": ("failed", 1 + outbox_relay.max_retries)}


def test_tasks_are_registered_with_late_acks_retries_and_a_beat_schedule(settings):
    assert outbox_relay.name == "storefront.tasks.outbox_relay"
    assert outbox_relay.acks_late is True
    assert outbox_relay.max_retries == 10
    assert outbox_relay.retry_backoff
    sweep = settings.CELERY_BEAT_SCHEDULE["outbox-sweep"]
    assert sweep["task"] == outbox_sweep.name == "storefront.tasks.outbox_sweep"
    assert sweep["schedule"].run_every == timedelta(seconds=60)
    assert 0 < outbox_sweep.soft_time_limit < outbox_sweep.time_limit


# --- Sweep --------------------------------------------------------------------------------


def test_the_sweep_enqueues_only_old_undispatched_events(register, memory_broker):
    register("effect")
    fresh = publish(aggregate_id=1)
    old = publish(aggregate_id=2)
    make_due(old)
    old_dispatched = publish(aggregate_id=3)
    make_due(old_dispatched)
    event_deliver(event_id=old_dispatched.pk)

    assert outbox_sweep.apply().result == 1

    assert memory_broker.relays() == [old.pk]
    old.refresh_from_db()
    assert old.next_attempt_at > timezone.now()  # not enqueued again by the next run
    assert events_relay_due() == 0
    assert memory_broker.relays() == [old.pk]
    fresh.refresh_from_db()
    assert fresh.dispatched_at is None


def test_the_sweep_works_in_batches_oldest_due_first(memory_broker):
    events = [publish(aggregate_id=n) for n in range(5)]
    for age, event in zip([300, 100, 500, 200, 400], events, strict=True):
        make_due(event, seconds_ago=age)

    assert events_relay_due(batch_size=2) == 5

    by_age = [events[2], events[4], events[0], events[3], events[1]]
    assert memory_broker.relays() == [event.pk for event in by_age]


def test_the_sweep_stops_while_the_broker_is_down_and_keeps_events_due(broker_down):
    event = publish()
    make_due(event)
    event.refresh_from_db()
    due_at = event.next_attempt_at

    assert events_relay_due() == 0

    event.refresh_from_db()
    assert event.next_attempt_at == due_at


def test_a_failed_run_backs_off_the_sweep_doubling_up_to_the_maximum(register, settings):
    settings.OUTBOX_BACKOFF_MAX_SECONDS = 200
    register("capture_points", always_fail)
    event = publish()
    waits = []
    for _ in range(4):
        started = timezone.now()
        event_deliver(event_id=event.pk)
        event.refresh_from_db()
        waits.append((event.next_attempt_at - started).total_seconds())

    # 60, 120, then capped at 200 (each measured from just before the run).
    assert [round(wait, -1) for wait in waits] == [60, 120, 200, 200]


# --- Admin --------------------------------------------------------------------------------


def test_staff_find_undispatched_events_of_an_order_and_see_their_deliveries(
    admin_client, register
):
    register("allocate")
    register("capture_points", always_fail)
    pending = publish(aggregate_id=42)
    event_deliver(event_id=pending.pk)
    other = publish(aggregate_id=43)

    def listed(**params) -> list[int]:
        response = admin_client.get(CHANGELIST, params)
        assert response.status_code == 200
        return [e.pk for e in response.context["cl"].result_list]

    assert listed(q="42", dispatched="no") == [pending.pk]
    assert listed(q="4") == []  # an aggregate id matches exactly
    assert listed(topic=TOPIC) == [other.pk, pending.pk]  # newest first
    assert listed(topic="order.unknown") == []
    assert TOPIC in admin_client.get(CHANGELIST).content.decode()  # offered as a filter
    detail = admin_client.get(reverse("admin:storefront_outboxevent_change", args=[pending.pk]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert "tests.outbox.capture_points" in page
    assert "RuntimeError: carrier points unavailable" in page
    assert 'name="_save"' not in page  # read-only


def test_the_admin_cannot_add_edit_or_delete_events(admin_client):
    event = publish()
    change_url = reverse("admin:storefront_outboxevent_change", args=[event.pk])

    assert admin_client.get(reverse("admin:storefront_outboxevent_add")).status_code == 403
    assert admin_client.post(change_url, {"topic": "order.hacked"}).status_code == 403
    delete_url = reverse("admin:storefront_outboxevent_delete", args=[event.pk])
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    event.refresh_from_db()
    assert event.topic == TOPIC


def test_redeliver_now_enqueues_the_undispatched_events_only(admin_client, memory_broker, settings):
    settings.LANGUAGE_CODE = "en"  # staff messages asserted in English, not Korean
    pending = publish(aggregate_id=1)
    dispatched = publish(aggregate_id=2)
    event_deliver(event_id=dispatched.pk)

    response = admin_client.post(
        CHANGELIST,
        {"action": "redeliver_now", "_selected_action": [pending.pk, dispatched.pk]},
        follow=True,
    )

    assert memory_broker.relays() == [pending.pk]
    texts = [str(m) for m in response.context["messages"]]
    assert "1 event queued for delivery." in texts
    assert "1 event was already dispatched and was left alone." in texts


def test_redeliver_now_says_so_when_the_broker_is_down(admin_client, broker_down, settings):
    settings.LANGUAGE_CODE = "en"  # staff messages asserted in English, not Korean
    pending = publish()

    response = admin_client.post(
        CHANGELIST, {"action": "redeliver_now", "_selected_action": [pending.pk]}, follow=True
    )

    texts = [str(m) for m in response.context["messages"]]
    assert "The task queue is not reachable; the sweep will deliver the rest." in texts


def test_staff_who_may_only_view_events_cannot_redeliver(client, memory_broker):
    group = Group.objects.create(name="support")
    group.permissions.set(Permission.objects.filter(codename="view_outboxevent"))
    user = User.objects.create_user(username="support", password="unused-pw-123", is_staff=True)
    user.groups.add(group)
    client.force_login(user)
    pending = publish()

    page = client.get(CHANGELIST)
    client.post(CHANGELIST, {"action": "redeliver_now", "_selected_action": [pending.pk]})

    assert page.status_code == 200
    assert "redeliver_now" not in page.content.decode()
    assert memory_broker.messages == []


def test_the_event_list_query_count_does_not_grow_with_events(admin_client):
    publish(aggregate_id=1)
    with CaptureQueriesContext(connection) as few:
        assert admin_client.get(CHANGELIST).status_code == 200
    for n in range(2, 12):
        publish(aggregate_id=n)
    with CaptureQueriesContext(connection) as many:
        assert admin_client.get(CHANGELIST).status_code == 200

    assert len(many) == len(few)
