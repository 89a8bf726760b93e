"""Staff admin for orders (orders/admin.py): the order list (search by number, email and a
phone typed any usual way, filters, bounded queries), the read-only order page (masked PCCC,
history, outbox events), the cancel-and-refund and resend actions through the services, the
refund form, and the read-only payment, Stripe event, customs profile and cart pages."""

from __future__ import annotations

import datetime

import pytest
from django.contrib.auth.models import Group, Permission
from django.contrib.messages import get_messages
from django.core import mail
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from orders import stripe_client
from orders.lifecycle import order_transition
from orders.models import (
    Cart,
    CustomsProfile,
    Order,
    OrderNotification,
    OrderStatusChange,
    Payment,
    Refund,
    StripeEvent,
)
from orders.pccc import pccc_encrypt
from storefront.models import OutboxEvent
from tests.factories import OrderFactory
from tests.orders.factories import (
    PCCC,
    CrossBorderOrderFactory,
    OrderLineFactory,
    PaymentFactory,
    paid_order,
)

pytestmark = pytest.mark.django_db

ORDERS_URL = reverse("admin:orders_order_changelist")
CARD_OK = "4242424242424242"


@pytest.fixture(autouse=True)
def _english(settings):
    """Staff pages in English, so assertions on messages hold whatever translations exist."""
    settings.LANGUAGE_CODE = "en"


def order_url(order: Order) -> str:
    return reverse("admin:orders_order_change", args=[order.pk])


def listed(client, **params) -> set[str]:
    response = client.get(ORDERS_URL, params)
    assert response.status_code == 200
    return {order.number for order in response.context["cl"].result_list}


def run_action(client, action: str, *orders: Order):
    return client.post(
        ORDERS_URL,
        {"action": action, "_selected_action": [order.pk for order in orders]},
        follow=True,
    )


