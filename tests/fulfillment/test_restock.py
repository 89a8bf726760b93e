"""Restock: the set-based scan raises exactly the purchase orders needed (one per warehouse
per run, target − available − on order), never twice for the same need, in a constant
number of queries; receiving a replenishment raises on_hand exactly once per reference,
partially or in full, and never beyond what was ordered."""

from __future__ import annotations

import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from fulfillment.models import PurchaseOrder, PurchaseOrderLine, Receipt, Stock
from fulfillment.services import (
    ReceiptExceedsOrdered,
    ReceiptInvalid,
    replenishment_receive,
    restock_scan,
)
from fulfillment.services.restock import restock_run_key
from fulfillment.tasks import restock_scan_task
from tests.concurrency import run_concurrently
from tests.factories import ProductFactory, StockFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

RUN = "restock-test-1"


def low_stock(warehouse, *, on_hand=2, allocated=0, reserved=0, reorder=5, target=20, **kw):
    return StockFactory(
        warehouse=warehouse,
        on_hand=on_hand,
        allocated=allocated,
        reserved=reserved,
        reorder_point=reorder,
        target_level=target,
        **kw,
    )


def replenishment(warehouse, *, status=PurchaseOrder.Status.SUBMITTED, run_key="", key="po"):
    return PurchaseOrder.objects.create(
        kind=PurchaseOrder.Kind.REPLENISHMENT,
        warehouse=warehouse,
        status=status,
        run_key=run_key,
        idempotency_key=key,
    )


def po_line(order, product, quantity, *, received=0, status=PurchaseOrderLine.Status.OPEN):
    return PurchaseOrderLine.objects.create(
        purchase_order=order,
        product=product,
        quantity=quantity,
        received=received,
        expected_unit_price_usd=Decimal("10.00"),
        status=status,
    )


@pytest.fixture
def warehouses():
    return WarehouseFactory(code="icn", priority=10), WarehouseFactory(code="pyt", priority=20)


# --- the scan ----------------------------------------------------------------------------


def test_scan_raises_one_order_per_warehouse_for_exactly_the_needs(warehouses):
    icn, pyt = warehouses
    # Available = on hand − allocated − reserved: 10 − 3 − 4 = 3 < 5 → need 20 − 3 = 17.
    held = low_stock(icn, on_hand=10, allocated=3, reserved=4)
    empty = low_stock(icn, on_hand=0, target=8)  # need 8
    fine = low_stock(icn, on_hand=5)  # available 5 = reorder point: not under it
    # 3 available, 10 already on order (12 ordered, 2 received): need 20 − 3 − 10 = 7.
    partly_on_order = low_stock(pyt, on_hand=3)
    earlier = replenishment(pyt, status=PurchaseOrder.Status.PARTIALLY_RECEIVED, key="old")
    po_line(earlier, partly_on_order.product, 12, received=2)
    # Enough on order already: 2 available + 18 on order = target.
    covered = low_stock(pyt, on_hand=2)
    po_line(earlier, covered.product, 18)
    # Cancelled orders and lines, and cross-border orders, bring nothing.
    cancelled = replenishment(pyt, status=PurchaseOrder.Status.CANCELLED, key="gone")
    po_line(cancelled, partly_on_order.product, 50)
    po_line(earlier, partly_on_order.product, 50, status=PurchaseOrderLine.Status.CANCELLED)
    # Not restocked: a foreign warehouse, an inactive warehouse, an inactive product.
    low_stock(WarehouseFactory(code="us", is_domestic=False), on_hand=0)
    low_stock(WarehouseFactory(code="old", is_active=False), on_hand=0)
    low_stock(icn, on_hand=0, product=ProductFactory(is_active=False))
    stock_before = list(Stock.objects.order_by("pk").values_list("on_hand", "allocated"))

    result = restock_scan(run_key=RUN)

    raised = PurchaseOrder.objects.filter(run_key=RUN)
    assert raised.count() == 2
    assert sorted(result.purchase_order_ids) == sorted(raised.values_list("pk", flat=True))
    for order in raised:
        assert order.kind == PurchaseOrder.Kind.REPLENISHMENT
        assert order.supplier == "amazon"
        assert order.status == PurchaseOrder.Status.OPEN
    run_lines = PurchaseOrderLine.objects.filter(purchase_order__run_key=RUN)
    assert {(line.product_id, line.quantity) for line in run_lines} == {
        (held.product_id, 17),
        (empty.product_id, 8),
        (partly_on_order.product_id, 7),
    }
    assert not run_lines.filter(product__in=[fine.product, covered.product]).exists()
    assert all(line.expected_unit_price_usd == line.product.source_price_usd for line in run_lines)
    assert (result.lines, result.units) == (3, 32)
    # The scan orders; it does not touch stock.
    assert list(Stock.objects.order_by("pk").values_list("on_hand", "allocated")) == stock_before


