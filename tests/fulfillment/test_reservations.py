"""Domestic stock reservations at checkout: units held in priority order across warehouses,
the rest cross-border; idempotent reserve and release; the expiry safety net; what the
selectors and the stock levels service make of reserved units."""

from __future__ import annotations

import datetime

import pytest
from django.db import IntegrityError, transaction
from django.db.models import F, Sum
from django.utils import translation

from catalog.models import Product
from fulfillment.models import Reservation, Stock
from fulfillment.selectors import (
    domestic_available_for_products,
    domestic_available_subquery,
    domestic_stock_exists,
    stock_split_preview,
)
from fulfillment.services import (
    ReservationLinesInvalid,
    ReservationRequest,
    ReservationsReleased,
    stock_reservations_expire,
    stock_reservations_release,
    stock_reserve,
)
from fulfillment.services.stock import StockLevelsInvalid, stock_set_levels
from orders.models import Order
from tests.factories import OrderFactory, ProductFactory, StockFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

EXPIRES_AT = datetime.datetime(2026, 12, 1, 12, 0, tzinfo=datetime.UTC)


@pytest.fixture
def places():
    """Two active domestic warehouses (Incheon first), a closed domestic one with the
    best priority, and a US one."""
    return {
        "icn": WarehouseFactory(code="icn", priority=10),
        "pyt": WarehouseFactory(code="pyt", priority=20),
        "closed": WarehouseFactory(code="closed", priority=5, is_active=False),
        "us": WarehouseFactory(code="us", priority=1, is_domestic=False),
    }


@pytest.fixture
def product(places):
    """3 units free in Incheon, 4 in Pyeongtaek, plenty where they must not be taken.
    Pyeongtaek's row is created first (lower pk): priority, not pk, decides."""
    product = ProductFactory()
    StockFactory(product=product, warehouse=places["pyt"], on_hand=4)
    StockFactory(product=product, warehouse=places["icn"], on_hand=5, allocated=2)
    StockFactory(product=product, warehouse=places["closed"], on_hand=50)
    StockFactory(product=product, warehouse=places["us"], on_hand=50)
    return product


def reserve(order: Order, *lines: tuple[int, int]):
    return stock_reserve(
        order_id=order.pk,
        lines=[ReservationRequest(product_id=p, quantity=q) for p, q in lines],
        expires_at=EXPIRES_AT,
    )


def levels(product: Product) -> dict[str, tuple[int, int, int]]:
    """Warehouse code → (on hand, allocated, reserved) for the product."""
    return {
        s.warehouse.code: (s.on_hand, s.allocated, s.reserved)
        for s in Stock.objects.filter(product=product).select_related("warehouse")
    }


def held(order: Order) -> dict[str, tuple[int, str]]:
    """Warehouse code → (quantity, status) of the order's reservations."""
    return {
        r.stock.warehouse.code: (r.quantity, r.status)
        for r in Reservation.objects.filter(order=order).select_related("stock__warehouse")
    }


def assert_reserved_matches_reservations() -> None:
    """Every stock row's ``reserved`` is exactly the sum of its active reservations."""
    for stock in Stock.objects.all():
        active = stock.reservations.filter(status=Reservation.Status.ACTIVE).aggregate(
            units=Sum("quantity")
        )["units"]
        assert stock.reserved == (active or 0), stock


UNTOUCHED = {"pyt": (4, 0, 0), "icn": (5, 2, 0), "closed": (50, 0, 0), "us": (50, 0, 0)}


# --- Reserving ------------------------------------------------------------------------------


def test_units_come_from_the_first_warehouse_by_priority_then_spill_to_the_next(product):
    order = OrderFactory()

    result = reserve(order, (product.pk, 5))

    assert result.as_dict() == {product.pk: (5, 0)}
    assert not result.has_cross_border
    assert levels(product) == {
        "icn": (5, 2, 3),  # all 3 free units of the first warehouse
        "pyt": (4, 0, 2),  # the rest from the second
        "closed": (50, 0, 0),
        "us": (50, 0, 0),
    }
    assert held(order) == {"icn": (3, "active"), "pyt": (2, "active")}
    reservation = Reservation.objects.filter(order=order).first()
    assert reservation.product_id == product.pk
    assert reservation.expires_at == EXPIRES_AT
    assert reservation.released_at is None
    assert_reserved_matches_reservations()


def test_a_small_order_stays_in_the_first_warehouse(product):
    order = OrderFactory()

    result = reserve(order, (product.pk, 2))

    assert result.line(product.pk).domestic == 2
    assert held(order) == {"icn": (2, "active")}
    assert levels(product)["pyt"] == (4, 0, 0)


def test_what_korea_cannot_cover_ships_cross_border(product):
    order = OrderFactory()

    result = reserve(order, (product.pk, 10))

    line = result.line(product.pk)
    assert (line.quantity, line.domestic, line.cross_border) == (10, 7, 3)
    assert result.has_cross_border
    assert (result.domestic_units, result.cross_border_units) == (7, 3)
    assert levels(product) == {
        "icn": (5, 2, 3),
        "pyt": (4, 0, 4),
        "closed": (50, 0, 0),  # the closed warehouse and the US one are never used
        "us": (50, 0, 0),
    }


