"""Staff groups (storefront/staff_groups.py, `manage.py seed_staff_groups`): the command
makes the groups match the data exactly and is idempotent, every listed permission exists,
and what each group may do in the admin: fulfillment ships but never cancels or refunds,
customer service cancels (and so refunds in full) but cannot refund an amount, finance
refunds an amount."""

from __future__ import annotations

from io import StringIO

import pytest
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from fulfillment.models import Allocation, Shipment, Stock
from fulfillment.services.shipments import shipment_create
from orders import stripe_client
from orders.models import Order, Refund
from storefront.staff_groups import (
    CATALOG,
    CUSTOMER_SERVICE,
    FINANCE,
    FULFILLMENT,
    STAFF_GROUPS,
    UnknownPermission,
    permissions_resolve,
    staff_groups_seed,
)
from tests.factories import OrderFactory, StockFactory
from tests.orders.factories import OrderLineFactory, PaymentFactory

pytestmark = pytest.mark.django_db

ORDERS_URL = reverse("admin:orders_order_changelist")
SHIPMENTS_URL = reverse("admin:fulfillment_shipment_changelist")
CARD_OK = "4242424242424242"


@pytest.fixture(autouse=True)
def _english(settings):
    settings.LANGUAGE_CODE = "en"


def seed() -> str:
    out = StringIO()
    call_command("seed_staff_groups", stdout=out)
    return out.getvalue()


def group_permissions(name: str) -> set[str]:
    return {
        f"{app}.{codename}"
        for app, codename in Group.objects.get(name=name).permissions.values_list(
            "content_type__app_label", "codename"
        )
    }


@pytest.fixture
def staff_client(client, django_user_model):
    """A client signed in as a new staff user (not a superuser) in the given group."""

    def login(group_name: str):
        seed()
        user = django_user_model.objects.create_user(f"staff-{len(group_name)}", is_staff=True)
        user.groups.add(Group.objects.get(name=group_name))
        client.force_login(user)
        return client

    return login


def action_names(response) -> set[str]:
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:
        return set()
    return {name for name, _label in form.fields["action"].choices if name}


# --- the data and the command ---------------------------------------------------------------


def test_every_listed_permission_exists():
    labels = [label for labels in STAFF_GROUPS.values() for label in labels]
    assert set(permissions_resolve(labels=labels)) == set(labels)
    assert set(STAFF_GROUPS) == {CUSTOMER_SERVICE, FULFILLMENT, CATALOG, FINANCE}
    for name, labels in STAFF_GROUPS.items():
        assert len(labels) == len(set(labels)), f"{name} lists a permission twice"


def test_a_misspelled_permission_is_refused_and_nothing_changes():
    with pytest.raises(UnknownPermission) as refused:
        staff_groups_seed(groups={"Typos": ["orders.view_order", "orders.veiw_payment"]})
    assert "orders.veiw_payment" in refused.value.message
    assert "orders.view_order" not in refused.value.message
    assert not Group.objects.filter(name="Typos").exists()


def test_the_command_reports_an_unknown_permission_as_a_command_error(monkeypatch):
    monkeypatch.setitem(STAFF_GROUPS, FINANCE, ["orders.refund_everything"])
    with pytest.raises(CommandError, match=r"orders\.refund_everything"):
        seed()
    assert not Group.objects.exists()


def test_seeding_twice_gives_the_same_groups_and_says_nothing_changed():
    first = seed()
    after_first = {name: group_permissions(name) for name in STAFF_GROUPS}
    second = seed()

    assert {name: group_permissions(name) for name in STAFF_GROUPS} == after_first
    assert after_first == {name: set(labels) for name, labels in STAFF_GROUPS.items()}
    assert Group.objects.count() == len(STAFF_GROUPS)
    assert f"{FULFILLMENT}: created" in first
    assert "+fulfillment.change_shipment" in first
    assert second.splitlines() == [f"{name}: unchanged" for name in STAFF_GROUPS]


def test_seeding_sets_exactly_the_listed_permissions_and_leaves_other_groups_alone():
    seed()
    fulfillment = Group.objects.get(name=FULFILLMENT)
    fulfillment.permissions.add(Permission.objects.get(codename="change_order"))
    fulfillment.permissions.remove(Permission.objects.get(codename="add_receipt"))
    other = Group.objects.create(name="Owners")
    other.permissions.add(Permission.objects.get(codename="change_order"))

    out = seed()

    assert group_permissions(FULFILLMENT) == set(STAFF_GROUPS[FULFILLMENT])
    assert f"{FULFILLMENT}: updated (+fulfillment.add_receipt, -orders.change_order)" in out
    assert f"{FINANCE}: unchanged" in out
    assert group_permissions("Owners") == {"orders.change_order"}


def test_only_finance_may_refund_an_amount_and_fulfillment_never_touches_money():
    money = {"orders.change_order", "orders.refund_order"}
    assert not money & set(STAFF_GROUPS[FULFILLMENT])
    assert not money & set(STAFF_GROUPS[CATALOG])
    assert "orders.refund_order" not in STAFF_GROUPS[CUSTOMER_SERVICE]
    assert "orders.change_order" in STAFF_GROUPS[CUSTOMER_SERVICE]
    assert "orders.change_order" not in STAFF_GROUPS[FINANCE]
    assert "orders.refund_order" in STAFF_GROUPS[FINANCE]