def test_a_second_run_raises_nothing_because_the_need_is_on_order(warehouses):
    for warehouse in warehouses:
        low_stock(warehouse, on_hand=1)
    first = restock_scan(run_key="restock-2026112817")

    again_same_run = restock_scan(run_key="restock-2026112817")
    next_run = restock_scan(run_key="restock-2026112818")

    assert first.lines == 2
    assert again_same_run.lines == next_run.lines == 0
    assert PurchaseOrder.objects.count() == 2
    assert PurchaseOrderLine.objects.count() == 2


def test_a_later_scan_in_the_same_run_adds_to_the_open_order(warehouses):
    icn, _ = warehouses
    low_stock(icn, on_hand=1)
    first = restock_scan(run_key=RUN)
    later = low_stock(icn, on_hand=0, target=6)

    second = restock_scan(run_key=RUN)

    assert second.purchase_order_ids == first.purchase_order_ids
    assert PurchaseOrder.objects.count() == 1
    assert PurchaseOrderLine.objects.get(product=later.product).quantity == 6


def test_a_run_whose_order_was_submitted_defers_new_needs_instead_of_a_second_order(
    warehouses,
):
    icn, _ = warehouses
    # This run's order exists and was sent to the supplier (another scan raced us and won).
    sent = replenishment(icn, status=PurchaseOrder.Status.SUBMITTED, run_key=RUN, key="sent")
    low_stock(icn, on_hand=0)

    result = restock_scan(run_key=RUN)

    assert result.deferred_warehouse_ids == (icn.pk,)
    assert result.lines == 0
    assert list(PurchaseOrder.objects.all()) == [sent]
    assert not PurchaseOrderLine.objects.exists()
    # The next run orders it.
    assert restock_scan(run_key="restock-next").lines == 1


def test_default_run_key_is_the_seoul_hour():
    # 08:30 UTC is 17:30 in Seoul.
    now = datetime.datetime(2026, 11, 28, 8, 30, tzinfo=ZoneInfo("UTC"))
    assert restock_run_key(now=now) == "restock-2026112817"
    assert restock_scan(now=now).run_key == "restock-2026112817"


def test_nothing_low_writes_nothing(warehouses):
    low_stock(warehouses[0], on_hand=9)
    result = restock_scan(run_key=RUN)
    assert (result.lines, result.purchase_order_ids) == (0, ())
    assert not PurchaseOrder.objects.exists()


def make_rows(count: int, warehouses) -> None:
    products = ProductFactory.create_batch(count)
    Stock.objects.bulk_create(
        Stock(
            warehouse=warehouses[i % 2],
            product=product,
            on_hand=i % 4,
            reorder_point=2,
            target_level=10,
        )
        for i, product in enumerate(products)
    )


