"""Partner webhooks: the signature recipe partners use, deliveries from the outbox for the
partner's own orders only, retries with backoff against a real local HTTP receiver, giving
up, and "redeliver now" in admin. Time is moved with ``now=`` arguments, never slept."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib.auth import get_user_model
from django.db import transaction
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from orders.models import Order
from storefront import events
from storefront.models import OutboxEvent, PartnerWebhookAttempt, PartnerWebhookDelivery
from storefront.partner_subscribers import PARTNER_TOPICS, partner_webhook_on_order_event
from storefront.partners import (
    partner_webhook_deliveries_due,
    partner_webhook_send,
    webhook_signature_sign,
    webhook_signature_verify,
)
from storefront.tasks import partner_webhook_deliver, partner_webhook_sweep
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

Status = PartnerWebhookDelivery.Status


class Receiver:
    """A local HTTP endpoint answering the scripted statuses in turn (then the last one
    again), recording each request's headers and raw body."""

    def __init__(self, statuses: list[int]) -> None:
        self.statuses = list(statuses)
        self.requests: list[tuple[dict[str, str], bytes]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.requests.append((dict(self.headers.items()), body))
                status = (
                    receiver.statuses.pop(0)
                    if len(receiver.statuses) > 1
                    else (receiver.statuses[0])
                )
                payload = b"ok" if status < 300 else b"receiver is down"
                self.send_response(status)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, format, *args) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hooks/globalstore"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


@pytest.fixture
def receiver_factory() -> Iterator:
    made: list[Receiver] = []

    def make(statuses: list[int]) -> Receiver:
        made.append(Receiver(statuses))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


def publish(order: Order, topic: str = "order.paid") -> OutboxEvent:
    with transaction.atomic():
        return events.event_publish(
            topic=topic,
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk, "number": order.number, "status": order.status},
        )


def deliver(event: OutboxEvent, django_capture_on_commit_callbacks) -> list:
    """Run the partner subscriber as the relay does (in a transaction); return the
    after-commit callbacks it registered (each enqueues one send)."""
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        partner_webhook_on_order_event(event)
    return callbacks


_references = itertools.count(1)


def partner_order(partner, **kwargs) -> Order:
    kwargs.setdefault("partner_reference", f"PO-{next(_references)}")
    return OrderFactory(partner=partner, status=Order.Status.PAID, **kwargs)


# --- Signature recipe ---------------------------------------------------------------------


def test_signature_verifies_and_fails_when_tampered_or_stale():
    secret, body, t = "whsec_test", b'{"id":"evt_1","type":"order.paid"}', 1_800_000_000
    header = webhook_signature_sign(secret=secret, body=body, timestamp=t)
    assert header.startswith(f"t={t},v1=")
    assert webhook_signature_verify(secret, header, body, now=t + 10)
    assert not webhook_signature_verify(secret, header, body + b" ", now=t + 10)
    assert not webhook_signature_verify("whsec_other", header, body, now=t + 10)
    assert not webhook_signature_verify(secret, header, body, now=t + 301)
    assert webhook_signature_verify(secret, header, body, tolerance=600, now=t + 301)
    forged = header.replace(f"t={t}", f"t={t + 5}")  # a fresh timestamp on an old signature
    assert not webhook_signature_verify(secret, forged, body, now=t + 10)
    for garbage in ("", "v1=abc", "t=x,v1=abc", "nonsense"):
        assert not webhook_signature_verify(secret, garbage, body, now=t)


def test_the_docs_snippet_is_the_reference_recipe():
    """docs/api.md's copy-paste verifier accepts what we sign and refuses a tampered body."""
    import re
    from pathlib import Path

    from django.conf import settings

    text = Path(settings.BASE_DIR, "docs", "api.md").read_text()
    snippet = re.search(r"```python\n(# verify_globalstore_signature.*?)```", text, re.S)
    assert snippet, "docs/api.md lost its verification snippet"
    namespace: dict = {}
    exec(snippet.group(1), namespace)
    verify = namespace["verify_globalstore_signature"]
    body = b'{"id":"evt_9"}'
    import time

    header = webhook_signature_sign(secret="whsec_doc", body=body, timestamp=int(time.time()))
    assert verify("whsec_doc", header, body)
    assert not verify("whsec_doc", header, body + b"x")
    assert not verify("whsec_other", header, body)


# --- Which events become deliveries -----------------------------------------------------------


def test_the_subscriber_is_registered_for_every_partner_topic():
    name = events.subscriber_name(partner_webhook_on_order_event)
    for topic in PARTNER_TOPICS:
        assert name in events.subscribers_for(topic)
    assert set(PARTNER_TOPICS) == {
        "order.paid",
        "order.shipped",
        "order.delivered",
        "order.cancelled",
        "order.refunded",
    }


