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


# --- Partners (the REST API at /api/v1/, docs/api.md) ---------------------------------------


class Partner(models.Model):
    """A company using the partner API: its scopes, the credit its orders are charged to,
    and where its webhooks go (signed with ``webhook_secret``)."""

    class Scope(models.TextChoices):
        CATALOG_READ = "catalog:read", _("Read the catalog")
        QUOTES_WRITE = "quotes:write", _("Ask for quotes")
        ORDERS_READ = "orders:read", _("Read its orders")
        ORDERS_WRITE = "orders:write", _("Place and cancel orders")

    name = models.CharField(_("name"), max_length=100, unique=True)
    is_active = models.BooleanField(_("active"), default=True)
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    credit_limit_krw = models.PositiveBigIntegerField(
        _("credit limit (₩)"),
        default=0,
        help_text=_("Orders are charged to the partner's account up to this amount open."),
    )
    webhook_url = models.URLField(_("webhook URL"), blank=True, default="")
    webhook_secret = models.CharField(_("webhook signing secret"), max_length=80)
    rate_limit_per_minute = models.PositiveIntegerField(_("requests per minute"), default=600)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("partner")
        verbose_name_plural = _("partners")
        constraints = [
            models.CheckConstraint(
                condition=~Q(webhook_secret=""), name="partner_webhook_secret_set"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])


class ApiKey(models.Model):
    """A partner's API key. Only its SHA-256 is stored; the key is shown once, when it is
    made. ``prefix`` (the key's first characters) finds the row and names the key in admin
    and logs. Revoked keys stay for the record."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(_("label"), max_length=100, blank=True, default="")
    prefix = models.CharField(max_length=16, unique=True)
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.partner})"


class ApiIdempotencyKey(models.Model):
    """The first answer to a partner's POST with an ``Idempotency-Key``: the same key and
    body replay it; the same key with another request is refused (409). A row without a
    ``response_status`` is a request still being processed."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    response_body = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["partner", "key"], name="api_idempotency_key_unique")
        ]

    def __str__(self) -> str:
        return f"{self.method} {self.path} ({self.key})"


class PartnerWebhookDelivery(models.Model):
    """One event to send to one partner's webhook, retried with backoff until it succeeds
    or gives up (after ``PARTNER_WEBHOOK_GIVE_UP_HOURS``). Each try is a
    ``PartnerWebhookAttempt``."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Delivered")
        FAILED = "failed", _("Gave up")

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="deliveries")
    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=100)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        constraints = [
            models.UniqueConstraint(
                fields=["partner", "event"], name="partner_webhook_one_delivery_per_event"
            )
        ]
        indexes = [
            models.Index(
                fields=["next_attempt_at"],
                condition=Q(status="pending"),
                name="partner_webhook_due",
            )
        ]

    def __str__(self) -> str:
        return f"{self.topic} → {self.partner} ({self.status})"


class PartnerWebhookAttempt(models.Model):
    """One POST to a partner's webhook URL: when, the answer, how long it took."""

    delivery = models.ForeignKey(
        PartnerWebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log"
    )
    attempted_at = models.DateTimeField()
    url = models.URLField()
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True, default="")
    duration_ms = models.PositiveIntegerField(default=0)
    response_excerpt = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["delivery_id", "attempted_at", "id"]

    def __str__(self) -> str:
        return f"{self.url} → {self.status_code or self.error}"