@pytest.mark.parametrize("count", [10, 100])
def test_scan_query_count_does_not_grow_with_stock_rows(count, warehouses):
    make_rows(count, warehouses)
    with CaptureQueriesContext(connection) as queries:
        result = restock_scan(run_key=RUN)
    assert result.lines == sum(1 for i in range(count) if i % 4 < 2)  # on hand 0 or 1
    # lock warehouses, read needs, insert orders, read orders, insert lines (+ savepoints)
    statements = [q["sql"] for q in queries.captured_queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 5, statements


def test_scan_queries_are_the_same_for_10_and_100_rows(warehouses):
    counts = []
    for count in (10, 100):
        PurchaseOrderLine.objects.all().delete()
        PurchaseOrder.objects.all().delete()
        Stock.objects.all().delete()
        make_rows(count, warehouses)
        with CaptureQueriesContext(connection) as queries:
            restock_scan(run_key=f"{RUN}-{count}")
        counts.append(len(queries.captured_queries))
    assert counts[0] == counts[1]


def test_beat_task_runs_the_scan(warehouses):
    low_stock(warehouses[0], on_hand=1)
    assert restock_scan_task.apply(kwargs={"run_key": RUN}).get() == 1
    assert restock_scan_task.apply(kwargs={"run_key": RUN}).get() == 0
    assert PurchaseOrder.objects.filter(run_key=RUN).count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_scans_racing_with_the_same_run_key_raise_one_order(warehouses):
    for warehouse in warehouses:
        for _ in range(3):
            low_stock(warehouse, on_hand=1)

    results = run_concurrently([lambda: restock_scan(run_key=RUN) for _ in range(6)])

    assert PurchaseOrder.objects.count() == 2
    assert PurchaseOrderLine.objects.count() == 6
    assert sum(result.lines for result in results) == 6
    assert {line.quantity for line in PurchaseOrderLine.objects.all()} == {19}


# --- receiving ---------------------------------------------------------------------------


@pytest.fixture
def open_replenishment(warehouses):
    icn, _ = warehouses
    stock = low_stock(icn, on_hand=1, allocated=1)
    other = low_stock(icn, on_hand=0, reorder=2, target=4)
    restock_scan(run_key=RUN)
    line = PurchaseOrderLine.objects.get(product=stock.product)
    assert line.quantity == 20
    return stock, line, PurchaseOrderLine.objects.get(product=other.product)


def test_receiving_twice_with_the_same_reference_counts_once(open_replenishment):
    stock, line, _ = open_replenishment

    first = replenishment_receive(purchase_order_line_id=line.pk, quantity=5, reference="D-1")
    again = replenishment_receive(purchase_order_line_id=line.pk, quantity=5, reference="D-1")

    assert isinstance(first, Receipt)
    assert again is None
    stock.refresh_from_db()
    line.refresh_from_db()
    assert (stock.on_hand, stock.allocated) == (6, 1)
    assert line.received == 5
    assert Receipt.objects.count() == 1


def test_partial_receipts_then_complete(open_replenishment, django_user_model):
    stock, line, other = open_replenishment
    staff = django_user_model.objects.create_user(username="staff", password="unused-pw-123")
    order = line.purchase_order

    replenishment_receive(purchase_order_line_id=line.pk, quantity=8, reference="D-1")
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED

    replenishment_receive(
        purchase_order_line_id=line.pk, quantity=12, reference="D-2", actor_id=staff.pk
    )
    line.refresh_from_db()
    order.refresh_from_db()
    assert (line.received, line.status) == (20, PurchaseOrderLine.Status.DONE)
    assert order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED  # the other line is due

    replenishment_receive(purchase_order_line_id=other.pk, quantity=4, reference="D-3")
    order.refresh_from_db()
    stock.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED
    assert stock.on_hand == 21
    assert Stock.objects.get(product=other.product).on_hand == 4
    assert Receipt.objects.get(reference="D-2").actor_id == staff.pk
    # Received in full, nothing on order: the next scan does not order it again.
    assert restock_scan(run_key="restock-after").lines == 0


def test_over_receiving_is_refused_and_writes_nothing(open_replenishment):
    stock, line, _ = open_replenishment
    replenishment_receive(purchase_order_line_id=line.pk, quantity=15, reference="D-1")

    with pytest.raises(ReceiptExceedsOrdered) as refused:
        replenishment_receive(purchase_order_line_id=line.pk, quantity=6, reference="D-2")

    assert refused.value.code == "receipt_exceeds_ordered"
    assert "5" in refused.value.message
    stock.refresh_from_db()
    line.refresh_from_db()
    assert stock.on_hand == 16
    assert line.received == 15
    assert list(Receipt.objects.values_list("reference", flat=True)) == ["D-1"]
    assert line.purchase_order.status == PurchaseOrder.Status.PARTIALLY_RECEIVED


def test_receiving_creates_the_stock_row_when_the_warehouse_had_none(warehouses):
    icn, _ = warehouses
    product = ProductFactory()
    order = replenishment(icn, key="manual")
    line = po_line(order, product, 3)

    replenishment_receive(purchase_order_line_id=line.pk, quantity=3, reference="D-1")

    stock = Stock.objects.get(warehouse=icn, product=product)
    assert (stock.on_hand, stock.allocated, stock.reserved) == (3, 0, 0)
    order.refresh_from_db()
    assert order.status == PurchaseOrder.Status.RECEIVED


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"kind": PurchaseOrder.Kind.CROSS_BORDER}, "receipt_not_replenishment"),
        ({"status": PurchaseOrder.Status.CANCELLED}, "receipt_line_cancelled"),
    ],
)
def test_receiving_is_refused_for_cross_border_or_cancelled_orders(warehouses, change, code):
    order = replenishment(warehouses[0], key="x")
    line = po_line(order, ProductFactory(), 3)
    PurchaseOrder.objects.filter(pk=order.pk).update(**change)

    with pytest.raises(ReceiptInvalid) as refused:
        replenishment_receive(purchase_order_line_id=line.pk, quantity=1, reference="D-1")

    assert refused.value.code == code
    assert not Receipt.objects.exists()
    assert not Stock.objects.exists()


