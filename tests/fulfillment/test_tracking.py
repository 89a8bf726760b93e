"""Tracking: events stored once whatever order and however often they come, the poller
against the sandbox's tracking service (batches, a carrier error then recovery with
backoff, no lost events), and the order following its parcels through the subscribers
(delivered only when every shipment is), with one email per step."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import PurchaseOrder, Shipment, TrackingEvent
from fulfillment.services.shipments import (
    shipment_create,
    shipment_create_international,
    shipment_mark_shipped,
    tracking_events_record,
    tracking_poll_due,
)
from fulfillment.tasks import tracking_poll_task
from fulfillment.tracking_client import CarrierEvent, TrackingUnavailable, parcels_track
from orders import shipping_subscribers
from orders.models import Order, OrderNotification
from storefront.events import event_deliver
from storefront.models import OutboxEvent
from tests.factories import StockFactory
from tests.fulfillment.test_shipments import allocate, paid_order
from tests.orders.factories import OrderLineFactory

pytestmark = pytest.mark.django_db

T0 = datetime.datetime(2026, 1, 5, 9, 0, tzinfo=datetime.UTC)


def at(hours: int) -> datetime.datetime:
    return T0 + datetime.timedelta(hours=hours)


def carrier_event(external_id: str, code: str, hours: int) -> CarrierEvent:
    return CarrierEvent(external_id=external_id, code=code, occurred_at=at(hours))


def sandbox_event(number: str, external_id: str, code: str, hours: int, carrier: str = "cj"):
    return {
        "carrier": carrier,
        "number": number,
        "id": external_id,
        "code": code,
        "occurred_at": at(hours).isoformat(),
        "location": "서울",
    }


@pytest.fixture
def tracking(settings, sandbox_url, sandbox_controls):
    """The tracking client talks to the sandbox, simulation off (tests script parcels),
    no client retries (each poll is one request), short timeouts."""
    settings.TRACKING_URL = f"{sandbox_url}/tracking"
    settings.TRACKING_TIMEOUT_SECONDS = 2
    settings.TRACKING_RETRIES = 0
    settings.TRACKING_REPOLL_SECONDS = 60
    settings.TRACKING_BACKOFF_MAX_SECONDS = 600
    sandbox_controls.state("tracking", simulate=False)
    return sandbox_controls


def shipped(order: Order | None = None, *, number: str = "CJ1", units: int = 1) -> Shipment:
    """A domestic shipment of ``units`` allocated units, marked shipped."""
    order = order or paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, units)
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, units)],
        carrier="cj",
        tracking_number=number,
    )
    return shipment_mark_shipped(shipment_id=shipment.pk)


def topics(shipment: Shipment) -> list[str]:
    return list(
        OutboxEvent.objects.filter(aggregate_type="shipment", aggregate_id=str(shipment.pk))
        .order_by("id")
        .values_list("topic", flat=True)
    )


# --- Recording ---------------------------------------------------------------------------


def test_the_same_event_twice_is_stored_once():
    shipment = shipped()
    events = [carrier_event("e1", "picked_up", 0), carrier_event("e1", "picked_up", 0)]
    assert tracking_events_record(shipment_id=shipment.pk, events=events) == 1
    assert tracking_events_record(shipment_id=shipment.pk, events=events) == 0
    assert shipment.events.count() == 1


def test_out_of_order_events_settle_on_the_latest_step():
    shipment = shipped()
    tracking_events_record(
        shipment_id=shipment.pk,
        events=[carrier_event("e3", "out_for_delivery", 5), carrier_event("e1", "picked_up", 0)],
    )
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.OUT_FOR_DELIVERY
    # An older step reported late does not move the parcel back.
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("e2", "in_transit", 2)])
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.OUT_FOR_DELIVERY
    assert list(shipment.events.values_list("code", flat=True)) == [
        "picked_up",
        "in_transit",
        "out_for_delivery",
    ]
    assert topics(shipment) == ["shipment.shipped", "shipment.tracking_updated"]


def test_delivery_is_final_and_published_once():
    shipment = shipped()
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("d", "delivered", 9)])
    # Reported after the delivery, with a later time: still delivered.
    tracking_events_record(
        shipment_id=shipment.pk,
        events=[carrier_event("d", "delivered", 9), carrier_event("x", "in_transit", 10)],
    )
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    assert shipment.delivered_at == at(9)
    assert shipment.next_poll_at is None
    assert topics(shipment).count("shipment.delivered") == 1


def test_an_exception_is_published():
    shipment = shipped()
    tracking_events_record(
        shipment_id=shipment.pk,
        events=[
            CarrierEvent(
                external_id="x1", code="exception", occurred_at=at(3), description="주소 불명"
            )
        ],
    )
    event = OutboxEvent.objects.get(topic="shipment.exception")
    assert event.payload["description"] == "주소 불명"


# --- Client and poller against the sandbox -----------------------------------------------


def test_the_client_returns_each_parcel_in_the_carriers_order(tracking):
    tracking.state(
        "tracking",
        add_events=[
            sandbox_event("A", "a2", "in_transit", 2),
            sandbox_event("A", "a1", "picked_up", 1),
        ],
    )
    answer = parcels_track(carrier="cj", tracking_numbers=["A", "B"])
    assert [e.external_id for e in answer["A"].events] == ["a2", "a1"]
    assert answer["A"].events[1].occurred_at == at(1)
    assert answer["B"].events == ()


def test_the_client_retries_a_blip_and_gives_up_on_an_outage(tracking, settings):
    settings.TRACKING_RETRIES = 1
    tracking.faults("tracking", fail_next=1)
    assert parcels_track(carrier="cj", tracking_numbers=["A"])["A"].events == ()
    tracking.faults("tracking", malformed_next=2)
    with pytest.raises(TrackingUnavailable):
        parcels_track(carrier="cj", tracking_numbers=["A"])
    assert tracking.request_count("tracking") == 4


def test_poll_records_due_parcels_in_batches_per_carrier(tracking):
    shipments = [shipped(number=f"CJB{n}") for n in range(3)]
    tracking.state(
        "tracking",
        add_events=[sandbox_event(s.tracking_number, "p", "picked_up", 0) for s in shipments],
    )
    recorded = tracking_poll_due(batch_size=2)
    assert recorded == 3
    assert tracking.request_count("tracking") == 2  # 2 + 1 numbers
    # Not due again until the repoll delay has passed.
    assert tracking_poll_due(batch_size=2) == 0
    assert tracking.request_count("tracking") == 2


def test_a_carrier_error_backs_off_then_recovers_without_losing_events(tracking):
    shipment = shipped(number="CJR1")
    tracking.state("tracking", add_events=[sandbox_event("CJR1", "e1", "picked_up", 0)])
    now = timezone.now()
    assert tracking_poll_due(now=now) == 1

    # The carrier fails: the stored event stays, the next poll moves out, doubling.
    tracking.faults("tracking", fail_next=2)
    later = now + datetime.timedelta(seconds=61)
    assert tracking_poll_due(now=later) == 0
    shipment.refresh_from_db()
    assert shipment.poll_failures == 1
    assert shipment.next_poll_at == later + datetime.timedelta(seconds=120)
    assert list(shipment.events.values_list("external_id", flat=True)) == ["e1"]
    assert tracking_poll_due(now=later + datetime.timedelta(seconds=60)) == 0  # not due yet
    assert tracking.request_count("tracking") == 2

    even_later = later + datetime.timedelta(seconds=120)
    assert tracking_poll_due(now=even_later) == 0
    shipment.refresh_from_db()
    assert shipment.poll_failures == 2
    assert shipment.next_poll_at == even_later + datetime.timedelta(seconds=240)

    # The carrier answers again, repeating the old event and adding new ones.
    tracking.state(
        "tracking",
        add_events=[
            sandbox_event("CJR1", "e3", "delivered", 8),
            sandbox_event("CJR1", "e2", "out_for_delivery", 5),
        ],
    )
    recovered = even_later + datetime.timedelta(seconds=240)
    assert tracking_poll_due(now=recovered) == 2
    shipment.refresh_from_db()
    assert shipment.poll_failures == 0
    assert shipment.status == Shipment.Status.DELIVERED
    assert sorted(shipment.events.values_list("external_id", flat=True)) == ["e1", "e2", "e3"]


def test_backoff_is_capped(tracking):
    shipment = shipped(number="CJC1")
    Shipment.objects.filter(pk=shipment.pk).update(poll_failures=30)
    tracking.faults("tracking", fail_next=1)
    now = timezone.now()
    tracking_poll_due(now=now)
    shipment.refresh_from_db()
    assert shipment.next_poll_at == now + datetime.timedelta(seconds=600)


def test_the_beat_task_polls(tracking):
    shipped(number="CJT1")
    tracking.state("tracking", add_events=[sandbox_event("CJT1", "t1", "picked_up", 0)])
    assert tracking_poll_task.apply().get() == 1
    assert TrackingEvent.objects.filter(external_id="t1").count() == 1


# --- The order follows its parcels ---------------------------------------------------------


def deliver_all(topic: str) -> None:
    for event in OutboxEvent.objects.filter(topic=topic, dispatched_at__isnull=True):
        event_deliver(event_id=event.pk)


def test_the_order_is_delivered_only_when_every_shipment_is():
    order = paid_order()
    first = shipped(order, number="CJD1")
    second = shipped(order, number="CJD2")
    deliver_all("shipment.shipped")
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED

    tracking_events_record(shipment_id=first.pk, events=[carrier_event("d1", "delivered", 5)])
    deliver_all("shipment.delivered")
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED

    tracking_events_record(shipment_id=second.pk, events=[carrier_event("d2", "delivered", 6)])
    deliver_all("shipment.delivered")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert list(order.status_changes.values_list("to_status", flat=True)) == [
        "shipped",
        "delivered",
    ]


def test_units_not_shipped_yet_keep_the_order_from_delivered():
    order = paid_order()
    shipment = shipped(order, number="CJU1")
    OrderLineFactory(order=order, quantity=1, cross_border_quantity=1)  # still coming
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("d", "delivered", 5)])
    deliver_all("shipment.shipped")
    deliver_all("shipment.delivered")
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED


def test_a_delivery_handled_before_its_shipping_moves_the_order_through_shipped():
    order = paid_order()
    line = OrderLineFactory(order=order, quantity=1, cross_border_quantity=1)
    purchase_order = PurchaseOrder.objects.create(kind="cross_border", idempotency_key="po-x")
    shipment = shipment_create_international(
        order_id=order.pk,
        purchase_order_id=purchase_order.pk,
        carrier="gs-intl",
        tracking_number="GSX",
        lines=[(line.pk, 1)],
    )
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("d", "delivered", 9)])
    deliver_all("shipment.delivered")
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    deliver_all("shipment.shipped")  # late: changes nothing
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert order.status_changes.count() == 2


def test_subscribers_are_idempotent():
    order = paid_order()
    shipment = shipped(order, number="CJI1")
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("d", "delivered", 5)])
    shipped_event = OutboxEvent.objects.get(topic="shipment.shipped")
    delivered_event = OutboxEvent.objects.get(topic="shipment.delivered")
    for _ in range(2):
        shipping_subscribers.order_shipped_on_shipment(shipped_event)
        shipping_subscribers.order_delivered_on_shipment(delivered_event)
    order.refresh_from_db()
    assert order.status == Order.Status.DELIVERED
    assert order.status_changes.count() == 2


def test_the_shopper_gets_one_email_per_step():
    order = paid_order()
    shipment = shipped(order, number="CJM1")
    tracking_events_record(
        shipment_id=shipment.pk,
        events=[
            carrier_event("p", "picked_up", 0),
            carrier_event("o", "out_for_delivery", 4),
        ],
    )
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("d", "delivered", 6)])
    for topic in ("shipment.shipped", "shipment.tracking_updated", "shipment.delivered"):
        deliver_all(topic)
    subjects = [message.subject for message in mail.outbox]
    assert len(subjects) == 3
    assert "출발" in subjects[0]
    assert order.number in subjects[0]
    assert "오늘 배송" in subjects[1]
    assert "배송이 완료" in subjects[2]
    assert "CJM1" in mail.outbox[0].body
    assert mail.outbox[0].to == [order.email]

    # Redelivered events send nothing more.
    shipping_subscribers.shipment_shipped_email(OutboxEvent.objects.get(topic="shipment.shipped"))
    for event in OutboxEvent.objects.filter(topic="shipment.tracking_updated"):
        shipping_subscribers.shipment_out_for_delivery_email(event)
    shipping_subscribers.shipment_delivered_email(
        OutboxEvent.objects.get(topic="shipment.delivered")
    )
    assert len(mail.outbox) == 3
    assert OrderNotification.objects.filter(order=order, kind="shipment").count() == 3


def test_in_transit_updates_send_no_email():
    shipment = shipped(number="CJN1")
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("t", "in_transit", 2)])
    deliver_all("shipment.tracking_updated")
    assert mail.outbox == []


# --- The shopper's order page ------------------------------------------------------------


def _detail_queries(client, order) -> tuple[int, str]:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(reverse("orders:detail", args=[order.number]))
    assert response.status_code == 200
    return len(queries), response.content.decode()


def test_the_order_page_shows_a_timeline_per_shipment_in_korean(client, django_user_model):
    shopper = django_user_model.objects.create_user("lee@example.com", email="lee@example.com")
    client.force_login(shopper)
    order = paid_order(customer=shopper)
    first = shipped(order, number="CJPAGE1")
    tracking_events_record(
        shipment_id=first.pk,
        events=[carrier_event("p", "picked_up", 0), carrier_event("o", "out_for_delivery", 3)],
    )
    _detail_queries(client, order)  # warm up per-process and session caches
    one, body = _detail_queries(client, order)
    assert "CJPAGE1" in body
    assert "CJ대한통운" in body
    assert "배송 출발" in body  # out for delivery, in Korean
    assert "2026-01-05 18:00" in body  # 09:00 UTC + 3 h, shown in Seoul time

    for n in range(3):
        second = shipped(order, number=f"CJPAGE{n + 2}")
        tracking_events_record(
            shipment_id=second.pk, events=[carrier_event(f"p{n}", "picked_up", 1)]
        )
    four, body = _detail_queries(client, order)
    assert "CJPAGE4" in body
    assert four == one  # shipments and their events are prefetched


def test_simulated_parcels_reach_delivered_by_polling_alone(tracking):
    """What `make run` relies on: the sandbox's simulation moves an unscripted parcel one
    step per poll, so the order is delivered with no manual step after shipping."""
    tracking.state("tracking", simulate=True)
    order = paid_order()
    shipment = shipped(order, number="CJSIM1")
    now = timezone.now()
    for step in range(6):
        tracking_poll_due(now=now + datetime.timedelta(minutes=step))
        for topic in ("shipment.shipped", "shipment.tracking_updated", "shipment.delivered"):
            deliver_all(topic)
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert shipment.status == Shipment.Status.DELIVERED
    assert list(shipment.events.values_list("code", flat=True)) == [
        "picked_up",
        "in_transit",
        "out_for_delivery",
        "delivered",
    ]
    assert order.status == Order.Status.DELIVERED
    assert len(mail.outbox) == 3  # shipped, out for delivery, delivered


def test_a_delivery_problem_is_emailed_once():
    order = paid_order()
    shipment = shipped(order, number="CJX1")
    tracking_events_record(shipment_id=shipment.pk, events=[carrier_event("x", "exception", 2)])
    event = OutboxEvent.objects.get(topic="shipment.exception")
    event_deliver(event_id=event.pk)
    shipping_subscribers.shipment_exception_email(event)
    assert len(mail.outbox) == 1
    assert "문제" in mail.outbox[0].subject
    order.refresh_from_db()
    assert order.status == Order.Status.PAID  # the status follows shipped/delivered only


def test_a_partially_refunded_order_that_never_shipped_moves_to_shipped():
    order = paid_order()
    shipment = shipped(order, number="CJPR1")
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PARTIALLY_REFUNDED)
    deliver_all("shipment.shipped")
    order.refresh_from_db()
    assert order.status == Order.Status.SHIPPED
    # Refunded again after shipping: a second parcel leaving does not undo that.
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PARTIALLY_REFUNDED)
    shipping_subscribers.order_shipped_on_shipment(
        OutboxEvent.objects.get(topic="shipment.shipped", aggregate_id=str(shipment.pk))
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