def test_a_product_with_nothing_free_in_korea_ships_entirely_cross_border(places):
    only_abroad = ProductFactory()
    StockFactory(product=only_abroad, warehouse=places["closed"], on_hand=9)
    StockFactory(product=only_abroad, warehouse=places["us"], on_hand=9)
    all_taken = ProductFactory()
    StockFactory(product=all_taken, warehouse=places["icn"], on_hand=4, allocated=3, reserved=1)
    no_stock = ProductFactory()
    order = OrderFactory()

    result = reserve(order, (only_abroad.pk, 2), (all_taken.pk, 1), (no_stock.pk, 3))

    assert result.as_dict() == {
        only_abroad.pk: (0, 2),
        all_taken.pk: (0, 1),
        no_stock.pk: (0, 3),
    }
    assert not Reservation.objects.exists()
    assert levels(only_abroad) == {"closed": (9, 0, 0), "us": (9, 0, 0)}
    assert levels(all_taken) == {"icn": (4, 3, 1)}


def test_units_reserved_for_another_order_are_not_offered_again(product):
    first, second = OrderFactory(), OrderFactory()
    reserve(first, (product.pk, 6))

    result = reserve(second, (product.pk, 3))

    assert result.as_dict() == {product.pk: (1, 2)}
    assert held(second) == {"pyt": (1, "active")}
    assert levels(product)["icn"] == (5, 2, 3)
    assert levels(product)["pyt"] == (4, 0, 4)
    assert_reserved_matches_reservations()


def test_several_products_in_one_call_and_a_product_listed_twice_is_added_up(product, places):
    other = ProductFactory()
    StockFactory(product=other, warehouse=places["pyt"], on_hand=1)
    order = OrderFactory()

    result = reserve(order, (other.pk, 2), (product.pk, 1), (product.pk, 1))

    assert [line.product_id for line in result.lines] == [other.pk, product.pk]
    assert result.as_dict() == {other.pk: (1, 1), product.pk: (2, 0)}
    assert levels(other) == {"pyt": (1, 0, 1)}
    assert levels(product)["icn"] == (5, 2, 2)
    assert Reservation.objects.filter(order=order).count() == 2


def test_reserving_again_for_the_same_order_returns_the_first_split_and_holds_nothing_more(
    product,
):
    order = OrderFactory()
    first = reserve(order, (product.pk, 10))

    again = reserve(order, (product.pk, 10))

    assert again == first
    assert again.as_dict() == {product.pk: (7, 3)}
    assert Reservation.objects.filter(order=order).count() == 2
    assert levels(product)["icn"] == (5, 2, 3)
    assert levels(product)["pyt"] == (4, 0, 4)
    assert_reserved_matches_reservations()


@pytest.mark.parametrize(
    "lines",
    [[], [(1, 0)], [(1, 2), (2, 0)]],
    ids=["no lines", "zero quantity", "one bad line among good ones"],
)
def test_bad_lines_are_refused_and_nothing_is_held(product, lines):
    order = OrderFactory()
    lines = [(product.pk if p == 1 else p, q) for p, q in lines]

    with pytest.raises(ReservationLinesInvalid) as refused:
        reserve(order, *lines)

    assert refused.value.code in ("reservation_lines_invalid", "reservation_quantity_min_1")
    assert not Reservation.objects.exists()
    assert levels(product) == UNTOUCHED


def test_the_database_refuses_more_reserved_than_free(product):
    stock = Stock.objects.get(product=product, warehouse__code="icn")  # 5 on hand, 2 allocated

    with pytest.raises(IntegrityError, match="stock_reserved_within_free"), transaction.atomic():
        Stock.objects.filter(pk=stock.pk).update(reserved=F("reserved") + 4)

    stock.refresh_from_db()
    assert stock.reserved == 0


# --- Releasing ------------------------------------------------------------------------------


def test_release_gives_the_units_back_exactly_once(product):
    order, other = OrderFactory(), OrderFactory()
    reserve(order, (product.pk, 5))
    reserve(other, (product.pk, 1))

    released = stock_reservations_release(order_id=order.pk)
    again = stock_reservations_release(order_id=order.pk)

    assert (released, again) == (5, 0)
    assert levels(product)["icn"] == (5, 2, 0)
    assert levels(product)["pyt"] == (4, 0, 1)  # the other order still holds its unit
    assert held(order) == {"icn": (3, "released"), "pyt": (2, "released")}
    assert held(other) == {"pyt": (1, "active")}
    assert not Reservation.objects.filter(order=order, released_at__isnull=True).exists()
    assert_reserved_matches_reservations()


def test_releasing_an_order_that_holds_nothing_changes_nothing(product):
    order = OrderFactory()

    assert stock_reservations_release(order_id=order.pk) == 0
    assert levels(product) == UNTOUCHED