# --- fulfillment ------------------------------------------------------------------------------


def allocated_shipment() -> tuple[Shipment, Stock]:
    order = OrderFactory(status=Order.Status.PAID, paid_at=timezone.now())
    stock = StockFactory(on_hand=5, allocated=2)
    line = OrderLineFactory(order=order, product=stock.product, quantity=2)
    Allocation.objects.create(
        order=order, order_line=line, stock=stock, product=stock.product, quantity=2
    )
    shipment = shipment_create(
        order_id=order.pk,
        warehouse_id=stock.warehouse_id,
        lines=[(line.pk, 2)],
        carrier="cj",
        tracking_number="CJSTAFF1",
    )
    return shipment, stock


def test_fulfillment_staff_ship_but_can_neither_cancel_nor_refund(staff_client):
    client = staff_client(FULFILLMENT)
    shipment, stock = allocated_shipment()
    order = shipment.order

    assert "mark_shipped" in action_names(client.get(SHIPMENTS_URL))
    change_url = reverse("admin:fulfillment_shipment_change", args=[shipment.pk])
    assert client.get(change_url).status_code == 200
    ship_order_url = reverse("admin:fulfillment_shipment_ship_order")
    assert client.get(ship_order_url).status_code == 200
    client.post(SHIPMENTS_URL, {"action": "mark_shipped", "_selected_action": [shipment.pk]})
    shipment.refresh_from_db()
    stock.refresh_from_db()
    assert shipment.status == Shipment.Status.SHIPPED
    assert (stock.on_hand, stock.allocated) == (3, 0)

    # Orders: visible, but no cancel-and-refund or resend, and no refund form.
    assert client.get(reverse("admin:orders_order_change", args=[order.pk])).status_code == 200
    assert action_names(client.get(ORDERS_URL)) == set()
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.get(refund_url).status_code == 403
    assert client.post(refund_url, {"amount_krw": 1000, "reason": "x"}).status_code == 403
    lines_url = reverse("admin:fulfillment_purchaseorderline_changelist")
    assert "cancel_and_refund" not in action_names(client.get(lines_url))
    assert not Refund.objects.exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID

    # Allocation and sourcing actions are theirs.
    allocation_url = reverse("admin:fulfillment_orderforfulfillment_changelist")
    assert "rerun_allocation" in action_names(client.get(allocation_url))
    po_actions = action_names(client.get(reverse("admin:fulfillment_purchaseorder_changelist")))
    assert {"purchase_orders_send_now", "purchase_orders_refresh_now"} <= po_actions
    assert client.get(reverse("admin:fulfillment_stock_changelist")).status_code == 200


# --- customer service ------------------------------------------------------------------------


def test_customer_service_cancels_orders_but_cannot_refund_an_amount(staff_client):
    client = staff_client(CUSTOMER_SERVICE)
    order = OrderFactory()  # awaiting payment: cancelling refunds nothing

    assert {"cancel_and_refund", "resend_confirmation"} <= action_names(client.get(ORDERS_URL))
    client.post(
        ORDERS_URL, {"action": "cancel_and_refund", "_selected_action": [order.pk]}, follow=True
    )
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED

    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.get(refund_url).status_code == 403
    assert client.get(SHIPMENTS_URL).status_code == 200
    assert "mark_shipped" not in action_names(client.get(SHIPMENTS_URL))


# --- finance ---------------------------------------------------------------------------------


def test_finance_refunds_an_amount_but_cannot_cancel(
    staff_client, stripe_local, stripe_confirm_card
):
    client = staff_client(FINANCE)
    order = OrderFactory(status=Order.Status.PAID, paid_at=timezone.now())
    intent = stripe_client.payment_intent_create(
        amount_krw=order.total_krw,
        idempotency_key=f"pi-{order.number}",
        metadata={"order_number": order.number},
    )
    assert stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)["status"] == "succeeded"
    PaymentFactory(order=order, payment_intent_id=intent.id)

    assert action_names(client.get(ORDERS_URL)) == set()
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.get(refund_url).status_code == 200
    response = client.post(refund_url, {"amount_krw": "5000", "reason": "late delivery"})

    assert response.status_code == 302
    (refund,) = Refund.objects.filter(payment__order=order)
    assert (refund.amount_krw, refund.status) == (5000, Refund.Status.SUCCEEDED)
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert client.get(reverse("admin:orders_stripeevent_changelist")).status_code == 200
    assert client.get(SHIPMENTS_URL).status_code == 403


# --- catalog ---------------------------------------------------------------------------------


def test_catalog_staff_edit_products_and_see_no_orders(staff_client):
    client = staff_client(CATALOG)
    assert client.get(reverse("admin:catalog_product_add")).status_code == 200
    assert client.get(reverse("admin:catalog_exchangerate_add")).status_code == 200
    assert client.get(ORDERS_URL).status_code == 403
