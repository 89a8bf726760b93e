"""Staff views of reservations: the read-only reservation list (filters, search by order
number, query count) and reserved units on the stock list."""

from __future__ import annotations

import datetime

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.models import Reservation
from fulfillment.services import ReservationRequest, stock_reservations_release, stock_reserve
from tests.factories import OrderFactory, ProductFactory, StockFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

RESERVATIONS_URL = reverse("admin:fulfillment_reservation_changelist")
STOCK_URL = reverse("admin:fulfillment_stock_changelist")
EXPIRES_AT = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def reserve(order, product, quantity: int) -> None:
    stock_reserve(
        order_id=order.pk,
        lines=[ReservationRequest(product_id=product.pk, quantity=quantity)],
        expires_at=EXPIRES_AT,
    )


def listed(client, url: str, **params) -> set[int]:
    response = client.get(url, params)
    assert response.status_code == 200
    return {row.pk for row in response.context["cl"].result_list}


@pytest.fixture
def two_orders():
    """Order A holds 2 units in Incheon (active); order B held 1 in Pyeongtaek (released)."""
    icn = WarehouseFactory(code="icn", priority=10)
    pyt = WarehouseFactory(code="pyt", priority=20)
    first = StockFactory(warehouse=icn, on_hand=2)
    second = StockFactory(warehouse=pyt, on_hand=3)
    a, b = OrderFactory(number="GS20261201A"), OrderFactory(number="GS20261201B")
    reserve(a, first.product, 2)
    reserve(b, second.product, 1)
    stock_reservations_release(order_id=b.pk)
    return {
        "a": Reservation.objects.get(order=a),
        "b": Reservation.objects.get(order=b),
        "icn": icn,
        "pyt": pyt,
    }


def test_reservations_filter_by_status_and_warehouse_and_search_by_order_number(
    admin_client, two_orders
):
    a, b = two_orders["a"].pk, two_orders["b"].pk

    assert listed(admin_client, RESERVATIONS_URL) == {a, b}
    assert listed(admin_client, RESERVATIONS_URL, status__exact="active") == {a}
    assert listed(admin_client, RESERVATIONS_URL, status__exact="released") == {b}
    assert listed(
        admin_client, RESERVATIONS_URL, stock__warehouse__id__exact=two_orders["pyt"].pk
    ) == {b}
    assert listed(admin_client, RESERVATIONS_URL, q="1201a") == {a}


def test_reservations_cannot_be_added_changed_or_deleted_by_staff(admin_client, two_orders):
    reservation = two_orders["a"]
    change_url = reverse("admin:fulfillment_reservation_change", args=[reservation.pk])

    assert admin_client.get(reverse("admin:fulfillment_reservation_add")).status_code == 403
    assert admin_client.get(change_url).status_code == 200  # view only
    response = admin_client.post(change_url, {"quantity": 1, "status": "released"})
    delete_url = reverse("admin:fulfillment_reservation_delete", args=[reservation.pk])

    assert response.status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    reservation.refresh_from_db()
    assert (reservation.quantity, reservation.status) == (2, "active")


def _count_queries(client) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(RESERVATIONS_URL)
    assert response.status_code == 200
    return len(queries)


def test_reservation_list_queries_do_not_grow_with_the_page(admin_client):
    warehouse = WarehouseFactory(code="icn")

    def add_orders(count: int) -> None:
        for _ in range(count):
            reserve(OrderFactory(), StockFactory(warehouse=warehouse, on_hand=1).product, 1)

    add_orders(5)
    admin_client.get(RESERVATIONS_URL)  # warm up per-process caches
    five = _count_queries(admin_client)
    add_orders(20)
    twenty_five = _count_queries(admin_client)

    assert five == twenty_five


def test_stock_list_shows_reserved_units_and_deducts_them_from_available(admin_client):
    product = ProductFactory()
    stock = StockFactory(product=product, on_hand=6, allocated=1, reorder_point=3)
    reserve(OrderFactory(), product, 3)  # 6 − 1 − 3 = 2 available, under the reorder point

    response = admin_client.get(STOCK_URL)

    (row,) = response.context["cl"].result_list
    assert (row.reserved, row.available_units) == (3, 2)
    assert listed(admin_client, STOCK_URL, low_stock="yes") == {stock.pk}
    assert listed(admin_client, STOCK_URL, low_stock="no") == set()
    change = admin_client.get(reverse("admin:fulfillment_stock_change", args=[stock.pk]))
    assert "reserved" in change.context["adminform"].readonly_fields