def test_a_released_order_cannot_hold_stock_again(product):
    order = OrderFactory()
    reserve(order, (product.pk, 2))
    stock_reservations_release(order_id=order.pk)

    with pytest.raises(ReservationsReleased) as refused:
        reserve(order, (product.pk, 2))

    assert refused.value.code == "reservations_released"
    assert levels(product) == UNTOUCHED
    assert held(order) == {"icn": (2, "released")}


def test_released_units_go_to_the_next_shopper(product):
    first, second = OrderFactory(), OrderFactory()
    reserve(first, (product.pk, 7))
    stock_reservations_release(order_id=first.pk)

    result = reserve(second, (product.pk, 7))

    assert result.as_dict() == {product.pk: (7, 0)}
    assert_reserved_matches_reservations()


# --- Expiry safety net ----------------------------------------------------------------------


def test_expiry_releases_unpaid_orders_only_after_the_grace_period(product, settings):
    settings.RESERVATION_EXPIRY_GRACE_SECONDS = 300
    overdue = OrderFactory()
    cancelled = OrderFactory(status=Order.Status.CANCELLED)
    in_grace = OrderFactory()
    paid = OrderFactory(status=Order.Status.PAID)
    for order in (overdue, cancelled, in_grace, paid):
        reserve(order, (product.pk, 1))
    late = EXPIRES_AT + datetime.timedelta(seconds=301)
    Reservation.objects.filter(order=in_grace).update(
        expires_at=EXPIRES_AT + datetime.timedelta(seconds=2)
    )

    released = stock_reservations_expire(now=late)

    assert released == 2
    assert held(overdue) == {"icn": (1, "released")}
    assert held(cancelled) == {"icn": (1, "released")}
    assert held(in_grace) == {"icn": (1, "active")}
    assert held(paid) == {"pyt": (1, "active")}  # a paid order keeps its units
    assert Reservation.objects.get(order=overdue).released_at == late
    assert stock_reservations_expire(now=late) == 0
    assert_reserved_matches_reservations()


def test_expiry_leaves_reservations_before_their_deadline_alone(product):
    order = OrderFactory()
    reserve(order, (product.pk, 3))

    assert stock_reservations_expire(now=EXPIRES_AT - datetime.timedelta(minutes=1)) == 0
    assert held(order) == {"icn": (3, "active")}


# --- Reads ----------------------------------------------------------------------------------


def test_selectors_count_reserved_units_as_taken(product, places):
    sold_out = ProductFactory()
    StockFactory(product=sold_out, warehouse=places["icn"], on_hand=2)
    order = OrderFactory()
    assert domestic_available_for_products(product_ids=[product.pk, sold_out.pk]) == {
        product.pk: 7,
        sold_out.pk: 2,
    }

    reserve(order, (product.pk, 4), (sold_out.pk, 2))

    assert domestic_available_for_products(product_ids=[product.pk, sold_out.pk]) == {product.pk: 3}
    annotated = dict(
        Product.objects.filter(pk__in=[product.pk, sold_out.pk])
        .annotate(units=domestic_available_subquery())
        .values_list("pk", "units")
    )
    assert annotated == {product.pk: 3, sold_out.pk: 0}
    fast = set(Product.objects.filter(domestic_stock_exists()).values_list("pk", flat=True))
    assert fast == {product.pk}
    assert stock_split_preview(
        lines=[
            ReservationRequest(product_id=product.pk, quantity=5),
            ReservationRequest(product_id=sold_out.pk, quantity=1),
        ]
    ) == {product.pk: (3, 2), sold_out.pk: (0, 1)}

    stock_reservations_release(order_id=order.pk)

    assert domestic_available_for_products(product_ids=[product.pk, sold_out.pk]) == {
        product.pk: 7,
        sold_out.pk: 2,
    }


def test_split_preview_holds_nothing_and_adds_up_repeated_products(product):
    preview = stock_split_preview(
        lines=[
            ReservationRequest(product_id=product.pk, quantity=4),
            ReservationRequest(product_id=product.pk, quantity=4),
        ]
    )

    assert preview == {product.pk: (7, 1)}
    assert stock_split_preview(lines=[]) == {}
    assert levels(product) == UNTOUCHED
    assert not Reservation.objects.exists()


def test_stock_available_deducts_reserved_units():
    stock = StockFactory.build(on_hand=9, allocated=2, reserved=3)

    assert stock.available == 4


# --- Staff stock edits ----------------------------------------------------------------------


def test_on_hand_cannot_drop_under_units_held_for_unpaid_orders(product):
    reserve(OrderFactory(), (product.pk, 3))
    stock = Stock.objects.get(product=product, warehouse__code="icn")  # 5 on hand, 2 + 3 held

    with pytest.raises(StockLevelsInvalid) as refused, translation.override("en"):
        stock_set_levels(stock_id=stock.pk, on_hand=4, reorder_point=2, target_level=10)

    assert refused.value.code == "stock_on_hand_below_held"
    assert "5 units already allocated or reserved" in refused.value.fields["on_hand"]
    assert levels(product)["icn"] == (5, 2, 3)
    stock_set_levels(stock_id=stock.pk, on_hand=5, reorder_point=2, target_level=10)
