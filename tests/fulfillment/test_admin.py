"""Staff admin for stock and warehouses: levels edited through the stock service (errors on
the form, never a 500), the low-stock filter, search, query counts."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core.cache import cache
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.models import Stock, Warehouse
from fulfillment.services.stock import StockLevelsInvalid, stock_create, stock_set_levels
from tests.factories import ProductFactory, StockFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

STOCK_URL = reverse("admin:fulfillment_stock_changelist")


@pytest.fixture(autouse=True)
def _english(settings):
    """Staff pages in English, so assertions on messages hold whatever Korean
    translations exist."""
    settings.LANGUAGE_CODE = "en"


def stock_url(stock: Stock) -> str:
    return reverse("admin:fulfillment_stock_change", args=[stock.pk])


def listed(client, **params) -> set[int]:
    response = client.get(STOCK_URL, params)
    assert response.status_code == 200
    return {stock.pk for stock in response.context["cl"].result_list}


def levels(stock: Stock) -> tuple[int, int, int, int]:
    stock.refresh_from_db()
    return (stock.on_hand, stock.allocated, stock.reorder_point, stock.target_level)


def post_levels(client, stock: Stock, *, on_hand, reorder_point, target_level):
    return client.post(
        stock_url(stock),
        {"on_hand": on_hand, "reorder_point": reorder_point, "target_level": target_level},
    )


# --- Query count --------------------------------------------------------------------------


def _count_queries(client, params: dict) -> int:
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        response = client.get(STOCK_URL, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"low_stock": "yes", "warehouse__is_domestic__exact": "1"}, {"q": "Test product"}],
    ids=["plain", "filtered", "search"],
)
def test_stock_changelist_queries_do_not_grow_with_the_page(admin_client, params):
    """Session, user, warehouses (filter menu), count, the page with product and
    warehouse joined: 5 queries for 10 or 50 rows."""
    icn, pus = WarehouseFactory(code="icn"), WarehouseFactory(code="pus")
    for index in range(10):
        StockFactory(warehouse=(icn, pus)[index % 2], on_hand=3, allocated=2, reorder_point=5)
    admin_client.get(STOCK_URL)  # warm up per-process caches

    ten = _count_queries(admin_client, params)
    for index in range(40):
        StockFactory(warehouse=(icn, pus)[index % 2], on_hand=3, allocated=2, reorder_point=5)
    fifty = _count_queries(admin_client, params)

    response = admin_client.get(STOCK_URL, params)
    assert len(response.context["cl"].result_list) == 50
    assert ten == fifty == 5


# --- List, filters, search ----------------------------------------------------------------


def test_low_stock_filter_compares_available_units_with_the_reorder_point(admin_client):
    low = StockFactory(on_hand=5, allocated=4, reorder_point=2)  # 1 available < 2
    empty = StockFactory(on_hand=0, allocated=0, reorder_point=1)
    at_point = StockFactory(on_hand=3, allocated=0, reorder_point=3)  # 3 is not under 3
    plenty = StockFactory(on_hand=10, allocated=2, reorder_point=2)
    no_reorder = StockFactory(on_hand=0, allocated=0, reorder_point=0, target_level=0)

    assert listed(admin_client, low_stock="yes") == {low.pk, empty.pk}
    assert listed(admin_client, low_stock="no") == {at_point.pk, plenty.pk, no_reorder.pk}


def test_stock_list_shows_available_units_and_filters_by_warehouse(admin_client):
    icn = WarehouseFactory(code="icn")
    row = StockFactory(warehouse=icn, on_hand=9, allocated=4)
    StockFactory(warehouse=WarehouseFactory(code="pus"))

    response = admin_client.get(STOCK_URL, {"warehouse__id__exact": icn.pk})

    rows = list(response.context["cl"].result_list)
    assert rows == [row]
    assert rows[0].available_units == 5


def test_stock_search_by_asin_and_title(admin_client):
    lego = StockFactory(product=ProductFactory(asin="B0LEGO0001", title="LEGO City Fire Truck"))
    StockFactory(product=ProductFactory(asin="B0OTHER001", title="Board game"))

    assert listed(admin_client, q="b0lego0001") == {lego.pk}
    assert listed(admin_client, q="fire truck") == {lego.pk}


def test_product_autocomplete_for_stock_finds_by_asin(admin_client):
    product = ProductFactory(asin="B0AUTOC001", title="Autocomplete me")
    ProductFactory(asin="B0AUTOC002")

    response = admin_client.get(
        reverse("admin:autocomplete"),
        {
            "app_label": "fulfillment",
            "model_name": "stock",
            "field_name": "product",
            "term": "b0autoc001",
        },
    )

    assert response.status_code == 200
    assert [item["id"] for item in response.json()["results"]] == [str(product.pk)]


# --- Editing levels -----------------------------------------------------------------------


def test_staff_set_levels_and_allocated_is_left_alone(admin_client):
    stock = StockFactory(on_hand=5, allocated=3, reorder_point=2, target_level=10)

    response = admin_client.post(
        stock_url(stock),
        {"on_hand": 12, "reorder_point": 4, "target_level": 20, "allocated": 0},
    )

    assert response.status_code == 302
    assert levels(stock) == (12, 3, 4, 20)


def test_on_hand_below_allocated_is_a_clear_form_error_and_changes_nothing(admin_client):
    stock = StockFactory(on_hand=5, allocated=3, reorder_point=2, target_level=10)

    response = post_levels(admin_client, stock, on_hand=2, reorder_point=1, target_level=8)

    assert response.status_code == 200
    form = response.context["adminform"].form
    assert form.errors["on_hand"] == [
        "Units on hand cannot be fewer than the 3 units already allocated."
    ]
    assert "Units on hand cannot be fewer than the 3 units already allocated." in (
        response.content.decode()
    )
    assert levels(stock) == (5, 3, 2, 10)


def test_target_below_reorder_point_is_a_form_error_and_changes_nothing(admin_client):
    stock = StockFactory(on_hand=5, allocated=0, reorder_point=2, target_level=10)

    response = post_levels(admin_client, stock, on_hand=7, reorder_point=8, target_level=4)

    assert response.status_code == 200
    assert "The target level must be at least the reorder point." in response.content.decode()
    assert levels(stock) == (5, 0, 2, 10)


def test_negative_on_hand_is_a_form_error(admin_client):
    stock = StockFactory(on_hand=5)
    response = post_levels(admin_client, stock, on_hand=-1, reorder_point=0, target_level=0)
    assert response.status_code == 200
    assert "on_hand" in response.context["adminform"].form.errors
    assert levels(stock)[0] == 5


def test_product_and_warehouse_of_a_stock_row_are_read_only(admin_client):
    stock = StockFactory(on_hand=5)
    product_id, warehouse_id = stock.product_id, stock.warehouse_id
    other_product, other_warehouse = ProductFactory(), WarehouseFactory(code="elsewhere")

    admin_client.post(
        stock_url(stock),
        {
            "product": other_product.pk,
            "warehouse": other_warehouse.pk,
            "on_hand": 6,
            "reorder_point": 2,
            "target_level": 10,
        },
    )

    stock.refresh_from_db()
    assert (stock.product_id, stock.warehouse_id, stock.on_hand) == (product_id, warehouse_id, 6)


def test_staff_open_a_stock_row_and_a_duplicate_is_a_form_error(admin_client):
    warehouse = WarehouseFactory(code="icn")
    product = ProductFactory()
    data = {
        "warehouse": warehouse.pk,
        "product": product.pk,
        "on_hand": 8,
        "reorder_point": 2,
        "target_level": 10,
    }

    created = admin_client.post(reverse("admin:fulfillment_stock_add"), data)
    duplicate = admin_client.post(reverse("admin:fulfillment_stock_add"), data)

    assert created.status_code == 302
    row = Stock.objects.get(warehouse=warehouse, product=product)
    assert (row.on_hand, row.allocated) == (8, 0)
    assert duplicate.status_code == 200
    assert duplicate.context["adminform"].form.errors
    assert Stock.objects.count() == 1


def test_stock_rows_cannot_be_deleted(admin_client):
    stock = StockFactory()
    response = admin_client.post(
        reverse("admin:fulfillment_stock_delete", args=[stock.pk]), {"post": "yes"}
    )
    assert response.status_code == 403
    assert Stock.objects.filter(pk=stock.pk).exists()


def test_warehouses_are_editable(admin_client):
    warehouse = WarehouseFactory(code="icn", priority=10)
    response = admin_client.post(
        reverse("admin:fulfillment_warehouse_change", args=[warehouse.pk]),
        {"code": "icn", "name": "Incheon", "priority": 5, "is_domestic": "on"},
    )
    assert response.status_code == 302
    warehouse.refresh_from_db()
    assert (warehouse.name, warehouse.priority, warehouse.is_domestic, warehouse.is_active) == (
        "Incheon",
        5,
        True,
        False,
    )
    assert Warehouse.objects.count() == 1


def test_every_stock_admin_page_renders(admin_client):
    stock = StockFactory()
    for url in [
        reverse("admin:fulfillment_stock_add"),
        stock_url(stock),
        reverse("admin:fulfillment_warehouse_changelist"),
        reverse("admin:fulfillment_warehouse_add"),
        reverse("admin:fulfillment_warehouse_change", args=[stock.warehouse_id]),
    ]:
        assert admin_client.get(url).status_code == 200, url


# --- The stock service on its own ---------------------------------------------------------


def test_stock_set_levels_lets_the_database_refuse_on_hand_under_allocated():
    stock = StockFactory(on_hand=5, allocated=3, reorder_point=2, target_level=10)

    with pytest.raises(StockLevelsInvalid) as error:
        stock_set_levels(stock_id=stock.pk, on_hand=2, reorder_point=2, target_level=10)

    assert error.value.code == "stock_on_hand_below_allocated"
    assert set(error.value.fields) == {"on_hand"}
    assert levels(stock) == (5, 3, 2, 10)
    # The surrounding transaction is still usable after the refused write.
    assert Stock.objects.filter(pk=stock.pk).exists()


def test_stock_set_levels_refuses_a_target_under_the_reorder_point():
    stock = StockFactory(on_hand=5, allocated=0, reorder_point=2, target_level=10)

    with pytest.raises(StockLevelsInvalid) as error:
        stock_set_levels(stock_id=stock.pk, on_hand=5, reorder_point=6, target_level=5)

    assert error.value.code == "stock_target_below_reorder_point"
    assert set(error.value.fields) == {"target_level"}
    assert levels(stock) == (5, 0, 2, 10)


def test_stock_set_levels_accepts_on_hand_equal_to_allocated():
    stock = StockFactory(on_hand=5, allocated=3, reorder_point=2, target_level=10)
    updated = stock_set_levels(stock_id=stock.pk, on_hand=3, reorder_point=0, target_level=0)
    assert (updated.on_hand, updated.available) == (3, 0)
    assert levels(stock) == (3, 3, 0, 0)


def test_stock_create_refuses_a_second_row_for_the_same_place():
    stock = StockFactory()
    with pytest.raises(StockLevelsInvalid) as error:
        stock_create(
            warehouse_id=stock.warehouse_id,
            product_id=stock.product_id,
            on_hand=1,
            reorder_point=0,
            target_level=0,
        )
    assert error.value.code == "stock_exists"
    assert Stock.objects.count() == 1


@pytest.mark.postgres
def test_stock_set_levels_locks_the_row():
    stock = StockFactory(on_hand=5)
    with CaptureQueriesContext(connection) as queries:
        stock_set_levels(stock_id=stock.pk, on_hand=6, reorder_point=2, target_level=10)
    assert any(
        "FOR UPDATE" in q["sql"] and "fulfillment_stock" in q["sql"]
        for q in queries.captured_queries
    )


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_stock_set_levels_waits_for_a_concurrent_allocation_and_reports_it():
    """An allocation holds the row; the staff edit waits for it, then the database refuses
    on hand under the new allocation and the message names what is allocated now (not
    the stale 0 an unlocked read would have seen)."""
    stock = StockFactory(on_hand=5, allocated=0, reorder_point=0, target_level=0)
    allocated, release = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def allocate_four() -> None:
        try:
            with transaction.atomic():
                row = Stock.objects.select_for_update().get(pk=stock.pk)
                row.allocated = 4
                row.save(update_fields=["allocated"])
                allocated.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    def staff_sets_three() -> None:
        try:
            stock_set_levels(stock_id=stock.pk, on_hand=3, reorder_point=0, target_level=0)
            outcome["result"] = "saved"
        except StockLevelsInvalid as exc:
            outcome["result"] = exc
        finally:
            connection.close()

    allocation = threading.Thread(target=allocate_four)
    allocation.start()
    assert allocated.wait(timeout=30)
    edit = threading.Thread(target=staff_sets_three)
    edit.start()
    for _ in range(300):  # until the edit is queued behind the allocation's row lock
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE wait_event_type = 'Lock' AND datname = current_database()"
            )
            if cursor.fetchone()[0]:
                break
        time.sleep(0.05)
    else:
        pytest.fail("the stock edit never waited for the allocation's lock")
    release.set()
    allocation.join(timeout=30)
    edit.join(timeout=30)

    error = outcome["result"]
    assert isinstance(error, StockLevelsInvalid)
    assert error.fields["on_hand"] == (
        "Units on hand cannot be fewer than the 4 units already allocated."
    )
    assert levels(stock) == (5, 4, 0, 0)


# --- Permissions --------------------------------------------------------------------------


def test_stock_keeper_group_can_edit_stock_but_not_warehouses(client):
    stock = StockFactory(on_hand=5, allocated=0, reorder_point=2, target_level=10)
    group = Group.objects.create(name="stock keepers")
    group.permissions.set(
        Permission.objects.filter(
            codename__in=["view_stock", "change_stock", "view_warehouse", "view_product"]
        )
    )
    user = User.objects.create_user(username="keeper", password="unused-pw-123", is_staff=True)
    user.groups.add(group)
    client.force_login(user)

    assert (
        post_levels(client, stock, on_hand=9, reorder_point=2, target_level=10).status_code == 302
    )
    assert levels(stock)[0] == 9
    warehouse_url = reverse("admin:fulfillment_warehouse_change", args=[stock.warehouse_id])
    assert client.post(warehouse_url, {"code": "x", "name": "x", "priority": 1}).status_code == 403
    assert client.get(reverse("admin:fulfillment_stock_add")).status_code == 403
