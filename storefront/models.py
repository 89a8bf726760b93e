"""Site-wide records: the domain-event outbox (docs/events.md).

A service writes an ``OutboxEvent`` in its own transaction (``storefront.events.
event_publish``); the relay hands it to every subscriber of its topic and records one
``OutboxDelivery`` per (event, subscriber). The event is dispatched when every subscriber
has succeeded.
"""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class OutboxEvent(models.Model):
    """Something that happened to an aggregate (``order.paid`` for order 42), written in
    the same transaction as the change itself, so it exists exactly when the change does.

    ``payload`` holds plain JSON values only (ids, integers, strings; USD amounts as
    strings). ``next_attempt_at`` is when the sweep enqueues the relay again if the event
    is still not dispatched by then.
    """

    topic = models.CharField(max_length=100, help_text=_('For example "order.paid".'))
    aggregate_type = models.CharField(max_length=50, help_text=_('For example "order".'))
    aggregate_id = models.CharField(max_length=64)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()
    next_attempt_at = models.DateTimeField()
    dispatched_at = models.DateTimeField(
        null=True, blank=True, help_text=_("Set when every subscriber has succeeded.")
    )
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]  # newest first, through the primary key
        verbose_name = _("outbox event")
        verbose_name_plural = _("outbox events")
        constraints = [
            models.CheckConstraint(
                condition=~Q(topic="") & ~Q(aggregate_type="") & ~Q(aggregate_id=""),
                name="outbox_event_named",
            ),
            models.CheckConstraint(
                condition=Q(dispatched_at__isnull=True) | Q(dispatched_at__gte=F("created_at")),
                name="outbox_event_dispatched_after_created",
            ),
        ]
        indexes = [
            # Undispatched, oldest first (monitoring: how far behind the relay is).
            models.Index(
                fields=["created_at"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_undispatched_oldest",
            ),
            # Undispatched and due: what the sweep reads every minute.
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(dispatched_at__isnull=True),
                name="outbox_undispatched_due",
            ),
            # The events of one aggregate (admin search, "what happened to order 42").
            models.Index(fields=["aggregate_id", "aggregate_type"], name="outbox_aggregate"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.aggregate_type}:{self.aggregate_id} (#{self.pk})"

    @property
    def is_dispatched(self) -> bool:
        return self.dispatched_at is not None


class OutboxDelivery(models.Model):
    """One subscriber's handling of one event. The unique (event, subscriber) pair means a
    subscriber's success is recorded exactly once; the relay locks this row while the
    subscriber runs so two workers never run it for the same event at the same time."""

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    event = models.ForeignKey(OutboxEvent, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.CharField(max_length=200, help_text=_("Dotted name of the function."))
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    succeeded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["event_id", "subscriber"]
        verbose_name = _("outbox delivery")
        verbose_name_plural = _("outbox deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["event", "subscriber"], name="outbox_delivery_once_per_subscriber"
            ),
            models.CheckConstraint(
                condition=Q(status__in=["pending", "succeeded", "failed"]),
                name="outbox_delivery_status_known",
            ),
            # Succeeded exactly when a success time is recorded.
            models.CheckConstraint(
                condition=(Q(status="succeeded") & Q(succeeded_at__isnull=False))
                | (~Q(status="succeeded") & Q(succeeded_at__isnull=True)),
                name="outbox_delivery_succeeded_has_time",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} ← event #{self.event_id}: {self.status}"