@pytest.mark.parametrize(("quantity", "reference"), [(0, "D-1"), (2, " ")])
def test_receiving_needs_a_quantity_and_a_reference(warehouses, quantity, reference):
    line = po_line(replenishment(warehouses[0], key="x"), ProductFactory(), 3)
    with pytest.raises(ReceiptInvalid):
        replenishment_receive(
            purchase_order_line_id=line.pk, quantity=quantity, reference=reference
        )
    assert not Receipt.objects.exists()


# --- admin -------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client, django_user_model, settings):
    settings.LANGUAGE_CODE = "en"
    user = django_user_model.objects.create_superuser(username="boss", password="unused-pw-123")
    client.force_login(user)
    return client


def receive_url(line) -> str:
    return reverse(
        "admin:fulfillment_purchaseorder_receive", args=[line.purchase_order_id, line.pk]
    )


def test_admin_lists_purchase_orders_and_shows_lines_with_a_receipt_link(
    staff_client, open_replenishment
):
    _, line, _ = open_replenishment
    listing = staff_client.get(
        reverse("admin:fulfillment_purchaseorder_changelist"), {"kind": "replenishment"}
    )
    assert listing.status_code == 200
    assert [o.pk for o in listing.context["cl"].result_list] == [line.purchase_order_id]
    assert listing.context["cl"].result_list[0].units_ordered == 24

    page = staff_client.get(
        reverse("admin:fulfillment_purchaseorder_change", args=[line.purchase_order_id])
    )
    assert page.status_code == 200
    assert receive_url(line) in page.content.decode()


def test_admin_receipt_form_records_once_and_refuses_too_many(staff_client, open_replenishment):
    stock, line, _ = open_replenishment
    form = staff_client.get(receive_url(line))
    assert form.status_code == 200
    assert form.context["form"].initial["quantity"] == 20
    reference = form.context["form"].initial["reference"]

    # A double submission of the same form counts once.
    for _ in range(2):
        done = staff_client.post(receive_url(line), {"quantity": 7, "reference": reference})
        assert done.status_code == 302
    stock.refresh_from_db()
    line.refresh_from_db()
    assert (stock.on_hand, line.received) == (8, 7)
    assert Receipt.objects.get().actor.username == "boss"

    refused = staff_client.post(receive_url(line), {"quantity": 14, "reference": "D-9"})
    assert refused.status_code == 200
    assert refused.context["form"].errors["quantity"] == [
        "More than is left to receive on this line."
    ]
    stock.refresh_from_db()
    assert stock.on_hand == 8
    assert Receipt.objects.count() == 1


def test_admin_receipt_needs_the_receipt_permission(client, django_user_model, open_replenishment):
    _, line, _ = open_replenishment
    viewer = django_user_model.objects.create_user(
        username="viewer", password="unused-pw-123", is_staff=True
    )
    viewer.user_permissions.add(Permission.objects.get(codename="view_purchaseorder"))
    client.force_login(viewer)
    assert client.get(receive_url(line)).status_code == 403
    assert client.post(receive_url(line), {"quantity": 1, "reference": "x"}).status_code == 403
    assert not Receipt.objects.exists()


def test_low_stock_filter_counts_reserved_units(staff_client, warehouses):
    reserved_low = low_stock(warehouses[0], on_hand=10, reserved=6)  # available 4 < 5
    low_stock(warehouses[0], on_hand=10, reserved=5)  # available 5: not low
    listing = staff_client.get(reverse("admin:fulfillment_stock_changelist"), {"low_stock": "yes"})
    assert [s.pk for s in listing.context["cl"].result_list] == [reserved_low.pk]
