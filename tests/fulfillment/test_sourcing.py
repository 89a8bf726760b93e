"""Cross-border and replenishment purchase orders sent to Amazon (fulfillment/services/
sourcing.py) over real HTTP to the sandbox's sourcing service."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone, translation

from fulfillment.models import PurchaseOrder, PurchaseOrderLine, Shipment, Stock
from fulfillment.services.sourcing import (
    PurchaseOrderLineNotHeld,
    purchase_order_line_cancel,
    purchase_order_refresh,
    purchase_order_submit,
    purchase_orders_refresh_due,
    purchase_orders_submit_due,
)
from fulfillment.sourcing_client import SourcingUnavailable
from storefront.models import OutboxEvent
from tests.factories import ProductFactory, StockFactory, WarehouseFactory
from tests.orders.factories import CrossBorderOrderFactory, OrderLineFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _english():
    """Hold reasons are written in the active language; these tests read the English."""
    with translation.override("en"):
        yield


@pytest.fixture
def sourcing(settings, sandbox_url, sandbox_controls):
    """The sourcing client talks to the sandbox with short timeouts."""
    settings.SOURCING_URL = f"{sandbox_url}/sourcing"
    settings.SOURCING_TIMEOUT_SECONDS = 0.5
    settings.SOURCING_RETRIES = 1
    settings.SOURCING_PRICE_TOLERANCE = Decimal("0.05")
    return sandbox_controls


def cross_border_po(*, lines=1, price=Decimal("19.99"), run_key="xb-20261128", **fields):
    """An open cross-border purchase order with ``lines`` lines, each for a different
    customer order (2 units of its own product at ``price``)."""
    purchase_order = PurchaseOrder.objects.create(
        kind=PurchaseOrder.Kind.CROSS_BORDER,
        run_key=run_key,
        idempotency_key=f"po-{run_key}",
        **fields,
    )
    for _ in range(lines):
        order_line = OrderLineFactory(
            order=CrossBorderOrderFactory(status="paid", paid_at=timezone.now()),
            quantity=2,
            cross_border_quantity=2,
        )
        PurchaseOrderLine.objects.create(
            purchase_order=purchase_order,
            product=order_line.product,
            order_line=order_line,
            quantity=2,
            expected_unit_price_usd=price,
        )
    return purchase_order


def supplier_orders(controls) -> dict:
    return controls.state("sourcing")["orders"]


def test_submit_sends_the_lines_and_records_the_confirmed_order(sourcing):
    purchase_order = cross_border_po(lines=2)

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    assert result.status == PurchaseOrder.Status.CONFIRMED
    assert result.external_id == "AMZ-000001"
    assert result.submitted_at is not None
    lines = list(purchase_order.lines.order_by("pk"))
    assert [line.status for line in lines] == ["open", "open"]
    assert [line.confirmed_unit_price_usd for line in lines] == [Decimal("19.99")] * 2
    sent = supplier_orders(sourcing)["AMZ-000001"]
    assert sent["reference"] == f"PO-{purchase_order.pk}"
    assert [(line["asin"], line["quantity"]) for line in sent["lines"]] == [
        (line.product.asin, 2) for line in lines
    ]


def test_submitting_again_changes_nothing_and_sends_nothing(sourcing):
    purchase_order = cross_border_po()
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    again = purchase_order_submit(purchase_order_id=purchase_order.pk)

    assert again.external_id == "AMZ-000001"
    assert sourcing.request_count("sourcing") == 1


def test_a_timeout_answered_by_the_client_retry_buys_once(sourcing):
    # The first attempt is held past the client's timeout; the retry carries the same key.
    sourcing.faults("sourcing", timeout_next=1, timeout_seconds=2)
    purchase_order = cross_border_po()

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    assert result.status == PurchaseOrder.Status.CONFIRMED
    assert [r["fault"] for r in sourcing.requests("sourcing")] == ["timeout", None]
    assert len(supplier_orders(sourcing)) == 1


def test_an_order_placed_but_answered_too_late_is_not_placed_twice(sourcing, settings):
    # Amazon places the order, but its answer comes after the client gave up (no retry).
    settings.SOURCING_RETRIES = 0
    sourcing.state("sourcing", late_answers_next=1, late_answer_seconds=1.5)
    purchase_order = cross_border_po()

    with pytest.raises(SourcingUnavailable):
        purchase_order_submit(purchase_order_id=purchase_order.pk)

    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.SUBMITTED  # closed to new lines
    assert purchase_order.external_id is None
    assert len(supplier_orders(sourcing)) == 1

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    assert result.status == PurchaseOrder.Status.CONFIRMED
    assert result.external_id == "AMZ-000001"
    assert len(supplier_orders(sourcing)) == 1


def test_a_price_rise_above_the_tolerance_puts_the_line_on_hold(sourcing):
    purchase_order = cross_border_po(lines=2)
    held, bought = purchase_order.lines.order_by("pk")
    sourcing.state("sourcing", prices={held.product.asin: "24.50"})

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    assert result.status == PurchaseOrder.Status.ON_HOLD
    held.refresh_from_db()
    bought.refresh_from_db()
    assert held.status == PurchaseOrderLine.Status.ON_HOLD
    assert held.hold_reason == (
        "Amazon's price rose from USD 19.99 to USD 24.50 (+22.6%), above the 5% tolerance."
    )
    assert held.confirmed_unit_price_usd is None
    assert (bought.status, bought.confirmed_unit_price_usd) == ("open", Decimal("19.99"))


def test_a_price_rise_within_the_tolerance_is_confirmed_at_the_new_price(sourcing):
    purchase_order = cross_border_po()
    line = purchase_order.lines.get()
    sourcing.state("sourcing", prices={line.product.asin: "20.98"})  # +4.95%

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    line.refresh_from_db()
    assert result.status == PurchaseOrder.Status.CONFIRMED
    assert (line.status, line.confirmed_unit_price_usd) == ("open", Decimal("20.98"))
    assert line.hold_reason == ""


def test_out_of_stock_puts_the_line_on_hold(sourcing):
    purchase_order = cross_border_po()
    line = purchase_order.lines.get()
    sourcing.state("sourcing", out_of_stock=[line.product.asin])

    result = purchase_order_submit(purchase_order_id=purchase_order.pk)

    line.refresh_from_db()
    assert result.status == PurchaseOrder.Status.ON_HOLD
    assert line.status == PurchaseOrderLine.Status.ON_HOLD
    assert line.hold_reason == f"Amazon has no stock of {line.product.asin}."


def test_refresh_to_shipped_creates_one_international_shipment_per_customer_order(sourcing):
    purchase_order = cross_border_po(lines=2)
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    result = purchase_order_refresh(purchase_order_id=purchase_order.pk)
    purchase_order_refresh(purchase_order_id=purchase_order.pk)  # nothing more to do

    assert result.status == PurchaseOrder.Status.SHIPPED
    shipments = list(Shipment.objects.filter(purchase_order=purchase_order).order_by("pk"))
    lines = list(purchase_order.lines.order_by("pk").select_related("order_line"))
    assert [s.order_id for s in shipments] == [line.order_line.order_id for line in lines]
    assert {s.kind for s in shipments} == {Shipment.Kind.INTERNATIONAL}
    assert {s.carrier for s in shipments} == {"gs-intl"}
    assert len({s.tracking_number for s in shipments}) == 2
    assert [[(sl.order_line_id, sl.quantity) for sl in s.lines.all()] for s in shipments] == [
        [(line.order_line_id, 2)] for line in lines
    ]
    assert {line.status for line in lines} == {PurchaseOrderLine.Status.DONE}


def test_refresh_before_shipping_creates_nothing(sourcing):
    sourcing.state("sourcing", simulate=False)
    purchase_order = cross_border_po()
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    result = purchase_order_refresh(purchase_order_id=purchase_order.pk)

    assert result.status == PurchaseOrder.Status.CONFIRMED
    assert not Shipment.objects.exists()


def test_a_held_line_is_not_shipped(sourcing):
    purchase_order = cross_border_po(lines=2)
    held, bought = purchase_order.lines.order_by("pk")
    sourcing.state("sourcing", out_of_stock=[held.product.asin])
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    purchase_order_refresh(purchase_order_id=purchase_order.pk)

    assert list(Shipment.objects.values_list("order_id", flat=True)) == [bought.order_line.order_id]
    held.refresh_from_db()
    assert held.status == PurchaseOrderLine.Status.ON_HOLD


def test_cancelling_a_held_line_publishes_the_refund_event_once(sourcing, admin_user):
    purchase_order = cross_border_po()
    line = purchase_order.lines.select_related("order_line").get()
    sourcing.state("sourcing", out_of_stock=[line.product.asin])
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    purchase_order_line_cancel(line_id=line.pk, actor_id=admin_user.pk)
    purchase_order_line_cancel(line_id=line.pk, actor_id=admin_user.pk)

    line.refresh_from_db()
    purchase_order.refresh_from_db()
    assert line.status == PurchaseOrderLine.Status.CANCELLED
    assert purchase_order.status == PurchaseOrder.Status.CANCELLED  # nothing left to buy
    events = list(OutboxEvent.objects.filter(topic="purchase_order_line.cancelled"))
    assert len(events) == 1
    assert events[0].payload["order_id"] == line.order_line.order_id
    assert events[0].payload["order_line_id"] == line.order_line_id
    assert events[0].payload["quantity"] == 2


def test_a_line_that_is_not_on_hold_cannot_be_cancelled(sourcing, admin_user):
    purchase_order = cross_border_po()
    purchase_order_submit(purchase_order_id=purchase_order.pk)
    line = purchase_order.lines.get()

    with pytest.raises(PurchaseOrderLineNotHeld):
        purchase_order_line_cancel(line_id=line.pk, actor_id=admin_user.pk)

    line.refresh_from_db()
    assert line.status == PurchaseOrderLine.Status.OPEN
    assert not OutboxEvent.objects.filter(topic="purchase_order_line.cancelled").exists()


def test_submit_due_waits_for_the_batch_window_of_cross_border_orders(sourcing, settings):
    settings.SOURCING_BATCH_SECONDS = 300
    young = cross_border_po(run_key="xb-young")
    old = cross_border_po(run_key="xb-old")
    PurchaseOrder.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - datetime.timedelta(seconds=301)
    )

    assert purchase_orders_submit_due() == 1

    young.refresh_from_db()
    old.refresh_from_db()
    assert (young.status, young.external_id) == (PurchaseOrder.Status.OPEN, None)
    assert old.status == PurchaseOrder.Status.CONFIRMED


def test_submit_due_raises_for_a_retry_when_amazon_is_down_and_keeps_the_order(sourcing):
    sourcing.faults("sourcing", fail_next=10)
    purchase_order = cross_border_po()
    PurchaseOrder.objects.filter(pk=purchase_order.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )

    with pytest.raises(SourcingUnavailable):
        purchase_orders_submit_due()

    purchase_order.refresh_from_db()
    assert (purchase_order.status, purchase_order.external_id) == ("submitted", None)
    sourcing.faults("sourcing", fail_next=0)
    assert purchase_orders_submit_due() == 1


def test_a_delivered_replenishment_is_received_once(sourcing):
    warehouse = WarehouseFactory(code="icn")
    product = ProductFactory()
    StockFactory(warehouse=warehouse, product=product, on_hand=1)
    purchase_order = PurchaseOrder.objects.create(
        kind=PurchaseOrder.Kind.REPLENISHMENT,
        warehouse=warehouse,
        run_key="rs-1",
        idempotency_key="po-rs-1",
    )
    PurchaseOrderLine.objects.create(
        purchase_order=purchase_order,
        product=product,
        quantity=9,
        expected_unit_price_usd=Decimal("19.99"),
    )
    assert purchase_orders_submit_due() == 1

    for _ in range(4):  # shipped, delivered, then nothing more
        purchase_orders_refresh_due()

    stock = Stock.objects.get(warehouse=warehouse, product=product)
    assert stock.on_hand == 10
    purchase_order.refresh_from_db()
    assert purchase_order.status == PurchaseOrder.Status.RECEIVED


def test_admin_lists_held_lines_with_their_reason_and_cancels_them(sourcing, admin_client):
    purchase_order = cross_border_po()
    line = purchase_order.lines.get()
    sourcing.state("sourcing", out_of_stock=[line.product.asin])
    purchase_order_submit(purchase_order_id=purchase_order.pk)
    url = "/admin/fulfillment/purchaseorderline/"

    page = admin_client.get(url, {"status__exact": "on_hold"})
    response = admin_client.post(
        url, {"action": "cancel_and_refund", "_selected_action": [line.pk]}, follow=True
    )

    assert page.status_code == 200
    assert f"Amazon has no stock of {line.product.asin}." in page.content.decode()
    assert response.status_code == 200
    line.refresh_from_db()
    assert line.status == PurchaseOrderLine.Status.CANCELLED
    assert OutboxEvent.objects.filter(topic="purchase_order_line.cancelled").count() == 1


def test_staff_without_the_refund_permission_cannot_cancel_held_lines(
    sourcing, client, django_user_model
):
    staff = django_user_model.objects.create_user(
        username="picker", password="unused-pw-123", is_staff=True
    )
    staff.user_permissions.add(
        Permission.objects.get(
            codename="view_purchaseorderline", content_type__app_label="fulfillment"
        )
    )
    client.force_login(staff)
    purchase_order = cross_border_po()
    line = purchase_order.lines.get()
    sourcing.state("sourcing", out_of_stock=[line.product.asin])
    purchase_order_submit(purchase_order_id=purchase_order.pk)

    client.post(
        "/admin/fulfillment/purchaseorderline/",
        {"action": "cancel_and_refund", "_selected_action": [line.pk]},
    )

    line.refresh_from_db()
    assert line.status == PurchaseOrderLine.Status.ON_HOLD
    assert not OutboxEvent.objects.filter(topic="purchase_order_line.cancelled").exists()


def test_the_tasks_send_and_follow_purchase_orders_and_retry_outages(sourcing):
    from fulfillment.tasks import purchase_orders_refresh_task, purchase_orders_submit_task

    purchase_order = cross_border_po()
    PurchaseOrder.objects.filter(pk=purchase_order.pk).update(
        created_at=timezone.now() - datetime.timedelta(days=1)
    )

    assert purchase_orders_submit_task.apply().get() == 1
    assert purchase_orders_refresh_task.apply().get() == 1
    assert Shipment.objects.filter(purchase_order=purchase_order).count() == 1
    for task in (purchase_orders_submit_task, purchase_orders_refresh_task):
        assert task.acks_late
        assert task.autoretry_for == (SourcingUnavailable,)
        assert task.retry_jitter
        assert task.time_limit


def test_the_purchase_order_admin_gets_the_send_and_ask_actions():
    from django.contrib import admin

    from fulfillment.admin_sourcing import purchase_orders_refresh_now, purchase_orders_send_now

    actions = admin.site._registry[PurchaseOrder].actions
    assert purchase_orders_send_now in actions
    assert purchase_orders_refresh_now in actions


def test_send_now_from_the_purchase_order_admin(sourcing, admin_client):
    purchase_order = cross_border_po()

    response = admin_client.post(
        "/admin/fulfillment/purchaseorder/",
        {"action": "purchase_orders_send_now", "_selected_action": [purchase_order.pk]},
        follow=True,
    )

    assert response.status_code == 200
    purchase_order.refresh_from_db()
    assert purchase_order.external_id == "AMZ-000001"