def texts(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


@pytest.fixture
def stripe_paid_order(stripe_local, stripe_confirm_card):
    """A paid order whose card payment really succeeded at the Stripe stand-in."""

    def make(**fields) -> Order:
        order = OrderFactory(status=Order.Status.PAID, paid_at=timezone.now(), **fields)
        intent = stripe_client.payment_intent_create(
            amount_krw=order.total_krw,
            idempotency_key=f"pi-{order.number}",
            metadata={"order_number": order.number},
        )
        paid = stripe_confirm_card(intent.id, intent.client_secret, CARD_OK)
        assert paid["status"] == "succeeded"
        PaymentFactory(order=order, payment_intent_id=intent.id)
        return order

    return make


# --- list ---------------------------------------------------------------------------------------


def test_search_by_number_email_and_phone_in_any_usual_form(admin_client):
    wanted = OrderFactory(
        number="GS250602-ABC234", email="minji@example.com", phone="+821098765432"
    )
    OrderFactory(number="GS250602-XYZ789", email="other@example.com", phone="+821011112222")

    assert listed(admin_client, q="GS250602-ABC234") == {wanted.number}
    assert listed(admin_client, q="gs250602-abc") == {wanted.number}  # prefix, any case
    assert listed(admin_client, q="minji@example.com") == {wanted.number}
    assert listed(admin_client, q="MINJI@") == {wanted.number}
    for typed in ("010-9876-5432", "01098765432", "+82 10-9876-5432", "010 9876 5432"):
        assert listed(admin_client, q=typed) == {wanted.number}, typed
    assert listed(admin_client, q="010-0000-0000") == set()


def test_list_masks_the_phone_and_shows_won_and_seoul_time(admin_client):
    order = OrderFactory(phone="+821098765432", items_krw=123400)
    Order.objects.filter(pk=order.pk).update(
        placed_at=datetime.datetime(2025, 6, 2, 15, 5, tzinfo=datetime.UTC)
    )

    response = admin_client.get(ORDERS_URL)

    page = response.content.decode()
    assert "010-****-5432" in page
    assert "010-9876-5432" not in page
    assert "+821098765432" not in page
    assert "₩123,400" in page
    assert "2025-06-03 00:05" in page  # Seoul is UTC+9


def test_filters_by_status_and_cross_border(admin_client):
    pending = OrderFactory()
    paid = paid_order()
    cross_border = CrossBorderOrderFactory()

    assert listed(admin_client, status__exact="paid") == {paid.number}
    assert listed(admin_client, has_cross_border__exact="1") == {cross_border.number}
    assert listed(admin_client, has_cross_border__exact="0") == {pending.number, paid.number}
    # The "Today" link of the placed-date filter: midnight in Seoul, with its offset.
    midnight = timezone.localtime().replace(hour=0, minute=0, second=0, microsecond=0)
    assert len(listed(admin_client, placed_at__gte=str(midnight))) == 3
    Order.objects.filter(pk=pending.pk).update(placed_at=midnight - datetime.timedelta(days=2))
    assert listed(admin_client, placed_at__gte=str(midnight)) == {paid.number, cross_border.number}


def _count_queries(client, params: dict) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(ORDERS_URL, params)
    assert response.status_code == 200
    return len(queries)


@pytest.mark.parametrize(
    "params",
    [{}, {"q": "shopper"}, {"q": "010-1234-5678"}, {"status__exact": "pending_payment"}],
    ids=["plain", "email", "phone", "filtered"],
)
def test_changelist_queries_do_not_grow_with_the_page(admin_client, params):
    CrossBorderOrderFactory()
    admin_client.get(ORDERS_URL)  # warm up per-process caches (content types, session)

    one = _count_queries(admin_client, params)
    OrderFactory.create_batch(5)
    CrossBorderOrderFactory.create_batch(4)
    ten = _count_queries(admin_client, params)

    assert len(admin_client.get(ORDERS_URL, params).context["cl"].result_list) == 10
    assert one == ten


# --- detail -------------------------------------------------------------------------------------


def test_order_page_shows_the_pccc_masked_never_whole_or_encrypted(admin_client):
    order = CrossBorderOrderFactory(pccc="P987654321098")
    OrderLineFactory(order=order, product__title="Trail shoes", quantity=2, cross_border_quantity=2)

    response = admin_client.get(order_url(order))

    assert response.status_code == 200
    page = response.content.decode()
    assert "P••••••••1098" in page
    assert "P987654321098" not in page
    assert "987654321098" not in page
    assert order.pccc_encrypted not in page
    assert "Trail shoes" in page


def test_order_page_shows_history_payments_refunds_and_outbox_events(admin_client, admin_user):
    order = paid_order()
    payment = order.payments.get()
    Payment.objects.filter(pk=payment.pk).update(client_secret="pi_secret_must_not_show")
    Refund.objects.create(
        payment=payment, amount_krw=4321, reason="damaged box", idempotency_key="re-x"
    )
    with transaction.atomic():
        order_transition(
            order=order,
            to_status=Order.Status.PROCESSING,
            actor_type=OrderStatusChange.ActorType.STAFF,
            actor_id=admin_user.pk,
            reason="picked",
        )

    page = admin_client.get(order_url(order)).content.decode()

    assert payment.payment_intent_id in page
    assert "pi_secret_must_not_show" not in page
    assert "₩4,321" in page
    assert "damaged box" in page
    assert "picked" in page
    assert reverse("admin:orders_order_refund", args=[order.pk]) in page


def test_order_page_lists_the_orders_outbox_events_only(admin_client):
    order = OrderFactory()
    other = OrderFactory()
    with transaction.atomic():
        order_transition(order=order, to_status=Order.Status.PAID, actor_type="payment_provider")
        order_transition(order=other, to_status=Order.Status.CANCELLED, actor_type="customer")

    page = admin_client.get(order_url(order)).content.decode()

    assert "order.paid" in page
    assert "order.cancelled" not in page


def test_orders_cannot_be_added_edited_or_deleted_here(admin_client):
    order = OrderFactory()

    assert admin_client.get(reverse("admin:orders_order_add")).status_code == 403
    assert (
        admin_client.get(reverse("admin:orders_order_delete", args=[order.pk])).status_code == 403
    )
    response = admin_client.post(order_url(order), {"email": "changed@example.com"})
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.email != "changed@example.com"
    action_field = admin_client.get(ORDERS_URL).context["action_form"].fields["action"]
    offered = [name for name, _label in action_field.choices]
    assert "delete_selected" not in offered
    assert {"cancel_and_refund", "resend_confirmation"} <= set(offered)


# --- actions ------------------------------------------------------------------------------------


def test_cancel_action_cancels_through_the_service_as_staff(admin_client, admin_user):
    order = OrderFactory()

    response = run_action(admin_client, "cancel_and_refund", order)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    change = order.status_changes.get(to_status=Order.Status.CANCELLED)
    assert (change.actor_type, change.actor_id) == ("staff", admin_user.pk)
    assert OutboxEvent.objects.filter(topic="order.cancelled", aggregate_id=str(order.pk)).exists()
    assert any("1 order(s) cancelled" in text for text in texts(response))


def test_cancel_action_refunds_a_paid_order_at_stripe(admin_client, admin_user, stripe_paid_order):
    order = stripe_paid_order()

    response = run_action(admin_client, "cancel_and_refund", order)

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    payment = order.payments.get()
    assert payment.refunded_krw == payment.captured_krw == order.total_krw
    (refund,) = Refund.objects.filter(payment=payment)
    assert (refund.status, refund.actor_id) == (Refund.Status.SUCCEEDED, admin_user.pk)
    assert order.status_changes.get(to_status="cancelled").actor_type == "staff"


def test_cancel_action_reports_each_refusal_and_goes_on(admin_client):
    shipped = OrderFactory(status=Order.Status.SHIPPED)
    pending = OrderFactory()

    response = run_action(admin_client, "cancel_and_refund", shipped, pending)

    assert response.status_code == 200
    shipped.refresh_from_db()
    pending.refresh_from_db()
    assert shipped.status == Order.Status.SHIPPED
    assert not shipped.status_changes.exists()
    assert pending.status == Order.Status.CANCELLED
    messages = texts(response)
    assert any(text.startswith(f"{shipped.number}: ") for text in messages)
    assert any("1 order(s) cancelled" in text for text in messages)


def test_cancel_action_reports_a_stripe_failure_without_a_server_error(admin_client, stripe_local):
    order = paid_order()  # its PaymentIntent does not exist at Stripe

    response = run_action(admin_client, "cancel_and_refund", order)

    assert response.status_code == 200
    assert any(order.number in text for text in texts(response))


def test_resend_action_sends_the_confirmation_again_and_records_who_asked(admin_client, admin_user):
    order = paid_order(email="again@example.com")
    OrderNotification.objects.create(order=order, kind=OrderNotification.Kind.CONFIRMATION)

    response = run_action(admin_client, "resend_confirmation", order)

    assert response.status_code == 200
    assert [m.to for m in mail.outbox] == [["again@example.com"]]
    assert "결제 완료" in mail.outbox[0].subject
    resend = OrderNotification.objects.get(order=order, is_resend=True)
    assert resend.requested_by_id == admin_user.pk


def test_resend_action_refuses_an_unpaid_order(admin_client):
    order = OrderFactory()

    response = run_action(admin_client, "resend_confirmation", order)

    assert mail.outbox == []
    assert not OrderNotification.objects.filter(order=order).exists()
    assert any(order.number in text for text in texts(response))


def test_staff_who_may_only_view_orders_get_no_actions(client, django_user_model):
    group = Group.objects.create(name="viewers")
    group.permissions.set(Permission.objects.filter(codename="view_order"))
    viewer = django_user_model.objects.create_user("viewer", is_staff=True)
    viewer.groups.add(group)
    client.force_login(viewer)
    order = OrderFactory()

    response = client.get(ORDERS_URL)
    assert response.status_code == 200
    assert response.context["action_form"] is None or not [
        name for name, _label in response.context["action_form"].fields["action"].choices if name
    ]
    run_action(client, "cancel_and_refund", order)
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    refund_url = reverse("admin:orders_order_refund", args=[order.pk])
    assert client.post(refund_url, {"amount_krw": 1, "reason": "x"}).status_code == 403


# --- refund form --------------------------------------------------------------------------------


def test_refund_form_refunds_part_of_a_paid_order(admin_client, admin_user, stripe_paid_order):
    order = stripe_paid_order()
    url = reverse("admin:orders_order_refund", args=[order.pk])
    assert admin_client.get(url).status_code == 200

    response = admin_client.post(url, {"amount_krw": "5000", "reason": "late delivery"})

    assert response.status_code == 302
    (refund,) = Refund.objects.filter(payment__order=order)
    assert (refund.amount_krw, refund.status, refund.actor_id) == (
        5000,
        Refund.Status.SUCCEEDED,
        admin_user.pk,
    )
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED


def test_refund_form_shows_the_services_refusal(admin_client):
    order = paid_order()
    url = reverse("admin:orders_order_refund", args=[order.pk])

    response = admin_client.post(url, {"amount_krw": order.total_krw + 1, "reason": "too much"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Refund.objects.exists()


def test_refund_form_refuses_an_unpaid_order(admin_client):
    order = OrderFactory()
    url = reverse("admin:orders_order_refund", args=[order.pk])

    response = admin_client.post(url, {"amount_krw": "1000", "reason": "goodwill"})

    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Refund.objects.exists()


# --- other read-only pages ------------------------------------------------------------------


def test_customs_profile_page_shows_the_mask_only(admin_client, django_user_model):
    shopper = django_user_model.objects.create_user("shopper", email="s@example.com")
    now = timezone.now()
    profile = CustomsProfile.objects.create(
        customer=shopper,
        pccc_encrypted=pccc_encrypt(PCCC),
        pccc_last4=PCCC[-4:],
        verified_name="홍길동",
        verified_phone="+821012345678",
        verified_postal_code="06236",
        verified_at=now,
        consented_at=now,
    )

    for url in (
        reverse("admin:orders_customsprofile_changelist"),
        reverse("admin:orders_customsprofile_change", args=[profile.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert "P••••••••9012" in page
        assert PCCC not in page
        assert profile.pccc_encrypted not in page
        assert "010-1234-5678" not in page


def test_stripe_event_page_redacts_client_secrets(admin_client):
    event = StripeEvent.objects.create(
        event_id="evt_1",
        type="payment_intent.succeeded",
        payment_intent_id="pi_1",
        payload={"data": {"object": {"id": "pi_1", "client_secret": "pi_1_secret_abc"}}},
    )

    page = admin_client.get(
        reverse("admin:orders_stripeevent_change", args=[event.pk])
    ).content.decode()

    assert "pi_1_secret_abc" not in page
    assert "[redacted]" in page


def test_payment_page_never_shows_the_client_secret(admin_client):
    payment = PaymentFactory(client_secret="pi_2_secret_xyz")

    page = admin_client.get(
        reverse("admin:orders_payment_change", args=[payment.pk])
    ).content.decode()

    assert payment.payment_intent_id in page
    assert "pi_2_secret_xyz" not in page


def test_cart_page_never_shows_the_session_key(admin_client):
    cart = Cart.objects.create(session_key="abcdefghijklmnopqrstuvwxyz012345")

    for url in (
        reverse("admin:orders_cart_changelist"),
        reverse("admin:orders_cart_change", args=[cart.pk]),
    ):
        page = admin_client.get(url).content.decode()
        assert "abcdefghijklmnopqrstuvwxyz012345" not in page
        assert "…2345" in page


def test_refund_form_refunds_units_of_a_line(admin_client, admin_user, stripe_paid_order):
    order = stripe_paid_order(items_krw=60000)
    line = OrderLineFactory(order=order, quantity=2, unit_price_krw=30000)
    url = reverse("admin:orders_order_refund", args=[order.pk])
    assert f'name="line_{line.pk}"' in admin_client.get(url).content.decode()

    response = admin_client.post(url, {f"line_{line.pk}": "1", "reason": "one arrived broken"})

    assert response.status_code == 302
    (refund,) = Refund.objects.filter(payment__order=order)
    assert (refund.amount_krw, refund.status, refund.lines) == (
        30000,
        Refund.Status.SUCCEEDED,
        {str(line.pk): 1},
    )
    line.refresh_from_db()
    assert line.cancelled_quantity == 1
    # The same unit cannot be refunded twice: only one is left.
    again = admin_client.post(url, {f"line_{line.pk}": "2", "reason": "again"})
    assert again.status_code == 200
    assert Refund.objects.filter(payment__order=order).count() == 1


def test_refund_form_needs_an_amount_or_units(admin_client, stripe_paid_order):
    order = stripe_paid_order()
    url = reverse("admin:orders_order_refund", args=[order.pk])
    response = admin_client.post(url, {"reason": "nothing chosen"})
    assert response.status_code == 200
    assert response.context["form"].non_field_errors()
    assert not Refund.objects.exists()