def test_a_partner_order_event_makes_one_delivery_and_one_send(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    partner.webhook_url = receiver.url
    partner.save()
    event = publish(partner_order(partner))

    callbacks = deliver(event, django_capture_on_commit_callbacks)
    again = deliver(event, django_capture_on_commit_callbacks)  # the relay redelivers

    delivery = PartnerWebhookDelivery.objects.get()
    assert (delivery.partner, delivery.event, delivery.topic) == (partner, event, "order.paid")
    assert delivery.status == Status.PENDING
    assert len(callbacks) == 1
    assert again == []
    assert receiver.requests == []  # nothing is sent inside the subscriber


def test_nothing_for_shopper_orders_other_partners_or_partners_without_url(
    partner, other_partner, receiver_factory, django_capture_on_commit_callbacks
):
    mine, theirs = receiver_factory([200]), receiver_factory([200])
    partner.webhook_url = mine.url
    partner.save()
    other_partner.webhook_url = theirs.url
    other_partner.save()

    shopper_event = publish(OrderFactory(status=Order.Status.PAID))
    other_event = publish(partner_order(other_partner), topic="order.shipped")
    assert deliver(shopper_event, django_capture_on_commit_callbacks) == []
    deliver(other_event, django_capture_on_commit_callbacks)

    # Only the other partner's delivery exists; sending it reaches only its endpoint.
    delivery = PartnerWebhookDelivery.objects.get()
    assert delivery.partner == other_partner
    partner_webhook_deliver.apply(args=[delivery.pk])
    assert mine.requests == []
    assert len(theirs.requests) == 1
    assert json.loads(theirs.requests[0][1])["data"]["order"]["number"] == (
        Order.objects.get(partner=other_partner).number
    )

    # A partner without a webhook URL, or an inactive one, gets no delivery.
    other_partner.webhook_url = ""
    other_partner.save()
    deliver(
        publish(partner_order(other_partner), "order.delivered"),
        django_capture_on_commit_callbacks,
    )
    partner.is_active = False
    partner.save()
    deliver(
        publish(OrderFactory(partner=partner, status=Order.Status.PAID)),
        django_capture_on_commit_callbacks,
    )
    assert PartnerWebhookDelivery.objects.count() == 1


# --- Sending, retries, giving up -------------------------------------------------------------


@override_settings(PARTNER_WEBHOOK_BACKOFF_SECONDS=30)
def test_a_failing_receiver_is_retried_and_succeeds_with_every_attempt_logged(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([500, 503, 200])
    partner.webhook_url = receiver.url
    partner.save()
    order = partner_order(partner, partner_reference="PO-1")
    event = publish(order)
    deliver(event, django_capture_on_commit_callbacks)
    delivery = PartnerWebhookDelivery.objects.get()
    t0 = delivery.next_attempt_at

    first = partner_webhook_send(delivery_id=delivery.pk, now=t0)
    delivery.refresh_from_db()
    assert (first.status, first.status_code) == (Status.PENDING, 500)
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30)

    # Not due yet: nothing is sent, and the sweep does not pick it up.
    assert not partner_webhook_send(
        delivery_id=delivery.pk, now=t0 + timedelta(seconds=29)
    ).attempted
    assert partner_webhook_deliveries_due(now=t0 + timedelta(seconds=29)) == []
    assert partner_webhook_deliveries_due(now=t0 + timedelta(seconds=30)) == [delivery.pk]

    partner_webhook_send(delivery_id=delivery.pk, now=t0 + timedelta(seconds=30))
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == t0 + timedelta(seconds=30 + 60)  # doubled
    last = partner_webhook_send(delivery_id=delivery.pk, now=t0 + timedelta(seconds=90))
    delivery.refresh_from_db()

    assert last.status == Status.SUCCEEDED
    assert delivery.status == Status.SUCCEEDED
    assert delivery.delivered_at == t0 + timedelta(seconds=90)
    assert delivery.attempts == 3
    attempts = list(delivery.attempt_log.values_list("status_code", "error"))
    assert attempts == [(500, "HTTP 500"), (503, "HTTP 503"), (200, "")]
    assert len(receiver.requests) == 3

    # Every request is signed with the partner's secret over the exact body.
    for (headers, body), sent_at in zip(
        receiver.requests,
        [t0, t0 + timedelta(seconds=30), t0 + timedelta(seconds=90)],
        strict=True,
    ):
        assert headers["Content-Type"] == "application/json"
        assert headers["GlobalStore-Event-Id"] == f"evt_{event.pk}"
        assert webhook_signature_verify(
            partner.webhook_secret,
            headers["GlobalStore-Signature"],
            body,
            now=sent_at.timestamp(),
        )
    payload = json.loads(receiver.requests[-1][1])
    assert payload["id"] == f"evt_{event.pk}"
    assert payload["type"] == "order.paid"
    assert payload["data"]["order"]["number"] == order.number
    assert payload["data"]["order"]["reference"] == "PO-1"
    assert payload["data"]["order"]["total_krw"] == order.total_krw

    # Delivered: never sent again, even when asked.
    assert not partner_webhook_send(delivery_id=delivery.pk, force=True).attempted
    assert len(receiver.requests) == 3


@override_settings(PARTNER_WEBHOOK_BACKOFF_SECONDS=30)
def test_backoff_doubles_up_to_an_hour(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([500])
    partner.webhook_url = receiver.url
    partner.save()
    deliver(publish(partner_order(partner)), django_capture_on_commit_callbacks)
    delivery = PartnerWebhookDelivery.objects.get()
    now, gaps = delivery.next_attempt_at, []
    for _ in range(10):
        partner_webhook_send(delivery_id=delivery.pk, now=now)
        delivery.refresh_from_db()
        gaps.append(int((delivery.next_attempt_at - now).total_seconds()))
        now = delivery.next_attempt_at
    assert gaps == [30, 60, 120, 240, 480, 960, 1920, 3600, 3600, 3600]
    assert delivery.status == Status.PENDING


@override_settings(PARTNER_WEBHOOK_GIVE_UP_HOURS=26)
def test_gives_up_after_the_configured_hours(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([500])
    partner.webhook_url = receiver.url
    partner.save()
    deliver(publish(partner_order(partner)), django_capture_on_commit_callbacks)
    delivery = PartnerWebhookDelivery.objects.get()

    almost = delivery.created_at + timedelta(hours=26) - timedelta(seconds=1)
    assert partner_webhook_send(delivery_id=delivery.pk, now=almost).status == Status.PENDING
    late = delivery.created_at + timedelta(hours=26)
    assert (
        partner_webhook_send(delivery_id=delivery.pk, now=late, force=True).status == Status.FAILED
    )
    delivery.refresh_from_db()
    assert delivery.status == Status.FAILED
    assert delivery.attempts == 2
    # Given up: the sweep ignores it and a send does nothing.
    assert partner_webhook_deliveries_due(now=late + timedelta(days=1)) == []
    assert not partner_webhook_send(delivery_id=delivery.pk, force=True).attempted
    assert len(receiver.requests) == 2


def test_an_unreachable_endpoint_is_an_attempt_with_an_error(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    partner.webhook_url = receiver.url
    partner.save()
    receiver.close()  # nothing listens on the port any more
    deliver(publish(partner_order(partner)), django_capture_on_commit_callbacks)
    delivery = PartnerWebhookDelivery.objects.get()
    assert partner_webhook_deliver.apply(args=[delivery.pk]).get() == Status.PENDING
    attempt = PartnerWebhookAttempt.objects.get()
    assert attempt.status_code is None
    assert "ConnectError" in attempt.error


def test_the_sweep_enqueues_only_due_deliveries(
    partner, receiver_factory, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    partner.webhook_url = receiver.url
    partner.save()
    deliver(publish(partner_order(partner)), django_capture_on_commit_callbacks)
    deliver(
        publish(partner_order(partner)),
        django_capture_on_commit_callbacks,
    )
    later = PartnerWebhookDelivery.objects.order_by("id").last()
    later.next_attempt_at = timezone.now() + timedelta(hours=1)
    later.save()
    assert partner_webhook_sweep.apply().get() == 1


# --- Admin ------------------------------------------------------------------------------------


def test_admin_redeliver_sends_a_delivered_webhook_again(
    partner, receiver_factory, client, django_capture_on_commit_callbacks
):
    receiver = receiver_factory([200])
    partner.webhook_url = receiver.url
    partner.save()
    deliver(publish(partner_order(partner)), django_capture_on_commit_callbacks)
    delivery = PartnerWebhookDelivery.objects.get()
    partner_webhook_deliver.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED

    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    url = reverse("admin:storefront_partnerwebhookdelivery_changelist")
    assert client.get(url).status_code == 200
    page = client.get(reverse("admin:storefront_partnerwebhookdelivery_change", args=[delivery.pk]))
    assert page.status_code == 200
    assert receiver.url.encode() in page.content  # the attempt log inline
    assert partner.webhook_secret.encode() not in page.content
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = client.post(
            url, {"action": "redeliver_now", "_selected_action": [delivery.pk]}, follow=True
        )
    assert response.status_code == 200
    assert len(callbacks) == 1
    delivery.refresh_from_db()
    assert delivery.status == Status.PENDING
    assert delivery.delivered_at is None

    partner_webhook_deliver.apply(args=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Status.SUCCEEDED
    assert delivery.attempts == 2
    assert delivery.attempt_log.count() == 2
    assert len(receiver.requests) == 2
