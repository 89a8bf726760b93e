"""What membership does when order events are delivered (``storefront.events``): capture the
points of a paid order, release those of an order that will not be paid, return them pro
rata when money goes back. Imported from ``MembershipConfig.ready()``.

Delivery is at least once and the carrier may be down: every service called here is
idempotent (keys derived from the hold's key, duplicates recorded once), and a carrier
that does not answer raises, so the relay tries the event again with backoff.
"""

from __future__ import annotations

from decimal import ROUND_FLOOR, Decimal

from django.db.models import Sum

from orders.models import Payment, Refund
from storefront.events import subscriber
from storefront.models import OutboxEvent

from .errors import PointsCarrierUnavailable
from .models import PointHold
from .services.holds import points_capture, points_refund, points_release


@subscriber("order.paid")
def order_paid_capture_points(event: OutboxEvent) -> None:
    """The order is paid: the held points are spent."""
    points_capture(order_id=int(event.payload["order_id"]))


@subscriber("order.cancelled")
def order_cancelled_release_points(event: OutboxEvent) -> None:
    """The order is cancelled: points not yet captured go back (captured ones come back with
    the cancellation's refund)."""
    points_release(order_id=int(event.payload["order_id"]), reason="order cancelled")


@subscriber("order.refunded")
def order_refunded_return_points(event: OutboxEvent) -> None:
    """Money went back to the card: the same share of the points goes back to the member."""
    payload = event.payload
    order_id = int(payload["order_id"])
    refund_id = payload.get("refund_id")
    if not refund_id:
        return
    hold = (
        PointHold.objects.filter(order_id=order_id, status__in=PointHold.LIVE)
        .order_by("-id")
        .first()
    )
    if hold is None:
        return
    if hold.status != PointHold.Status.CAPTURED:
        if payload.get("fully_refunded"):
            points_release(order_id=order_id, reason="order fully refunded before capture")
            return
        # The capture is still on its way (order.paid not handled yet): try again later.
        raise PointsCarrierUnavailable(f"points of order {order_id} not captured yet")
    points = refund_points(
        hold=hold,
        order_id=order_id,
        refund_id=int(refund_id),
        fully_refunded=bool(payload.get("fully_refunded")),
    )
    points_refund(order_id=order_id, reference=f"refund-{refund_id}", points=points)


def _share(points: int, amount_krw: int, paid_krw: int) -> int:
    if paid_krw <= 0:
        return 0
    return int((Decimal(points) * amount_krw / paid_krw).to_integral_value(rounding=ROUND_FLOOR))


def refund_points(*, hold: PointHold, order_id: int, refund_id: int, fully_refunded: bool) -> int:
    """The points one refund returns: the refund's share of what was paid, rounded down;
    the refund that completes a full refund returns the rest, so the shares add up to the
    points used exactly. Depends only on the order's refunds, so a retry computes the same
    number (the carrier call's idempotency key is per refund)."""
    paid_krw = (
        Payment.objects.filter(order_id=order_id, status=Payment.Status.SUCCEEDED).aggregate(
            total=Sum("captured_krw")
        )["total"]
        or 0
    )
    refunds = dict(
        Refund.objects.filter(
            payment__order_id=order_id, status=Refund.Status.SUCCEEDED
        ).values_list("pk", "amount_krw")
    )
    amount = refunds.get(refund_id)
    if amount is None:
        return 0
    if fully_refunded:
        others = sum(
            _share(hold.points, a, paid_krw) for pk, a in refunds.items() if pk != refund_id
        )
        return max(0, hold.points - others)
    return min(hold.points, _share(hold.points, amount, paid_krw))
