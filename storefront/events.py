"""Domain events through a transactional outbox (docs/events.md).

- ``event_publish`` writes an ``OutboxEvent`` inside the caller's transaction and, once that
  transaction commits, enqueues the relay task for it.
- Apps register subscribers for topics (``@subscriber("order.paid")``) in a ``subscribers``
  module imported from their ``AppConfig.ready()``.
- ``event_deliver`` (run by the relay task) hands the event to each subscriber that has
  not succeeded yet, one transaction per subscriber, and records the outcome.
- ``events_relay_due`` (run by beat) re-enqueues what the relay has not finished.

Delivery is at least once. A subscriber's database writes commit together with its
success record, but anything it does outside this database (an HTTP call, an email, an
enqueued task) happens again when it fails later in the same run, or the worker dies
before the commit, and the subscriber is run again. Subscribers must therefore be
idempotent (use ``event.pk`` in idempotency keys). What is exactly once is the *record* of
a subscriber's success: after it, the subscriber is never run again for that event.
"""

from __future__ import annotations

import json
import logging
import re
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import timedelta
from functools import partial

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.text import Truncator

from .models import OutboxDelivery, OutboxEvent

logger = logging.getLogger(__name__)

Subscriber = Callable[[OutboxEvent], None]

TOPIC_PATTERN = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
ERROR_TEXT_LIMIT = 4000
# Publishing happens in a request that has already committed: give up on the broker fast
# (about half a second) and let the sweep catch up, rather than hold the shopper.
ENQUEUE_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2}
# A sweep run stops after this many batches; the next run continues.
SWEEP_MAX_BATCHES = 20

# topic -> {subscriber name -> function}, in registration order.
_registry: dict[str, dict[str, Subscriber]] = {}


# --- Registry ------------------------------------------------------------------------------


def _check_topic(topic: str) -> None:
    if not TOPIC_PATTERN.match(topic or ""):
        raise ValueError(
            f"Event topic {topic!r} must look like 'order.paid' (lowercase, dot-separated)."
        )


def subscriber_name(func: Callable) -> str:
    """The dotted name a subscriber's deliveries are recorded under."""
    return f"{func.__module__}.{func.__qualname__}"


def subscribe(topic: str, func: Subscriber, *, name: str | None = None) -> Subscriber:
    """Register ``func(event)`` for ``topic`` under its dotted name (or ``name``).

    The name is what ``OutboxDelivery.subscriber`` records, so renaming a subscriber means
    it runs again for events it had not finished under its old name. Registering the same
    function twice is harmless; two different functions under one name are refused (they
    would share one success record).
    """
    _check_topic(topic)
    name = name or subscriber_name(func)
    if len(name) > OutboxDelivery._meta.get_field("subscriber").max_length:
        raise ValueError(f"Subscriber name {name!r} is too long; pass a shorter name=.")
    registered = _registry.setdefault(topic, {})
    if registered.get(name, func) is not func:
        raise ValueError(f"Another subscriber is already registered as {name!r} for {topic!r}.")
    registered[name] = func
    return func


def subscriber(*topics: str, name: str | None = None) -> Callable[[Subscriber], Subscriber]:
    """Decorator: ``@subscriber("order.paid", "order.cancelled")`` registers the function
    for each topic (see ``subscribe``)."""
    if not topics:
        raise ValueError("@subscriber needs at least one topic.")

    def register(func: Subscriber) -> Subscriber:
        for topic in topics:
            subscribe(topic, func, name=name)
        return func

    return register


def unsubscribe(topic: str, func_or_name: Subscriber | str) -> None:
    """Remove a subscriber (tests use it to clean up after themselves)."""
    name = func_or_name if isinstance(func_or_name, str) else subscriber_name(func_or_name)
    _registry.get(topic, {}).pop(name, None)


def subscribers_for(topic: str) -> dict[str, Subscriber]:
    """The subscribers of a topic by name, in registration order."""
    return dict(_registry.get(topic, {}))


def registered_topics() -> list[str]:
    """Every topic that has at least one subscriber, sorted."""
    return sorted(topic for topic, registered in _registry.items() if registered)


# --- Publish -------------------------------------------------------------------------------


def _check_payload(payload: dict) -> None:
    if not isinstance(payload, dict):
        raise TypeError(f"An event payload is a dict, not {type(payload).__name__}.")
    try:
        json.dumps(payload, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            "An event payload holds plain JSON values only (ids, integers, strings; "
            f"USD amounts as strings): {exc}"
        ) from exc


