"""Fulfillment beat tasks: registered under the names the schedule uses, and the
reservation safety net releases only what an unpaid order still holds after its window."""

from __future__ import annotations

import datetime

import pytest
from django.conf import settings
from django.utils import timezone

from fulfillment.models import Reservation, Stock
from fulfillment.services import ReservationRequest, stock_reserve
from fulfillment.tasks import stock_reservations_expire_task
from orders.models import Order
from storefront.celery import app as celery_app
from tests.factories import OrderFactory, StockFactory

pytestmark = pytest.mark.django_db


def test_every_scheduled_task_is_registered():
    names = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    celery_app.loader.import_default_modules()
    assert names <= set(celery_app.tasks)


@pytest.mark.parametrize(("status", "released"), [("pending_payment", True), ("paid", False)])
def test_expired_reservations_of_unpaid_orders_are_released(status, released):
    stock = StockFactory(on_hand=4)
    past = timezone.now() - datetime.timedelta(hours=1)
    order = OrderFactory(status=status, payment_due_at=past)
    stock_reserve(
        order_id=order.pk,
        lines=[ReservationRequest(product_id=stock.product_id, quantity=3)],
        expires_at=past,
    )
    given_back = stock_reservations_expire_task.apply().get()
    stock.refresh_from_db()
    assert given_back == (3 if released else 0)
    assert stock.reserved == (0 if released else 3)
    assert Reservation.objects.get(order=order).status == ("released" if released else "active")
    assert Order.objects.get(pk=order.pk).status == status
    assert Stock.objects.get(pk=stock.pk).on_hand == 4
