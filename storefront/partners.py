"""Partner services: partners, their API keys and their signed webhooks (docs/api.md).

- ``partner_create`` / ``partner_webhook_secret_rotate``: a partner always has a signing
  secret (``whsec_`` + 32 random URL-safe characters).
- ``api_key_create`` returns the raw key exactly once (only its SHA-256 and prefix are
  stored); ``api_key_revoke`` makes it unusable at once and keeps the row.
- ``partner_webhook_delivery_create`` records one delivery per (partner, event);
  ``partner_webhook_send`` makes one signed POST and schedules the next try;
  ``partner_webhook_deliveries_due`` lists what the sweep re-enqueues;
  ``partner_webhook_redeliver`` (admin) makes a delivery due now.
- ``webhook_signature_sign`` / ``webhook_signature_verify``: the signature recipe that
  docs/api.md documents for partners.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import string
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront.api.auth import api_key_hash
from storefront.api.keycache import api_key_cache_invalidate_partner
from storefront.errors import ApplicationError
from storefront.models import (
    ApiKey,
    OutboxEvent,
    Partner,
    PartnerWebhookAttempt,
    PartnerWebhookDelivery,
)

logger = logging.getLogger(__name__)

SECRET_PREFIX = "whsec_"  # noqa: S105 - a marker, not a secret
KEY_ALPHABET = string.ascii_letters + string.digits
SIGNATURE_HEADER = "GlobalStore-Signature"
EVENT_ID_HEADER = "GlobalStore-Event-Id"
SIGNATURE_TOLERANCE_SECONDS = 300
MAX_BACKOFF = timedelta(hours=1)
# A delivery being sent is not due again until its timeout plus this margin has passed.
CLAIM_MARGIN_SECONDS = 30
RESPONSE_EXCERPT_LIMIT = 500
ERROR_LIMIT = 300


# --- Partners and keys -----------------------------------------------------------------


def webhook_secret_generate() -> str:
    """A new webhook signing secret: ``whsec_`` + 32 random URL-safe characters."""
    return SECRET_PREFIX + secrets.token_urlsafe(24)


def partner_create(
    *,
    name: str,
    scopes: list[str] | tuple[str, ...] = (),
    credit_limit_krw: int = 0,
    webhook_url: str = "",
    rate_limit_per_minute: int = 600,
    is_active: bool = True,
) -> Partner:
    """Create a partner with a freshly generated webhook secret. Unknown scopes are
    refused (``ApplicationError`` code ``unknown_scope``)."""
    unknown = sorted(set(scopes) - set(Partner.Scope.values))
    if unknown:
        raise ApplicationError(
            _("Unknown scopes: %(scopes)s") % {"scopes": ", ".join(unknown)},
            code="unknown_scope",
        )
    with transaction.atomic():
        return Partner.objects.create(
            name=name,
            scopes=sorted(set(scopes)),
            credit_limit_krw=credit_limit_krw,
            webhook_url=webhook_url,
            webhook_secret=webhook_secret_generate(),
            rate_limit_per_minute=rate_limit_per_minute,
            is_active=is_active,
        )


def partner_webhook_secret_rotate(*, partner_id: int) -> str:
    """Give the partner a new webhook secret and return it; signatures made from now on
    use it (deliveries already sent were signed with the old one)."""
    secret = webhook_secret_generate()
    with transaction.atomic():
        updated = Partner.objects.filter(pk=partner_id).update(webhook_secret=secret)
        # update() sends no post_save: drop the partner's cached key rows ourselves.
        api_key_cache_invalidate_partner(partner_id=partner_id)
    if not updated:
        raise ApplicationError(_("No such partner."), code="not_found")
    return secret


@dataclass(frozen=True)
class CreatedApiKey:
    """A new key: ``raw_key`` is the only time the key is visible; it is not stored."""

    api_key: ApiKey
    raw_key: str


def _random(length: int) -> str:
    return "".join(secrets.choice(KEY_ALPHABET) for _ in range(length))


def api_key_create(*, partner_id: int, name: str = "") -> CreatedApiKey:
    """Create an API key ``gsk_<prefix8>_<secret32>`` for the partner; only its SHA-256
    and prefix are stored, so the returned ``raw_key`` cannot be shown again."""
    with transaction.atomic():
        partner = Partner.objects.get(pk=partner_id)
        for _attempt in range(5):  # a prefix collision (1 in 62^8) just draws again
            prefix = _random(8)
            raw_key = f"gsk_{prefix}_{_random(32)}"
            try:
                with transaction.atomic():
                    api_key = ApiKey.objects.create(
                        partner=partner, name=name, prefix=prefix, key_hash=api_key_hash(raw_key)
                    )
            except IntegrityError:
                continue
            return CreatedApiKey(api_key=api_key, raw_key=raw_key)
    raise ApplicationError(_("Could not create a unique key; try again."), code="key_collision")


def api_key_revoke(*, api_key_id: int) -> ApiKey:
    """Revoke the key from now on (idempotent: a revoked key keeps its first revocation
    time). The row stays for the record. Its save marks the cached row stale (the receiver
    in ``storefront.api.keycache``), so the very next request is refused."""
    with transaction.atomic():
        api_key = ApiKey.objects.select_for_update().get(pk=api_key_id)
        if api_key.revoked_at is None:
            api_key.revoked_at = timezone.now()
            api_key.save(update_fields=["revoked_at"])
        return api_key


# --- Signatures ----------------------------------------------------------------------------


def webhook_signature_sign(*, secret: str, body: bytes, timestamp: int) -> str:
    """The ``GlobalStore-Signature`` header value: ``t=<unix ts>,v1=<hex HMAC-SHA256 of
    "<t>.<raw body>" keyed with the secret>``."""
    signed = f"{timestamp}.".encode() + body
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def webhook_signature_verify(
    secret: str,
    header: str,
    body: bytes,
    tolerance: int = SIGNATURE_TOLERANCE_SECONDS,
    *,
    now: float | None = None,
) -> bool:
    """The reference recipe a partner uses (docs/api.md has the same code): True when
    ``header`` (``t=…,v1=…``) is the HMAC-SHA256 of ``f"{t}.{raw body}"`` with ``secret``
    and ``t`` is within ``tolerance`` seconds of now. Compare in constant time; use the
    raw request body, not re-serialised JSON."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
        signatures = [v for k, v in (i.split("=", 1) for i in header.split(",")) if k == "v1"]
    except (KeyError, ValueError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance:
        return False
    expected = hmac.new(
        secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256
    ).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)


