"""When allocation ships a line differently from what checkout promised, the order's
lines follow and the shopper is emailed the new dates once, however often the event
arrives."""

from __future__ import annotations

import pytest
from django.core import mail
from django.db import transaction

from orders.models import OrderLine, OrderNotification
from storefront.events import event_deliver, event_publish
from tests.factories import OrderFactory
from tests.orders.factories import OrderLineFactory

pytestmark = pytest.mark.django_db


def test_lines_follow_the_new_split_and_the_shopper_is_told_once():
    order = OrderFactory(items_krw=60000)
    line = OrderLineFactory(order=order, quantity=2, unit_price_krw=30000)  # promised: 2 domestic
    with transaction.atomic():
        event = event_publish(
            topic="order.fulfillment_changed",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload={
                "order_id": order.pk,
                "number": order.number,
                "store_absorbs_cost": True,
                "needs_pccc": True,
                "lines": [
                    {
                        "order_line_id": line.pk,
                        "product_id": line.product_id,
                        "domestic_quantity": 1,
                        "cross_border_quantity": 1,
                        "promised_domestic_quantity": 2,
                        "promised_cross_border_quantity": 0,
                    }
                ],
            },
        )
    event_deliver(event_id=event.pk)

    line = OrderLine.objects.get(pk=line.pk)
    assert (line.domestic_quantity, line.cross_border_quantity) == (1, 1)
    order.refresh_from_db()
    assert order.total_krw == 60000  # nothing re-priced: the store absorbs the cost
    assert len(mail.outbox) == 1
    body = mail.outbox[0].body
    assert order.number in body
    assert "미국 출고" in body
    assert "개인통관고유부호" in body

    # The same event again (a redelivery, or the subscriber run twice): no second email.
    from orders.services.delivery import order_lines_resplit

    order_lines_resplit(
        order_id=order.pk,
        lines=event.payload["lines"],
        reference=f"event-{event.pk}",
        needs_pccc=True,
    )
    assert len(mail.outbox) == 1
    assert OrderNotification.objects.filter(order=order, kind="delivery_change").count() == 1
