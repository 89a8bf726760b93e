"""Emails to the shopper about an order: confirmation once it is paid, cancellation, refund.

Each email is rendered in Korean (the shop's language) and Seoul time from
``templates/orders/email/<kind>_subject.txt``, ``<kind>.txt`` and ``<kind>.html``, with
amounts through the ``won`` filter, and sent with ``django.core.mail`` (the console on
embedded defaults). The phone is shown masked; the PCCC never appears, only its mask
(last four digits) for a cross-border order.

``order_email_send_once`` is what the event subscribers use: it records the automatic email
of a kind in ``OrderNotification`` in the same transaction as the send, so a redelivered
event finds the row and sends nothing. ``order_confirmation_resend`` is the staff action:
it bypasses that guard on purpose and records the resend with who asked.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.template.loader import render_to_string
from django.urls import NoReverseMatch
from django.utils import timezone, translation

from fulfillment.selectors import delivery_promise

from .models import Order, OrderLine, OrderNotification, Refund
from .pccc import pccc_mask

EMAIL_LANGUAGE = "ko"
EMAIL_TIME_ZONE = "Asia/Seoul"
Kind = OrderNotification.Kind


@dataclass(frozen=True)
class ShipmentPart:
    """One part of an order as the email promises it: what ships from where, and when it
    should arrive."""

    domestic: bool
    lines: list[tuple[OrderLine, int]]  # (line, units in this part)
    earliest: datetime.date
    latest: datetime.date


def order_page_url(order: Order) -> str:
    """The absolute URL of the shopper's order page, on ``settings.SITE_URL``."""
    try:
        path = order.get_absolute_url()
    except NoReverseMatch:  # the shopper pages are not mounted (a trimmed URLconf)
        path = f"/orders/{order.number}/"
    return settings.SITE_URL.rstrip("/") + path


def refunds_committed_krw(*, order_id: int) -> int:
    """What is refunded or being refunded on the order's payments (failed refunds aside)."""
    total = (
        Refund.objects.filter(payment__order_id=order_id)
        .exclude(status=Refund.Status.FAILED)
        .aggregate(total=Sum("amount_krw"))["total"]
    )
    return int(total or 0)


def _shipment_parts(order: Order, lines: list[OrderLine]) -> list[ShipmentPart]:
    promised_from = order.paid_at or timezone.now()
    parts = []
    for domestic in (True, False):
        units = [
            (line, line.domestic_quantity if domestic else line.cross_border_quantity)
            for line in lines
        ]
        units = [(line, quantity) for line, quantity in units if quantity]
        if not units:
            continue
        promise = delivery_promise(domestic_units=1 if domestic else 0, now=promised_from)
        parts.append(
            ShipmentPart(
                domestic=domestic, lines=units, earliest=promise.earliest, latest=promise.latest
            )
        )
    return parts


def order_email_context(order: Order) -> dict:
    """What every order email shows: the order, its page, the masked PCCC, the site."""
    return {
        "order": order,
        "order_url": order_page_url(order),
        "pccc_masked": pccc_mask(order.pccc_last4) if order.pccc_last4 else "",
        "site_url": settings.SITE_URL.rstrip("/"),
    }


def order_email_send(*, order: Order, kind: str, context: dict) -> None:
    """Render ``orders/email/<kind>*`` in Korean and Seoul time and send it to the order's
    email address. Raises whatever the email backend raises (the caller's transaction then
    records nothing, so the event is delivered, and the email sent, again)."""
    with translation.override(EMAIL_LANGUAGE), timezone.override(EMAIL_TIME_ZONE):
        subject = render_to_string(f"orders/email/{kind}_subject.txt", context)
        text = render_to_string(f"orders/email/{kind}.txt", context)
        html = render_to_string(f"orders/email/{kind}.html", context)
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),  # one line, whatever the template's whitespace
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[order.email],
    )
    message.attach_alternative(html, "text/html")
    message.send()


def order_confirmation_send(*, order_id: int) -> None:
    """Email the shopper that the order is paid: its number, lines, the quote as paid
    (items, shipping, import fees with the duty-free explanation, discount, total), the
    delivery promise of each part (from Korea, from the US) and a link to the order page.
    Sends every time it is called; see ``order_email_send_once`` for the guarded send."""
    order = Order.objects.get(pk=order_id)
    lines = list(order.lines.all())
    context = order_email_context(order)
    context.update(
        lines=lines,
        parts=_shipment_parts(order, lines),
        paid_at=order.paid_at,
    )
    order_email_send(order=order, kind="confirmation", context=context)


def order_cancellation_send(*, order_id: int, refunded_krw: int) -> None:
    """Email the shopper that the order is cancelled and, when something was paid, that
    ``refunded_krw`` goes back to the card it was paid with."""
    order = Order.objects.get(pk=order_id)
    context = order_email_context(order)
    context.update(lines=list(order.lines.all()), refunded_krw=refunded_krw)
    order_email_send(order=order, kind="cancellation", context=context)


def order_refund_send(*, order_id: int, amount_krw: int, fully_refunded: bool = False) -> None:
    """Email the shopper that ``amount_krw`` was refunded to the card (all of what was
    paid when ``fully_refunded``)."""
    order = Order.objects.get(pk=order_id)
    context = order_email_context(order)
    context.update(amount_krw=amount_krw, fully_refunded=fully_refunded)
    order_email_send(order=order, kind="refund", context=context)


def order_delivery_change_send(*, order_id: int, needs_pccc: bool = False) -> None:
    """Email the shopper that part of the order now ships from the US, with the new
    delivery dates per part; the store bears the extra cost. ``needs_pccc`` adds that
    customer service will ask for the recipient's PCCC."""
    order = Order.objects.get(pk=order_id)
    lines = list(order.lines.all())
    context = order_email_context(order)
    context.update(lines=lines, parts=_shipment_parts(order, lines), needs_pccc=needs_pccc)
    order_email_send(order=order, kind="delivery_change", context=context)


def order_email_send_once(
    *, order_id: int, kind: str, send: Callable[[], None], reference: str = ""
) -> bool:
    """Send the automatic email of ``kind`` (for ``reference``, when an order can get several
    of a kind) unless it is already recorded; return whether it was sent now.

    The record and the send share one transaction: if sending fails nothing is recorded
    and a redelivery tries again; once recorded, a redelivered event sends nothing (the
    unique constraint decides, so two concurrent deliveries send one email). An email can
    still go out twice if the process dies between the send and the commit: at least
    once, never silently lost."""
    with transaction.atomic():
        try:
            with transaction.atomic():
                OrderNotification.objects.create(order_id=order_id, kind=kind, reference=reference)
        except IntegrityError:
            return False
        send()
    return True


def order_confirmation_resend(*, order_id: int, requested_by_id: int | None) -> OrderNotification:
    """Send the confirmation email again because staff asked, whatever was sent before,
    and record the resend with who asked."""
    with transaction.atomic():
        notification = OrderNotification.objects.create(
            order_id=order_id,
            kind=Kind.CONFIRMATION,
            is_resend=True,
            requested_by_id=requested_by_id,
        )
        order_confirmation_send(order_id=order_id)
    return notification
