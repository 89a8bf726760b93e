"""Allocation at payment: reservations become allocations, the rest is taken from
domestic warehouses in priority order (spilling), what is left goes on the day's
cross-border purchase order; idempotent on redelivery; released once on cancellation."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import (
    Allocation,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    Stock,
)
from fulfillment.services import (
    ReservationRequest,
    order_allocate,
    order_allocations_release,
    stock_reservations_release,
    stock_reserve,
)
from fulfillment.subscribers import order_cancelled_release, order_paid_allocate
from orders.models import Order, OrderLine, Refund
from storefront.events import event_deliver, event_publish, subscriber_name, subscribers_for
from storefront.models import OutboxDelivery, OutboxEvent
from tests.factories import OrderFactory, ProductFactory, StockFactory, WarehouseFactory
from tests.orders.factories import CrossBorderOrderFactory, OrderLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db

EXPIRES_AT = timezone.now() + datetime.timedelta(minutes=30)


@pytest.fixture
def warehouses():
    return (
        WarehouseFactory(code="icn", priority=10),
        WarehouseFactory(code="pyt", priority=20),
    )


def paid_order(*, factory=OrderFactory, **fields) -> Order:
    return factory(status=Order.Status.PAID, paid_at=timezone.now(), **fields)


def stock_levels(product) -> dict[str, tuple[int, int, int]]:
    """Warehouse code → (on hand, allocated, reserved)."""
    return {
        code: (on_hand, allocated, reserved)
        for code, on_hand, allocated, reserved in Stock.objects.filter(product=product).values_list(
            "warehouse__code", "on_hand", "allocated", "reserved"
        )
    }


def allocated_from(order) -> dict[str, int]:
    return dict(
        Allocation.objects.filter(order=order, status=Allocation.Status.ALLOCATED).values_list(
            "stock__warehouse__code", "quantity"
        )
    )


def todays_run_key() -> str:
    return f"xb-{timezone.localtime(timezone.now(), ZoneInfo('Asia/Seoul')):%Y%m%d}"


def changed_events() -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(topic="order.fulfillment_changed"))


def test_one_warehouse_covers_the_line(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=5)
    line = OrderLineFactory(order=paid_order(), product=stock.product, quantity=3)

    result = order_allocate(order_id=line.order_id)

    assert result.created
    assert (result.domestic_units, result.cross_border_units) == (3, 0)
    assert result.changed_lines == ()
    assert allocated_from(line.order) == {"icn": 3}
    assert stock_levels(stock.product) == {"icn": (5, 3, 0)}
    assert not PurchaseOrderLine.objects.exists()
    assert not PurchaseOrder.objects.exists()
    assert changed_events() == []


def test_spills_across_warehouses_in_priority_order(warehouses):
    icn, pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=pyt, product=product, on_hand=5)
    StockFactory(warehouse=icn, product=product, on_hand=3, allocated=1)
    line = OrderLineFactory(order=paid_order(), product=product, quantity=4)

    result = order_allocate(order_id=line.order_id)

    assert result.line(line.pk).domestic == 4
    assert allocated_from(line.order) == {"icn": 2, "pyt": 2}
    assert stock_levels(product) == {"icn": (3, 3, 0), "pyt": (5, 2, 0)}
    assert not PurchaseOrderLine.objects.exists()


def test_inactive_and_foreign_warehouses_are_not_used(warehouses):
    icn, _pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=icn, product=product, on_hand=1)
    StockFactory(warehouse=WarehouseFactory(code="old", is_active=False), product=product)
    StockFactory(warehouse=WarehouseFactory(code="us", is_domestic=False), product=product)
    line = OrderLineFactory(
        order=paid_order(factory=CrossBorderOrderFactory),
        product=product,
        quantity=3,
        cross_border_quantity=2,
    )

    result = order_allocate(order_id=line.order_id)

    assert (result.domestic_units, result.cross_border_units) == (1, 2)
    assert allocated_from(line.order) == {"icn": 1}
    assert result.changed_lines == ()  # as promised at checkout


def test_nothing_left_puts_the_line_on_todays_cross_border_purchase_order(warehouses):
    icn, _pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=icn, product=product, on_hand=2, allocated=2)
    order = paid_order(factory=CrossBorderOrderFactory)
    line = OrderLineFactory(
        order=order,
        product=product,
        quantity=3,
        cross_border_quantity=3,
        unit_price_usd=Decimal("24.50"),
    )

    result = order_allocate(order_id=order.pk)

    purchase_order = PurchaseOrder.objects.get()
    assert (purchase_order.kind, purchase_order.status) == ("cross_border", "open")
    assert purchase_order.run_key == todays_run_key()
    assert purchase_order.idempotency_key == f"po-{todays_run_key()}"
    po_line = purchase_order.lines.get()
    assert (po_line.order_line_id, po_line.product_id, po_line.quantity) == (line.pk, product.pk, 3)
    assert po_line.expected_unit_price_usd == Decimal("24.50")
    assert po_line.status == "open"
    assert result.purchase_order_id == purchase_order.pk
    assert (result.domestic_units, result.cross_border_units) == (0, 3)
    assert not Allocation.objects.exists()
    assert stock_levels(product) == {"icn": (2, 2, 0)}
    assert changed_events() == []


def test_orders_of_the_same_day_share_one_purchase_order(warehouses):
    lines = [OrderLineFactory(order=paid_order(), quantity=1) for _ in range(3)]

    for line in lines:
        order_allocate(order_id=line.order_id)

    purchase_order = PurchaseOrder.objects.get()
    assert purchase_order.lines.count() == 3


def test_a_sent_purchase_order_is_followed_by_the_next_batch(warehouses):
    PurchaseOrder.objects.create(
        kind="cross_border",
        run_key=todays_run_key(),
        idempotency_key=f"po-{todays_run_key()}",
        status=PurchaseOrder.Status.SUBMITTED,
    )
    line = OrderLineFactory(order=paid_order(), quantity=1)

    order_allocate(order_id=line.order_id)

    po_line = PurchaseOrderLine.objects.get()
    assert po_line.purchase_order.run_key == f"{todays_run_key()}-2"
    assert po_line.purchase_order.status == "open"


def test_mixed_order_as_promised_publishes_nothing(warehouses):
    icn, pyt = warehouses
    tea, mug = ProductFactory(), ProductFactory()
    StockFactory(warehouse=icn, product=tea, on_hand=2)
    StockFactory(warehouse=pyt, product=tea, on_hand=2)
    StockFactory(warehouse=pyt, product=mug, on_hand=1)
    order = paid_order(factory=CrossBorderOrderFactory)
    tea_line = OrderLineFactory(order=order, product=tea, quantity=3)
    mug_line = OrderLineFactory(order=order, product=mug, quantity=4, cross_border_quantity=3)

    result = order_allocate(order_id=order.pk)

    assert result.line(tea_line.pk).domestic == 3
    assert (result.line(mug_line.pk).domestic, result.line(mug_line.pk).cross_border) == (1, 3)
    assert PurchaseOrderLine.objects.get().order_line_id == mug_line.pk
    assert stock_levels(tea) == {"icn": (2, 2, 0), "pyt": (2, 1, 0)}
    assert stock_levels(mug) == {"pyt": (1, 1, 0)}
    assert result.changed_lines == ()
    assert changed_events() == []


def test_reserved_units_are_honoured_even_when_a_better_warehouse_has_stock(warehouses):
    icn, pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=pyt, product=product, on_hand=3)
    order = OrderFactory()
    line = OrderLineFactory(order=order, product=product, quantity=2)
    stock_reserve(
        order_id=order.pk,
        lines=[ReservationRequest(product_id=product.pk, quantity=2)],
        expires_at=EXPIRES_AT,
    )
    StockFactory(warehouse=icn, product=product, on_hand=10)  # arrives after checkout
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)

    result = order_allocate(order_id=order.pk)

    assert result.line(line.pk).from_reservation == 2
    assert allocated_from(order) == {"pyt": 2}
    assert Allocation.objects.get().from_reservation is True
    assert stock_levels(product) == {"icn": (10, 0, 0), "pyt": (3, 2, 0)}
    assert Reservation.objects.get().status == Reservation.Status.CONVERTED
    # A converted reservation is never released again.
    assert stock_reservations_release(order_id=order.pk) == 0
    assert stock_levels(product)["pyt"] == (3, 2, 0)


def test_reserved_units_gone_send_the_line_cross_border_and_tell_the_orders_app(warehouses):
    icn, _pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=icn, product=product, on_hand=2)
    order = OrderFactory(items_krw=60000)
    line = OrderLineFactory(order=order, product=product, quantity=2)
    request = [ReservationRequest(product_id=product.pk, quantity=2)]
    stock_reserve(order_id=order.pk, lines=request, expires_at=EXPIRES_AT)
    stock_reservations_release(order_id=order.pk)  # expired while the shopper was paying
    other = OrderFactory()
    stock_reserve(order_id=other.pk, lines=request, expires_at=EXPIRES_AT)  # taken
    Order.objects.filter(pk=order.pk).update(status=Order.Status.PAID)

    result = order_allocate(order_id=order.pk)

    assert (result.line(line.pk).domestic, result.line(line.pk).cross_border) == (0, 2)
    assert result.changed_lines == (line.pk,)
    assert PurchaseOrderLine.objects.get().quantity == 2
    assert stock_levels(product) == {"icn": (2, 0, 2)}  # the other order keeps its units
    (event,) = changed_events()
    assert event.aggregate_id == str(order.pk)
    assert event.payload["store_absorbs_cost"] is True
    assert event.payload["needs_pccc"] is True  # placed all-domestic, now from abroad
    assert event.payload["lines"] == [
        {
            "order_line_id": line.pk,
            "product_id": product.pk,
            "domestic_quantity": 0,
            "cross_border_quantity": 2,
            "promised_domestic_quantity": 2,
            "promised_cross_border_quantity": 0,
        }
    ]
    # No re-pricing and no rewrite of the order: the orders app decides.
    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.domestic_quantity, line.cross_border_quantity) == (2, 0)
    assert (order.total_krw, order.status) == (60000, Order.Status.PAID)


def test_stock_that_arrived_since_checkout_ships_from_korea_and_is_reported(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=5)
    line = OrderLineFactory(
        order=paid_order(factory=CrossBorderOrderFactory),
        product=stock.product,
        quantity=3,
        cross_border_quantity=2,
    )

    result = order_allocate(order_id=line.order_id)

    assert (result.line(line.pk).domestic, result.line(line.pk).cross_border) == (3, 0)
    assert result.changed_lines == (line.pk,)
    assert not PurchaseOrderLine.objects.exists()
    (event,) = changed_events()
    assert event.payload["needs_pccc"] is False


def test_units_refunded_before_allocation_are_not_allocated(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=5)
    line = OrderLineFactory(
        order=paid_order(), product=stock.product, quantity=3, cancelled_quantity=1
    )

    result = order_allocate(order_id=line.order_id)

    assert result.line(line.pk).domestic == 2
    assert result.changed_lines == ()
    assert stock_levels(stock.product) == {"icn": (5, 2, 0)}


def test_calling_twice_changes_nothing(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=1)
    line = OrderLineFactory(order=paid_order(), product=stock.product, quantity=3)

    first = order_allocate(order_id=line.order_id)
    rows = (
        list(Allocation.objects.values_list("pk", "quantity")),
        list(PurchaseOrderLine.objects.values_list("pk", "quantity")),
    )
    events = OutboxEvent.objects.count()
    second = order_allocate(order_id=line.order_id)

    assert first.created
    assert not second.created
    assert second.lines == first.lines
    assert second.purchase_order_id == first.purchase_order_id
    assert rows == (
        list(Allocation.objects.values_list("pk", "quantity")),
        list(PurchaseOrderLine.objects.values_list("pk", "quantity")),
    )
    assert stock_levels(stock.product) == {stock.warehouse.code: (1, 1, 0)}
    assert OutboxEvent.objects.count() == events


def test_a_redelivered_order_paid_event_allocates_once(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=4)
    order = paid_order()
    OrderLineFactory(order=order, product=stock.product, quantity=2)
    with transaction.atomic():
        event = event_publish(
            topic="order.paid",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={"order_id": order.pk},
        )

    first = event_deliver(event_id=event.pk)
    # As if the worker died after the commit, before the relay recorded it.
    OutboxDelivery.objects.filter(
        event=event, subscriber=subscriber_name(order_paid_allocate)
    ).update(status="failed", succeeded_at=None)
    OutboxEvent.objects.filter(pk=event.pk).update(dispatched_at=None)
    again = event_deliver(event_id=event.pk)
    order_paid_allocate(event)  # and once more by hand

    name = subscriber_name(order_paid_allocate)
    assert name in first.succeeded
    assert name in again.succeeded  # it really ran a second time

    assert list(Allocation.objects.values_list("quantity", flat=True)) == [2]
    assert stock_levels(stock.product) == {"icn": (4, 2, 0)}


def test_an_order_cancelled_before_the_event_arrives_is_not_allocated(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=4)
    line = OrderLineFactory(
        order=OrderFactory(status=Order.Status.CANCELLED), product=stock.product, quantity=2
    )

    result = order_allocate(order_id=line.order_id)

    assert not result.created
    assert result.skipped
    assert not Allocation.objects.exists()
    assert not PurchaseOrderLine.objects.exists()


def test_release_gives_units_back_once_and_cancels_unsent_purchase_lines(warehouses):
    icn, pyt = warehouses
    product = ProductFactory()
    StockFactory(warehouse=icn, product=product, on_hand=1)
    StockFactory(warehouse=pyt, product=product, on_hand=1)
    line = OrderLineFactory(order=paid_order(), product=product, quantity=3)
    order_allocate(order_id=line.order_id)

    assert order_allocations_release(order_id=line.order_id) == 2
    assert order_allocations_release(order_id=line.order_id) == 0

    assert stock_levels(product) == {"icn": (1, 0, 0), "pyt": (1, 0, 0)}
    assert set(Allocation.objects.values_list("status", flat=True)) == {"released"}
    assert PurchaseOrderLine.objects.get().status == "cancelled"
    # Released is final: allocating again returns what there is and takes nothing.
    assert not order_allocate(order_id=line.order_id).created
    assert stock_levels(product) == {"icn": (1, 0, 0), "pyt": (1, 0, 0)}


def test_release_of_some_lines_leaves_the_others_and_shipped_units(warehouses):
    icn, _pyt = warehouses
    tea, mug = StockFactory(warehouse=icn, on_hand=5), StockFactory(warehouse=icn, on_hand=5)
    order = paid_order()
    tea_line = OrderLineFactory(order=order, product=tea.product, quantity=2)
    OrderLineFactory(order=order, product=mug.product, quantity=1)
    order_allocate(order_id=order.pk)

    assert order_allocations_release(order_id=order.pk, order_line_ids=[tea_line.pk]) == 2

    assert stock_levels(tea.product) == {"icn": (5, 0, 0)}
    assert stock_levels(mug.product) == {"icn": (5, 1, 0)}
    Allocation.objects.filter(status="allocated").update(status="shipped")
    assert order_allocations_release(order_id=order.pk) == 0
    assert stock_levels(mug.product) == {"icn": (5, 1, 0)}


def test_a_purchase_line_already_sent_is_left_to_the_sourcing_run(warehouses):
    line = OrderLineFactory(order=paid_order(), quantity=1)
    order_allocate(order_id=line.order_id)
    PurchaseOrder.objects.update(status=PurchaseOrder.Status.SUBMITTED)

    order_allocations_release(order_id=line.order_id)

    assert PurchaseOrderLine.objects.get().status == "open"


def test_the_cancelled_event_releases_allocations_and_reservations(warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=3)
    line = OrderLineFactory(order=paid_order(), product=stock.product, quantity=2)
    order_allocate(order_id=line.order_id)
    with transaction.atomic():
        event = event_publish(
            topic="order.cancelled",
            aggregate_type="order",
            aggregate_id=line.order_id,
            payload={"order_id": line.order_id},
        )

    event_deliver(event_id=event.pk)
    order_cancelled_release(event)  # redelivered

    assert stock_levels(stock.product) == {"icn": (3, 0, 0)}


def test_a_refund_of_whole_lines_releases_them_and_a_full_refund_everything(warehouses):
    icn, _pyt = warehouses
    tea, mug = StockFactory(warehouse=icn, on_hand=5), StockFactory(warehouse=icn, on_hand=5)
    order = paid_order()
    tea_line = OrderLineFactory(order=order, product=tea.product, quantity=2)
    mug_line = OrderLineFactory(order=order, product=mug.product, quantity=2)
    order_allocate(order_id=order.pk)
    payment = PaymentFactory(order=order)

    def refund_event(lines: dict[int, int], *, fully: bool) -> OutboxEvent:
        for line_id, units in lines.items():
            OrderLine.objects.filter(pk=line_id).update(cancelled_quantity=units)
        refund = Refund.objects.create(
            payment=payment,
            amount_krw=1000,
            lines={str(k): v for k, v in lines.items()},
            idempotency_key=f"re-test-{len(lines)}-{fully}",
        )
        with transaction.atomic():
            return event_publish(
                topic="order.refunded",
                aggregate_type="order",
                aggregate_id=order.pk,
                payload={"order_id": order.pk, "refund_id": refund.pk, "fully_refunded": fully},
            )

    event_deliver(event_id=refund_event({tea_line.pk: 2, mug_line.pk: 1}, fully=False).pk)

    assert stock_levels(tea.product) == {"icn": (5, 0, 0)}
    assert stock_levels(mug.product) == {"icn": (5, 2, 0)}  # one unit left to ship

    event_deliver(event_id=refund_event({mug_line.pk: 2}, fully=True).pk)

    assert stock_levels(mug.product) == {"icn": (5, 0, 0)}


def test_the_subscribers_are_registered():
    assert subscriber_name(order_paid_allocate) in subscribers_for("order.paid")
    assert subscriber_name(order_cancelled_release) in subscribers_for("order.cancelled")
    assert "fulfillment.subscribers.order_refunded_release" in subscribers_for("order.refunded")


@pytest.fixture
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.mark.usefixtures("_english")
def test_admin_lists_allocations_and_reruns_a_failed_allocation(admin_client, warehouses):
    icn, _pyt = warehouses
    stock = StockFactory(warehouse=icn, on_hand=3)
    allocated = OrderLineFactory(order=paid_order(), product=stock.product, quantity=1)
    order_allocate(order_id=allocated.order_id)
    waiting = OrderLineFactory(order=paid_order(), product=stock.product, quantity=1)
    OrderFactory()  # unpaid: not listed
    orders_url = reverse("admin:fulfillment_orderforfulfillment_changelist")

    assert admin_client.get(reverse("admin:fulfillment_allocation_changelist")).status_code == 200
    response = admin_client.get(orders_url, {"allocated": "no"})
    assert [o.pk for o in response.context["cl"].result_list] == [waiting.order_id]
    response = admin_client.post(
        orders_url,
        {
            "action": "rerun_allocation",
            "_selected_action": [waiting.order_id, allocated.order_id],
        },
        follow=True,
    )

    assert response.status_code == 200
    assert "1 order(s) allocated." in response.content.decode()
    assert stock_levels(stock.product) == {"icn": (3, 2, 0)}
    assert Allocation.objects.count() == 2