# --- Deliveries ------------------------------------------------------------------------------


def partner_webhook_delivery_create(
    *, partner_id: int, event_id: int, topic: str
) -> tuple[PartnerWebhookDelivery, bool]:
    """Record that ``event`` must be sent to the partner, due now; (delivery, created).
    Idempotent: one delivery per (partner, event), guaranteed by a unique constraint.
    The caller enqueues ``partner_webhook_deliver`` after its transaction commits."""
    with transaction.atomic():
        return PartnerWebhookDelivery.objects.get_or_create(
            partner_id=partner_id,
            event_id=event_id,
            defaults={"topic": topic, "next_attempt_at": timezone.now()},
        )


def webhook_body(*, delivery: PartnerWebhookDelivery, order_data: dict) -> dict:
    """The JSON a partner receives (documented in docs/api.md)."""
    event = delivery.event
    return {
        "id": f"evt_{event.pk}",
        "type": delivery.topic,
        "created": event.created_at.isoformat(),
        "data": {"order": order_data},
    }


def webhook_order_data(order, *, event: OutboxEvent) -> dict:
    """The order as a webhook carries it: enough to act on (fetch the rest by number).
    ``status`` is the order's status when the event happened, not when it is sent."""
    return {
        "number": order.number,
        "reference": order.partner_reference,
        "status": event.payload.get("status", order.status),
        "email": order.email,
        "currency": "KRW",
        "items_krw": order.items_krw,
        "domestic_shipping_krw": order.domestic_shipping_krw,
        "cross_border_shipping_krw": order.cross_border_shipping_krw,
        "duty_krw": order.duty_krw,
        "vat_krw": order.vat_krw,
        "discount_krw": order.discount_krw,
        "total_krw": order.total_krw,
    }


def _backoff(attempts: int) -> timedelta:
    base = timedelta(seconds=settings.PARTNER_WEBHOOK_BACKOFF_SECONDS)
    return min(base * (2 ** max(attempts - 1, 0)), MAX_BACKOFF)


@dataclass(frozen=True)
class WebhookSendOutcome:
    status: str  # the delivery's status after this call
    attempted: bool  # False when nothing was sent (already done, not due, no URL)
    status_code: int | None = None


