"""The order state machine (orders.lifecycle): every allowed move is recorded with its
actor and publishes its event; every other move raises and changes nothing."""

from __future__ import annotations

import pytest

from orders.lifecycle import TRANSITIONS, InvalidTransition, order_transition
from orders.models import Order, OrderStatus, OrderStatusChange
from storefront.models import OutboxEvent
from tests.factories import OrderFactory

pytestmark = pytest.mark.django_db

ALL = [status.value for status in OrderStatus]
ALLOWED = [(src, dst) for src in ALL for dst in sorted(TRANSITIONS[src])]
FORBIDDEN = [(src, dst) for src in ALL for dst in ALL if dst not in TRANSITIONS[src]]


@pytest.mark.parametrize(("from_status", "to_status"), ALLOWED)
def test_allowed_transition_is_recorded_with_actor(from_status, to_status, django_user_model):
    staff = django_user_model.objects.create_user("staff@example.com")
    order = OrderFactory(status=from_status)
    change = order_transition(
        order=order,
        to_status=to_status,
        actor_type=OrderStatusChange.ActorType.STAFF,
        actor_id=staff.pk,
        reason="test",
    )
    order.refresh_from_db()
    assert order.status == to_status
    assert (change.from_status, change.to_status, change.actor_id) == (
        from_status,
        to_status,
        staff.pk,
    )
    assert change.actor_type == "staff"
    assert change.created_at is not None


@pytest.mark.parametrize(("from_status", "to_status"), FORBIDDEN)
def test_forbidden_transition_raises_and_changes_nothing(from_status, to_status):
    order = OrderFactory(status=from_status)
    with pytest.raises(InvalidTransition) as raised:
        order_transition(order=order, to_status=to_status, actor_type="system")
    assert raised.value.code == "order_invalid_transition"
    order.refresh_from_db()
    assert order.status == from_status
    assert not OrderStatusChange.objects.filter(order=order).exists()
    assert not OutboxEvent.objects.filter(aggregate_id=str(order.pk)).exists()


def test_the_table_covers_every_status_and_terminal_states_are_final():
    assert set(TRANSITIONS) == set(ALL)
    assert TRANSITIONS[OrderStatus.CANCELLED] == frozenset()
    assert TRANSITIONS[OrderStatus.REFUNDED] == frozenset()
    assert OrderStatus.PENDING_PAYMENT not in {dst for dsts in TRANSITIONS.values() for dst in dsts}


@pytest.mark.parametrize(
    ("to_status", "topic"),
    [
        (OrderStatus.PAID, "order.paid"),
        (OrderStatus.CANCELLED, "order.cancelled"),
    ],
)
def test_transition_publishes_its_event_in_the_same_transaction(to_status, topic):
    order = OrderFactory(status=Order.Status.PENDING_PAYMENT)
    order_transition(order=order, to_status=to_status, actor_type="payment_provider")
    event = OutboxEvent.objects.get(aggregate_type="order", aggregate_id=str(order.pk))
    assert event.topic == topic
    assert event.payload["number"] == order.number
    assert event.payload["from_status"] == "pending_payment"


def test_paid_and_cancelled_are_stamped():
    order = OrderFactory(status=Order.Status.PENDING_PAYMENT)
    order_transition(order=order, to_status=OrderStatus.PAID, actor_type="payment_provider")
    order_transition(order=order, to_status=OrderStatus.CANCELLED, actor_type="customer")
    order.refresh_from_db()
    assert order.paid_at is not None
    assert order.cancelled_at is not None
    assert list(order.status_changes.values_list("to_status", flat=True)) == ["paid", "cancelled"]
