"""Order emails (orders/emails.py) and the subscribers that send them (orders/subscribers.py):
Korean content with the quote as paid, Seoul time, masked phone, never the PCCC; one email
per event however often it is delivered; staff resends go out again and are recorded."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail
from django.core.mail.backends.base import BaseEmailBackend
from django.db import transaction

from orders import emails, subscribers
from orders.lifecycle import order_transition
from orders.models import Order, OrderNotification, Refund
from storefront.events import event_deliver, event_publish, subscriber_name, subscribers_for
from storefront.models import OutboxDelivery, OutboxEvent
from tests.factories import OrderFactory
from tests.orders.factories import (
    PCCC,
    CrossBorderOrderFactory,
    OrderLineFactory,
    paid_order,
)

pytestmark = pytest.mark.django_db

# Monday 2 June 2025, 14:30 in Seoul.
PAID_AT = datetime.datetime(2025, 6, 2, 5, 30, tzinfo=datetime.UTC)
Kind = OrderNotification.Kind


class RefusingBackend(BaseEmailBackend):
    """An SMTP server that is down."""

    def send_messages(self, email_messages):
        raise ConnectionRefusedError("smtp down")


@pytest.fixture(autouse=True)
def _site_url(settings):
    settings.SITE_URL = "https://shop.example/"


def mixed_order_over_the_limit() -> Order:
    """2 units from Korea, 1 from the US over the duty-free limit, with a points discount:
    280,000 + 20,100 duty + 29,010 VAT − 10,000 = 319,110."""
    order = paid_order(
        factory_class=CrossBorderOrderFactory,
        paid_at=PAID_AT,
        email="jiwoo@example.com",
        recipient_name="김지우",
        phone="+821098765432",
        items_krw=280000,
        duty_krw=20100,
        vat_krw=29010,
        discount_krw=10000,
        customs_goods_value_usd="230.00",
        duty_free_limit_usd="200.00",
        duty_free=False,
    )
    OrderLineFactory(order=order, product__title="Wool socks", quantity=2, unit_price_krw=15000)
    OrderLineFactory(
        order=order,
        product__title="Noise cancelling headphones",
        quantity=1,
        cross_border_quantity=1,
        unit_price_krw=250000,
    )
    return order


def paid_event(order: Order) -> OutboxEvent:
    """Move the order to paid the way the webhook does, publishing ``order.paid``."""
    with transaction.atomic():
        order_transition(order=order, to_status=Order.Status.PAID, actor_type="payment_provider")
    return OutboxEvent.objects.get(topic="order.paid", aggregate_id=str(order.pk))


def bodies(message) -> tuple[str, str]:
    (html, mimetype), *_ = message.alternatives
    assert mimetype == "text/html"
    return message.body, html


# --- content ----------------------------------------------------------------------------------


def test_confirmation_is_korean_with_the_quote_as_paid():
    order = mixed_order_over_the_limit()

    emails.order_confirmation_send(order_id=order.pk)

    (message,) = mail.outbox
    assert message.to == ["jiwoo@example.com"]
    assert message.subject == f"[Global Store] 주문 {order.number} 결제 완료 안내"
    for body in bodies(message):
        assert "김지우님" in body
        assert "결제가 완료되었습니다" in body
        assert "Wool socks" in body
        assert "Noise cancelling headphones" in body
        assert "₩15,000" in body
        assert "₩30,000" in body
        assert "₩280,000" in body  # items
        assert "₩49,110" in body
        assert "₩20,100" in body
        assert "₩29,010" in body
        assert "-₩10,000" in body  # points discount
        assert "₩319,110" in body  # total
        assert "면세 한도 USD 200.00를 넘어" in body  # why import fees are due
        assert "USD 230.00" in body
        assert "2025년 6월 2일 14:30" in body  # Seoul time
        assert "국내 출고" in body
        assert "6월 3일" in body
        assert "6월 4일" in body
        assert "미국 출고" in body
        assert "6월 8일" in body
        assert "6월 12일" in body
        assert f"https://shop.example/orders/{order.number}/" in body or (
            f"https://shop.example{order.get_absolute_url()}" in body
        )


def test_confirmation_masks_the_phone_and_never_shows_the_pccc():
    order = mixed_order_over_the_limit()

    emails.order_confirmation_send(order_id=order.pk)

    (message,) = mail.outbox
    for body in bodies(message):
        assert "010-****-5432" in body
        assert "010-9876-5432" not in body
        assert "+821098765432" not in body
        assert "P••••••••9012" in body
        assert PCCC not in body
        assert "123456789012" not in body
        assert order.pccc_encrypted not in body
    assert PCCC not in message.subject


def test_confirmation_explains_a_duty_free_cross_border_part():
    order = paid_order(factory_class=CrossBorderOrderFactory, paid_at=PAID_AT)
    OrderLineFactory(order=order, quantity=1, cross_border_quantity=1)

    emails.order_confirmation_send(order_id=order.pk)

    text, _html = bodies(mail.outbox[0])
    assert "USD 45.00가 면세 한도 USD 200.00 이하여서 관세와 부가세가 없습니다" in text
    assert "관부가세: ₩0" in text
    assert "국내 출고" not in text  # nothing ships from Korea


def test_confirmation_of_a_domestic_order_has_no_customs_part():
    order = paid_order(paid_at=PAID_AT)
    OrderLineFactory(order=order, quantity=1)

    emails.order_confirmation_send(order_id=order.pk)

    text, html = bodies(mail.outbox[0])
    assert "모든 상품이 국내 창고에서 출고되어 관세와 부가세가 없습니다" in text
    assert "미국 출고" not in text
    assert "개인통관고유부호" not in text
    assert "개인통관고유부호" not in html


def test_cancellation_of_a_paid_order_names_the_refund():
    order = paid_order(paid_at=PAID_AT, recipient_name="박서준")
    OrderLineFactory(order=order, product__title="Desk lamp", quantity=1)

    emails.order_cancellation_send(order_id=order.pk, refunded_krw=30000)

    (message,) = mail.outbox
    assert message.subject == f"[Global Store] 주문 {order.number} 취소 안내"
    for body in bodies(message):
        assert "박서준님" in body
        assert "취소되었습니다" in body
        assert "₩30,000" in body
        assert "환불합니다" in body
        assert "Desk lamp" in body


def test_cancellation_of_an_unpaid_order_says_nothing_was_charged():
    order = OrderFactory()

    emails.order_cancellation_send(order_id=order.pk, refunded_krw=0)

    text, _html = bodies(mail.outbox[0])
    assert "청구된 금액이 없습니다" in text
    assert "환불합니다" not in text


def test_refund_email_names_the_amount():
    order = paid_order()

    emails.order_refund_send(order_id=order.pk, amount_krw=12300, fully_refunded=False)

    (message,) = mail.outbox
    assert "₩12,300" in message.subject
    assert "₩12,300이 결제하신 카드로 환불되었습니다" in message.body
    assert "전액" not in message.body


# --- subscribers: once per event, however often delivered -------------------------------------


def test_paid_event_sends_one_confirmation_however_often_it_is_delivered():
    order = OrderFactory(email="once@example.com")
    OrderLineFactory(order=order)
    event = paid_event(order)

    subscribers.order_paid_email_confirmation(event)
    subscribers.order_paid_email_confirmation(event)  # a redelivery

    assert [m.to for m in mail.outbox] == [["once@example.com"]]
    assert "결제 완료" in mail.outbox[0].subject
    (notification,) = OrderNotification.objects.filter(order=order)
    assert (notification.kind, notification.is_resend) == (Kind.CONFIRMATION, False)


def test_the_relay_delivers_the_confirmation_and_records_success():
    order = OrderFactory()
    event = paid_event(order)

    event_deliver(event_id=event.pk)
    event_deliver(event_id=event.pk)

    assert len([m for m in mail.outbox if m.to == [order.email]]) == 1
    delivery = OutboxDelivery.objects.get(
        event=event, subscriber=subscriber_name(subscribers.order_paid_email_confirmation)
    )
    assert delivery.status == OutboxDelivery.Status.SUCCEEDED


def test_a_failed_send_records_nothing_and_the_redelivery_sends(settings):
    order = OrderFactory()
    event = paid_event(order)
    locmem = settings.EMAIL_BACKEND
    settings.EMAIL_BACKEND = "tests.orders.test_emails.RefusingBackend"

    with pytest.raises(ConnectionRefusedError):
        subscribers.order_paid_email_confirmation(event)

    assert not OrderNotification.objects.filter(order=order).exists()
    settings.EMAIL_BACKEND = locmem
    subscribers.order_paid_email_confirmation(event)
    assert len(mail.outbox) == 1
    assert OrderNotification.objects.filter(order=order, kind=Kind.CONFIRMATION).count() == 1


def test_cancelled_event_sends_one_email_with_what_is_being_refunded():
    order = paid_order()
    payment = order.payments.get()
    Refund.objects.create(
        payment=payment, amount_krw=order.total_krw, idempotency_key="re-test-1", reason="test"
    )
    Refund.objects.create(
        payment=payment,
        amount_krw=999,
        idempotency_key="re-test-2",
        status=Refund.Status.FAILED,
    )
    with transaction.atomic():
        order_transition(order=order, to_status=Order.Status.CANCELLED, actor_type="customer")
    event = OutboxEvent.objects.get(topic="order.cancelled", aggregate_id=str(order.pk))

    subscribers.order_cancelled_email(event)
    subscribers.order_cancelled_email(event)

    (message,) = mail.outbox
    assert "취소 안내" in message.subject
    assert f"₩{order.total_krw:,}을 결제하신 카드로 환불합니다" in message.body
    assert "₩999" not in message.body  # a failed refund is not money coming back
    assert OrderNotification.objects.filter(order=order, kind=Kind.CANCELLATION).count() == 1


def test_each_refund_gets_one_email():
    order = paid_order()

    def refunded(refund_id: int, amount: int) -> OutboxEvent:
        with transaction.atomic():
            return event_publish(
                topic="order.refunded",
                aggregate_type="order",
                aggregate_id=order.pk,
                payload={
                    "order_id": order.pk,
                    "number": order.number,
                    "status": order.status,
                    "total_krw": order.total_krw,
                    "refund_id": refund_id,
                    "amount_krw": amount,
                    "fully_refunded": False,
                },
            )

    first, second = refunded(1, 5000), refunded(2, 7000)
    subscribers.order_refunded_email(first)
    subscribers.order_refunded_email(first)
    subscribers.order_refunded_email(second)

    assert [("₩5,000" in m.subject, "₩7,000" in m.subject) for m in mail.outbox] == [
        (True, False),
        (False, True),
    ]


def test_staff_resend_goes_out_again_and_is_recorded(django_user_model):
    staff = django_user_model.objects.create_user("staff", is_staff=True)
    order = OrderFactory()
    event = paid_event(order)
    subscribers.order_paid_email_confirmation(event)

    emails.order_confirmation_resend(order_id=order.pk, requested_by_id=staff.pk)
    subscribers.order_paid_email_confirmation(event)  # the guard still holds afterwards

    assert len(mail.outbox) == 2
    assert mail.outbox[0].subject == mail.outbox[1].subject
    rows = list(
        OrderNotification.objects.filter(order=order).values_list("is_resend", "requested_by")
    )
    assert rows == [(False, None), (True, staff.pk)]


def test_subscribers_are_registered_for_their_topics():
    assert subscriber_name(subscribers.order_paid_email_confirmation) in subscribers_for(
        "order.paid"
    )
    assert subscriber_name(subscribers.order_cancelled_email) in subscribers_for("order.cancelled")
    assert subscriber_name(subscribers.order_refunded_email) in subscribers_for("order.refunded")