def partner_webhook_send(
    *, delivery_id: int, now: datetime | None = None, force: bool = False
) -> WebhookSendOutcome:
    """Make one signed POST of the delivery to the partner's webhook URL and record it
    (a ``PartnerWebhookAttempt``).

    Guarantees: a delivery that succeeded or gave up is never sent again; one that is not
    yet due is left alone unless ``force``. No transaction is open during the POST:
    the delivery is first claimed (its next try pushed past the request's timeout, so
    the sweep does not hand it to another worker meanwhile), then the outcome is recorded
    in a second short transaction. A 2xx answer → ``succeeded``; otherwise the next try
    is ``now + min(backoff · 2^(attempts-1), 1 hour)``, and once
    ``PARTNER_WEBHOOK_GIVE_UP_HOURS`` have passed since the delivery was created it is
    ``failed``. ``now`` lets tests move time without sleeping.
    """
    from orders.models import Order

    now = now or timezone.now()
    timeout = settings.PARTNER_WEBHOOK_TIMEOUT_SECONDS
    with transaction.atomic():
        delivery = (
            PartnerWebhookDelivery.objects.select_for_update()
            .select_related("partner", "event")
            .get(pk=delivery_id)
        )
        if delivery.status != PartnerWebhookDelivery.Status.PENDING:
            return WebhookSendOutcome(status=delivery.status, attempted=False)
        if not force and delivery.next_attempt_at > now:
            return WebhookSendOutcome(status=delivery.status, attempted=False)
        partner = delivery.partner
        url = partner.webhook_url
        order = Order.objects.filter(pk=delivery.event.aggregate_id).first()
        order_data = webhook_order_data(order, event=delivery.event) if order else {}
        body = json.dumps(
            webhook_body(delivery=delivery, order_data=order_data), separators=(",", ":")
        ).encode()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "GlobalStore-Webhooks/1",
            EVENT_ID_HEADER: f"evt_{delivery.event_id}",
            SIGNATURE_HEADER: webhook_signature_sign(
                secret=partner.webhook_secret, body=body, timestamp=timestamp
            ),
        }
        # The claim: not due again until this attempt has surely finished.
        PartnerWebhookDelivery.objects.filter(pk=delivery.pk).update(
            next_attempt_at=now + timedelta(seconds=timeout + CLAIM_MARGIN_SECONDS)
        )

    status_code: int | None = None
    error = ""
    excerpt = ""
    started = time.monotonic()
    if not url:
        error = "The partner has no webhook URL."
    else:
        try:
            response = httpx.post(
                url, content=body, headers=headers, timeout=timeout, follow_redirects=False
            )
            status_code = response.status_code
            excerpt = response.text[:RESPONSE_EXCERPT_LIMIT]
            if not 200 <= status_code < 300:
                error = f"HTTP {status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"[:ERROR_LIMIT]
    duration_ms = int((time.monotonic() - started) * 1000)

    with transaction.atomic():
        delivery = PartnerWebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        PartnerWebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            url=url[:200],
            status_code=status_code,
            error=error[:ERROR_LIMIT],
            duration_ms=duration_ms,
            response_excerpt=excerpt,
        )
        delivery.attempts += 1
        delivery.last_status_code = status_code
        delivery.last_error = error[:ERROR_LIMIT]
        if delivery.status != PartnerWebhookDelivery.Status.PENDING:
            pass  # a concurrent (forced) attempt already settled it: only log this one
        elif not error:
            delivery.status = PartnerWebhookDelivery.Status.SUCCEEDED
            delivery.delivered_at = now
        elif now - delivery.created_at >= timedelta(hours=settings.PARTNER_WEBHOOK_GIVE_UP_HOURS):
            delivery.status = PartnerWebhookDelivery.Status.FAILED
        else:
            delivery.next_attempt_at = now + _backoff(delivery.attempts)
        delivery.save(
            update_fields=[
                "attempts",
                "last_status_code",
                "last_error",
                "status",
                "delivered_at",
                "next_attempt_at",
            ]
        )
    return WebhookSendOutcome(status=delivery.status, attempted=bool(url), status_code=status_code)


def partner_webhook_deliveries_due(*, now: datetime | None = None, limit: int = 500) -> list[int]:
    """Ids of pending deliveries whose next try is due, oldest due first."""
    now = now or timezone.now()
    return list(
        PartnerWebhookDelivery.objects.filter(
            status=PartnerWebhookDelivery.Status.PENDING, next_attempt_at__lte=now
        )
        .order_by("next_attempt_at", "id")
        .values_list("id", flat=True)[:limit]
    )


def partner_webhook_redeliver(*, delivery_id: int) -> PartnerWebhookDelivery:
    """Make a delivery due now again (admin's "redeliver now"), also one that succeeded
    or gave up: it becomes pending with its attempt log kept. The caller enqueues the
    send after commit."""
    with transaction.atomic():
        delivery = PartnerWebhookDelivery.objects.select_for_update().get(pk=delivery_id)
        delivery.status = PartnerWebhookDelivery.Status.PENDING
        delivery.next_attempt_at = timezone.now()
        delivery.delivered_at = None
        delivery.save(update_fields=["status", "next_attempt_at", "delivered_at"])
        return delivery


def partner_webhook_enqueue_on_commit(delivery_id: int) -> None:
    """Enqueue the send task once the current transaction commits. A broker that is down
    is logged, not raised: the beat sweep sends the delivery when it is due."""

    def enqueue() -> None:
        from storefront.tasks import partner_webhook_deliver

        try:
            partner_webhook_deliver.apply_async(
                args=[delivery_id], retry_policy={"max_retries": 2, "interval_start": 0}
            )
        except Exception:
            logger.warning(
                "partner webhook %s: enqueue failed; the sweep will send it",
                delivery_id,
                exc_info=True,
            )

    transaction.on_commit(enqueue)