def event_publish(
    *, topic: str, aggregate_type: str, aggregate_id: str | int, payload: dict
) -> OutboxEvent:
    """Record a domain event in the caller's transaction; return it.

    Must be called inside ``transaction.atomic()`` (``RuntimeError`` otherwise): the event
    exists exactly when the change it describes was committed, and nothing is enqueued
    for a rolled-back change. After commit the relay task is enqueued for the event; when
    the broker is down that is logged and the sweep delivers the event later. It never
    raises into the committed request.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError(
            "event_publish() must run inside the transaction.atomic() block of the change "
            "it describes, so the event commits (or rolls back) with it."
        )
    _check_topic(topic)
    if not aggregate_type or aggregate_id in (None, ""):
        raise ValueError("An event needs an aggregate_type and an aggregate_id.")
    _check_payload(payload)
    now = timezone.now()
    event = OutboxEvent.objects.create(
        topic=topic,
        aggregate_type=aggregate_type,
        aggregate_id=str(aggregate_id),
        payload=payload,
        created_at=now,
        next_attempt_at=now + timedelta(seconds=settings.OUTBOX_SWEEP_AFTER_SECONDS),
    )
    transaction.on_commit(partial(event_relay_enqueue, event_id=event.pk), robust=True)
    return event


def event_relay_enqueue(*, event_id: int) -> bool:
    """Enqueue the relay task for one event; return whether the broker took it.

    A broker error is logged, not raised: the event is in the database and the sweep
    enqueues it again once it is due.
    """
    from .tasks import outbox_relay  # the task module imports this one

    try:
        outbox_relay.apply_async(args=[event_id], retry_policy=ENQUEUE_RETRY_POLICY)
    except Exception:
        logger.warning(
            "Could not enqueue the relay of outbox event %s; the sweep will retry it.",
            event_id,
            exc_info=True,
        )
        return False
    return True


# --- Deliver -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeliveryOutcome:
    """What one ``event_deliver`` run did. ``busy`` subscribers were running in another
    worker at the time and were left to it."""

    event_id: int
    found: bool = True
    dispatched: bool = False
    succeeded: tuple[str, ...] = ()
    failed: tuple[str, ...] = ()
    busy: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        return asdict(self)


def _error_text(exc: BaseException) -> str:
    text = "".join(traceback.format_exception(exc))
    summary = f"{type(exc).__name__}: {exc}"
    if len(text) <= ERROR_TEXT_LIMIT:
        return text
    # Keep the summary and the innermost frames; that is where the cause is.
    return f"{summary}\n…\n{text[-(ERROR_TEXT_LIMIT - len(summary) - 3) :]}"


def _backoff(attempts: int) -> timedelta:
    """How long the sweep waits after a failed run: doubling from the sweep delay, capped."""
    base = settings.OUTBOX_SWEEP_AFTER_SECONDS
    seconds = min(base * 2 ** min(max(attempts - 1, 0), 20), settings.OUTBOX_BACKOFF_MAX_SECONDS)
    return timedelta(seconds=max(seconds, base))


def _deliver_one(*, event: OutboxEvent, name: str, func: Subscriber) -> tuple[str, str]:
    """Run one subscriber for one event with its delivery row locked; return the outcome
    (``succeeded``, ``failed``, ``busy``: another worker holds the row, or ``done``: it had
    already succeeded) and, for a failure, a one-line summary of the error."""
    with transaction.atomic():
        delivery = (
            OutboxDelivery.objects.select_for_update(skip_locked=True)
            .filter(event_id=event.pk, subscriber=name)
            .first()
        )
        if delivery is None:
            return "busy", ""
        if delivery.status == OutboxDelivery.Status.SUCCEEDED:
            return "done", ""
        now = timezone.now()
        delivery.attempts = F("attempts") + 1
        delivery.last_attempt_at = now
        try:
            # A savepoint: a failing subscriber's writes are undone, its failure is kept.
            with transaction.atomic():
                func(event)
        except Exception as exc:
            logger.exception("Outbox subscriber %s failed on event %s", name, event.pk)
            delivery.status = OutboxDelivery.Status.FAILED
            delivery.last_error = _error_text(exc)
            outcome = "failed", Truncator(f"{type(exc).__name__}: {exc}").chars(300)
        else:
            delivery.status = OutboxDelivery.Status.SUCCEEDED
            delivery.succeeded_at = now
            delivery.last_error = ""
            outcome = "succeeded", ""
        delivery.save(
            update_fields=["attempts", "last_attempt_at", "status", "last_error", "succeeded_at"]
        )
        return outcome


def event_deliver(*, event_id: int) -> DeliveryOutcome:
    """Hand an event to every subscriber of its topic that has not succeeded for it yet.

    Guarantees:
    - each subscriber runs in its own transaction with its ``OutboxDelivery`` row locked
      (``SELECT ... FOR UPDATE SKIP LOCKED``): two workers never run the same subscriber
      for the same event at once; the second one skips it (``busy``);
    - a subscriber's writes commit together with its success record, or roll back
      together and its failure (attempts, last error) is recorded instead;
    - a succeeded subscriber is never run again for this event; a failed one runs again
      on the next delivery;
    - ``dispatched_at`` is set once every registered subscriber has succeeded; a failed
      run moves ``next_attempt_at`` out with a doubling backoff for the sweep.

    Delivery is at least once (effects outside this database can repeat when a run fails
    or a worker dies before the commit), so every subscriber must be idempotent. An
    unknown or already dispatched event is a no-op.
    """
    event = OutboxEvent.objects.filter(pk=event_id).first()
    if event is None:
        logger.warning("Outbox event %s does not exist; nothing to deliver.", event_id)
        return DeliveryOutcome(event_id=event_id, found=False)
    if event.dispatched_at is not None:
        return DeliveryOutcome(event_id=event_id, dispatched=True)

    subscribers = subscribers_for(event.topic)
    known = set(
        OutboxDelivery.objects.filter(event_id=event_id, subscriber__in=subscribers).values_list(
            "subscriber", flat=True
        )
    )
    if missing := [name for name in subscribers if name not in known]:
        # Concurrent relays may insert the same rows: the unique pair keeps one of each.
        OutboxDelivery.objects.bulk_create(
            [OutboxDelivery(event_id=event_id, subscriber=name) for name in missing],
            ignore_conflicts=True,
        )

    results: dict[str, list[str]] = {"succeeded": [], "failed": [], "busy": [], "done": []}
    errors: list[str] = []
    for name, func in subscribers.items():
        outcome, error = _deliver_one(event=event, name=name, func=func)
        results[outcome].append(name)
        if error:
            errors.append(f"{name}: {error}")

    dispatched = _event_record_run(
        event=event,
        subscribers=list(subscribers),
        ran=bool(results["succeeded"] or results["failed"]),
        errors=errors,
    )
    return DeliveryOutcome(
        event_id=event_id,
        dispatched=dispatched,
        succeeded=tuple(results["succeeded"]),
        failed=tuple(results["failed"]),
        busy=tuple(results["busy"]),
    )


def _event_record_run(
    *, event: OutboxEvent, subscribers: list[str], ran: bool, errors: list[str]
) -> bool:
    """Record a delivery run on the event (attempts, one line per failed subscriber);
    mark it dispatched when every subscriber has succeeded (read after this run's own
    commits, so of two concurrent runs at least the later one sees every success). Return
    whether the event is dispatched."""
    with transaction.atomic():
        now = timezone.now()
        changes: dict[str, object] = {}
        if ran:
            changes["attempts"] = F("attempts") + 1
            changes["last_error"] = "\n".join(errors)
        if errors:
            changes["next_attempt_at"] = now + _backoff(event.attempts + 1)
        succeeded = OutboxDelivery.objects.filter(
            event_id=event.pk, subscriber__in=subscribers, status=OutboxDelivery.Status.SUCCEEDED
        ).count()
        if succeeded == len(subscribers):
            changes["dispatched_at"] = now
        if changes:
            OutboxEvent.objects.filter(pk=event.pk, dispatched_at__isnull=True).update(**changes)
        return OutboxEvent.objects.filter(pk=event.pk, dispatched_at__isnull=False).exists()


# --- Sweep ---------------------------------------------------------------------------------


def events_relay_due(*, batch_size: int | None = None) -> int:
    """Enqueue the relay for every undispatched event that is due (published more than
    ``OUTBOX_SWEEP_AFTER_SECONDS`` ago and never finished, or past its backoff after a
    failed run), oldest due first, in batches; return how many were enqueued.

    Each enqueued event's ``next_attempt_at`` moves out (at least the sweep delay), so a
    queued relay is not enqueued again every minute. Stops early when the broker refuses
    a message (the events stay due for the next run).
    """
    batch_size = batch_size or settings.OUTBOX_SWEEP_BATCH_SIZE
    enqueued_total = 0
    for _ in range(SWEEP_MAX_BATCHES):
        now = timezone.now()
        due = list(
            OutboxEvent.objects.filter(dispatched_at__isnull=True, next_attempt_at__lte=now)
            .order_by("next_attempt_at", "id")
            .values_list("id", "attempts")[:batch_size]
        )
        enqueued: list[tuple[int, int]] = []
        for event_id, attempts in due:
            if not event_relay_enqueue(event_id=event_id):
                break
            enqueued.append((event_id, attempts))
        by_attempts: dict[int, list[int]] = {}
        for event_id, attempts in enqueued:
            by_attempts.setdefault(attempts, []).append(event_id)
        for attempts, event_ids in by_attempts.items():
            OutboxEvent.objects.filter(pk__in=event_ids, dispatched_at__isnull=True).update(
                next_attempt_at=now + _backoff(attempts + 1)
            )
        enqueued_total += len(enqueued)
        if len(enqueued) < batch_size:
            break
    if enqueued_total:
        logger.info("Outbox sweep enqueued %s undispatched event(s).", enqueued_total)
    return enqueued_total
