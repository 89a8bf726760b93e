"""Shipments (fulfillment/services/shipments.py): packing only allocated units of the
warehouse, marking shipped consumes the stock exactly once, the cross-border leg."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Allocation, PurchaseOrder, Shipment, ShipmentLine, Stock
from fulfillment.services.shipments import (
    ShipmentInvalid,
    shipment_create,
    shipment_create_international,
    shipment_mark_shipped,
    shipment_units_unpacked,
)
from orders.models import Order
from storefront.models import OutboxEvent
from tests.concurrency import run_concurrently
from tests.factories import OrderFactory, StockFactory, WarehouseFactory
from tests.orders.factories import OrderLineFactory

pytestmark = pytest.mark.django_db


def allocate(order: Order, stock: Stock, quantity: int, *, line=None) -> Allocation:
    """An allocation of ``quantity`` units of ``stock`` to a new line of ``order`` (what
    fulfillment.services.allocation does at payment), counted in ``Stock.allocated``."""
    line = line or OrderLineFactory(order=order, product=stock.product, quantity=quantity)
    Stock.objects.filter(pk=stock.pk).update(allocated=stock.allocated + quantity)
    stock.refresh_from_db()
    return Allocation.objects.create(
        order=order, order_line=line, stock=stock, product=stock.product, quantity=quantity
    )


def paid_order(**fields) -> Order:
    return OrderFactory(status=Order.Status.PAID, paid_at=timezone.now(), **fields)


def shipped_events(shipment: Shipment) -> int:
    return OutboxEvent.objects.filter(
        topic="shipment.shipped", aggregate_id=str(shipment.pk)
    ).count()


def test_mark_shipped_consumes_the_stock_exactly_once():
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 2)
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 2)],
        carrier="cj",
        tracking_number="CJ100",
    )
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (5, 2)  # packing does not touch stock
    assert shipment.status == Shipment.Status.CREATED

    shipment_mark_shipped(shipment_id=shipment.pk)
    shipment_mark_shipped(shipment_id=shipment.pk)  # a second click changes nothing

    stock.refresh_from_db()
    allocation.refresh_from_db()
    shipment.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (3, 0)
    assert allocation.status == Allocation.Status.SHIPPED
    assert shipment.status == Shipment.Status.SHIPPED
    assert shipment.shipped_at is not None
    assert shipment.next_poll_at is not None
    assert shipped_events(shipment) == 1
    event = OutboxEvent.objects.get(topic="shipment.shipped")
    assert event.payload["order_id"] == order.pk
    assert event.payload["shipment_id"] == shipment.pk


def test_partial_packing_keeps_the_rest_allocated():
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 3)
    first = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 2)],
        carrier="cj",
        tracking_number="CJ200",
    )
    assert shipment_units_unpacked(order_id=order.pk, warehouse_id=stock.warehouse_id) == {
        allocation.order_line_id: 1
    }
    shipment_mark_shipped(shipment_id=first.pk)
    allocation.refresh_from_db()
    stock.refresh_from_db()
    assert allocation.status == Allocation.Status.ALLOCATED
    assert (stock.on_hand, stock.allocated) == (3, 1)

    second = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 1)],
        carrier="hanjin",
        tracking_number="HJ200",
    )
    shipment_mark_shipped(shipment_id=second.pk)
    allocation.refresh_from_db()
    stock.refresh_from_db()
    assert allocation.status == Allocation.Status.SHIPPED
    assert (stock.on_hand, stock.allocated) == (2, 0)


@pytest.mark.parametrize("case", ["too_many", "other_warehouse", "already_packed"])
def test_only_unpacked_allocated_units_of_the_warehouse_can_be_packed(case):
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 2)
    warehouse_id = stock.warehouse_id
    quantity = 2
    if case == "too_many":
        quantity = 3
    elif case == "other_warehouse":
        warehouse_id = WarehouseFactory(code="other").pk
    else:
        shipment_create(
            order_id=order.pk,
            warehouse_id=warehouse_id,
            lines=[(allocation.order_line_id, 2)],
            carrier="cj",
            tracking_number="CJ300",
        )
    before = Shipment.objects.count()
    with pytest.raises(ShipmentInvalid) as caught:
        shipment_create(
            order_id=order.pk,
            warehouse_id=warehouse_id,
            lines=[(allocation.order_line_id, quantity)],
            carrier="cj",
            tracking_number="CJ301",
        )
    assert caught.value.code == "shipment_units_not_allocated"
    assert Shipment.objects.count() == before
    assert not Shipment.objects.filter(tracking_number="CJ301").exists()


def test_a_tracking_number_is_used_once_per_carrier():
    order = paid_order()
    stock = StockFactory(on_hand=5)
    first = allocate(order, stock, 1)
    second = allocate(order, StockFactory(on_hand=5, warehouse=stock.warehouse), 1)
    shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(first.order_line_id, 1)],
        carrier="cj",
        tracking_number="SAME1",
    )
    with pytest.raises(ShipmentInvalid) as caught:
        shipment_create(
            order_id=order.pk,
            warehouse_id=stock.warehouse_id,
            lines=[(second.order_line_id, 1)],
            carrier="cj",
            tracking_number="SAME1",
        )
    assert caught.value.code == "shipment_tracking_number_taken"
    assert ShipmentLine.objects.filter(order_line_id=second.order_line_id).count() == 0
    # Another carrier may use the same number.
    shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(second.order_line_id, 1)],
        carrier="hanjin",
        tracking_number="SAME1",
    )


def test_an_unknown_carrier_is_refused():
    order = paid_order()
    allocation = allocate(order, StockFactory(on_hand=5), 1)
    with pytest.raises(ShipmentInvalid) as caught:
        shipment_create(
            order_id=order.pk,
            warehouse_id=allocation.stock.warehouse_id,
            lines=[(allocation.order_line_id, 1)],
            carrier="pigeon",
            tracking_number="X1",
        )
    assert caught.value.code == "shipment_unknown_carrier"
    assert not Shipment.objects.exists()


def test_a_released_allocation_cannot_ship_and_nothing_moves():
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 2)
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 2)],
        carrier="cj",
        tracking_number="CJ400",
    )
    # The line was cancelled meanwhile: its units went back.
    Allocation.objects.filter(pk=allocation.pk).update(status=Allocation.Status.RELEASED)
    Stock.objects.filter(pk=stock.pk).update(allocated=0)
    with pytest.raises(ShipmentInvalid) as caught:
        shipment_mark_shipped(shipment_id=shipment.pk)
    assert caught.value.code == "shipment_allocation_released"
    stock.refresh_from_db()
    shipment.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (5, 0)
    assert shipment.status == Shipment.Status.CREATED
    assert shipped_events(shipment) == 0


def test_a_cancelled_order_cannot_ship():
    order = paid_order()
    allocation = allocate(order, StockFactory(on_hand=5), 1)
    Order.objects.filter(pk=order.pk).update(status=Order.Status.CANCELLED)
    with pytest.raises(ShipmentInvalid) as caught:
        shipment_create(
            order_id=order.pk,
            warehouse_id=allocation.stock.warehouse_id,
            lines=[(allocation.order_line_id, 1)],
            carrier="cj",
            tracking_number="CJ500",
        )
    assert caught.value.code == "shipment_order_not_shippable"


def test_the_international_leg_is_shipped_at_once_and_recorded_once():
    order = paid_order()
    line = OrderLineFactory(order=order, quantity=2, cross_border_quantity=2)
    purchase_order = PurchaseOrder.objects.create(
        kind=PurchaseOrder.Kind.CROSS_BORDER, idempotency_key="po-test-1"
    )
    kwargs = {
        "order_id": order.pk,
        "purchase_order_id": purchase_order.pk,
        "carrier": "gs-intl",
        "tracking_number": "GS1",
        "lines": [(line.pk, 2)],
    }
    shipment = shipment_create_international(**kwargs)
    again = shipment_create_international(**kwargs)
    assert again.pk == shipment.pk
    assert shipment.status == Shipment.Status.SHIPPED
    assert shipment.kind == Shipment.Kind.INTERNATIONAL
    assert list(shipment.lines.values_list("order_line_id", "quantity")) == [(line.pk, 2)]
    assert shipped_events(shipment) == 1


# --- Staff admin -------------------------------------------------------------------------


@pytest.fixture
def _english(settings):
    settings.LANGUAGE_CODE = "en"


@pytest.mark.usefixtures("_english")
def test_staff_ship_all_allocated_units_of_a_warehouse_from_the_admin(admin_client):
    order = paid_order()
    stock = StockFactory(on_hand=5)
    first = allocate(order, stock, 2)
    second = allocate(order, StockFactory(on_hand=5, warehouse=stock.warehouse), 1)
    elsewhere = allocate(order, StockFactory(on_hand=5), 1)  # another warehouse
    assert admin_client.get(reverse("admin:fulfillment_shipment_add")).status_code == 302
    response = admin_client.post(
        reverse("admin:fulfillment_shipment_ship_order"),
        {
            "order_number": order.number,
            "warehouse": stock.warehouse_id,
            "carrier": "cj",
            "tracking_number": "CJADMIN1",
            "mark_shipped": "on",
        },
    )
    assert response.status_code == 302
    shipment = Shipment.objects.get(tracking_number="CJADMIN1")
    assert shipment.status == Shipment.Status.SHIPPED
    assert sorted(shipment.lines.values_list("order_line_id", "quantity")) == sorted(
        [(first.order_line_id, 2), (second.order_line_id, 1)]
    )
    elsewhere.refresh_from_db()
    assert elsewhere.status == Allocation.Status.ALLOCATED
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (3, 0)

    # Nothing left to pack there: refused, nothing created.
    response = admin_client.post(
        reverse("admin:fulfillment_shipment_ship_order"),
        {
            "order_number": order.number,
            "warehouse": stock.warehouse_id,
            "carrier": "cj",
            "tracking_number": "CJADMIN2",
        },
    )
    assert response.status_code == 200
    assert "no allocated, unpacked units" in response.content.decode()
    assert not Shipment.objects.filter(tracking_number="CJADMIN2").exists()


@pytest.mark.usefixtures("_english")
def test_packing_list_and_mark_shipped_action(admin_client):
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 2)
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 2)],
        carrier="cj",
        tracking_number="CJPACK",
    )
    page = admin_client.get(reverse("admin:fulfillment_shipment_packing_list", args=[shipment.pk]))
    text = page.content.decode()
    assert page.status_code == 200
    assert order.number in text
    assert order.road_address in text
    assert allocation.order_line.asin in text

    changelist = reverse("admin:fulfillment_shipment_changelist")
    assert admin_client.get(changelist).status_code == 200
    assert (
        admin_client.get(
            reverse("admin:fulfillment_shipment_change", args=[shipment.pk])
        ).status_code
        == 200
    )
    for _ in range(2):
        admin_client.post(changelist, {"action": "mark_shipped", "_selected_action": [shipment.pk]})
    stock.refresh_from_db()
    shipment.refresh_from_db()
    assert shipment.status == Shipment.Status.SHIPPED
    assert (stock.on_hand, stock.allocated) == (3, 0)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_mark_shipped_consumes_the_stock_once():
    """Ten staff clicks at once (real threads, own connections): one consumes the stock,
    the others find the shipment shipped; no deadlock, one event."""
    order = paid_order()
    stock = StockFactory(on_hand=5)
    allocation = allocate(order, stock, 3)
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(allocation.order_line_id, 3)],
        carrier="cj",
        tracking_number="CJRACE",
    )
    run_concurrently([lambda: shipment_mark_shipped(shipment_id=shipment.pk)] * 10)
    stock.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (2, 0)
    assert shipped_events(shipment) == 1
