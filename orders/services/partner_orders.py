"""Orders placed by partners through the API (docs/api.md), charged to the partner's account.

A partner order is an ordinary order: the lines go through a temporary cart (so the
personal-use customs limits of ``services.carts`` apply exactly as for a shopper), the
storefront's own placement code prices, reserves and freezes it
(``checkout.order_place_verified``), and it becomes ``paid`` through
``lifecycle.order_transition``, so ``order.paid`` reaches the outbox and fulfillment
allocates it like any other order.

Credit: the partner row is locked (``select_for_update``) for the whole placement
transaction, so two orders of one partner are placed one after the other and the credit
check sees every earlier one. The check runs after the order is priced on the server (the
reserved split decides shipping, duty and VAT) and before commit: a refusal raises
``CreditLimitExceeded`` and rolls the whole transaction back: no order, reservation,
payment, status change or event survives. The PCCC is verified with customs before the
transaction, so a slow customs service never holds the partner lock.

Quotes use ``checkout.checkout_quote`` on a temporary cart that is rolled back: the same
code as the storefront's checkout, by construction.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from django.db import transaction
from django.db.models import F, Sum
from django.utils.translation import gettext as _

from catalog.models import Product
from storefront.errors import ApplicationError
from storefront.models import Partner

from ..customs_client import CustomsCheckUnavailable
from ..lifecycle import order_transition
from ..models import Cart, Order, OrderStatusChange, Payment
from ..quote import Quote, QuoteRequestLine
from . import checkout
from .carts import cart_add
from .payments import PARTNER_ACCOUNT, OrderNotCancellable, order_cancel

Actor = OrderStatusChange.ActorType
T = TypeVar("T")

# Orders whose charge still counts against the partner's credit: everything not yet
# delivered, cancelled or fully refunded (captured minus refunded). There is no invoicing
# or settlement yet, so delivery is what closes an order's exposure.
OPEN_STATUSES = (
    Order.Status.PENDING_PAYMENT,
    Order.Status.PAID,
    Order.Status.PROCESSING,
    Order.Status.SHIPPED,
    Order.Status.PARTIALLY_REFUNDED,
)

# Checkout's field names → the API's (customs reasons, consents, the address).
API_FIELD = {
    "recipient_name": "recipient.name",
    "phone": "recipient.phone",
    "postal_code": "recipient.postal_code",
    "road_address": "recipient.road_address",
    "detail_address": "recipient.detail_address",
    "consent_collection": "customs_consent",
    "consent_transfer": "customs_consent",
    "pccc": "pccc",
}


class PartnerLinesInvalid(ApplicationError):
    """A line names an unknown or inactive product, repeats one, or breaks a limit."""

    code = "invalid"


class CreditLimitExceeded(ApplicationError):
    """The order would take the partner's open orders over its credit limit."""

    code = "credit_limit_exceeded"
    http_status = 402


class PartnerReferenceUsed(ApplicationError):
    code = "reference_already_used"
    http_status = 409


class PartnerOrderNotFound(ApplicationError):
    """No order with this number belongs to the partner (another partner's order and a
    shopper's order look exactly like one that does not exist)."""

    code = "not_found"
    http_status = 404


class PartnerOrderNotCancellable(ApplicationError):
    code = "order_not_cancellable"
    http_status = 409


class PartnerCustomsUnavailable(ApplicationError):
    code = "customs_check_unavailable"
    http_status = 503


@dataclass(frozen=True)
class PartnerOrderLine:
    asin: str
    quantity: int


def partner_lines_resolve(*, lines: Sequence[PartnerOrderLine]) -> list[QuoteRequestLine]:
    """The lines as products (customs class loaded), in the given order. Raises
    ``PartnerLinesInvalid`` naming every bad line (``lines[i].asin``): unknown ASIN,
    product no longer sold, ASIN listed twice; or ``lines`` when there are none."""
    if not lines:
        message = _("Add at least one line.")
        raise PartnerLinesInvalid(message, fields={"lines": message})
    asins = [line.asin.strip().upper() for line in lines]
    products = {
        product.asin: product
        for product in Product.objects.select_related("customs_class").filter(asin__in=asins)
    }
    fields: dict[str, str] = {}
    seen: set[str] = set()
    for index, asin in enumerate(asins):
        product = products.get(asin)
        if product is None:
            fields[f"lines[{index}].asin"] = _("No product has this ASIN.")
        elif not product.is_active:
            fields[f"lines[{index}].asin"] = _("This product is no longer sold.")
        elif asin in seen:
            fields[f"lines[{index}].asin"] = _("List each ASIN once; add up the quantities.")
        seen.add(asin)
    if fields:
        raise PartnerLinesInvalid(_("Some lines cannot be ordered; see “fields”."), fields=fields)
    return [
        QuoteRequestLine(product=products[asin], quantity=line.quantity)
        for asin, line in zip(asins, lines, strict=True)
    ]


def _cart_fill(*, partner_id: int, lines: list[QuoteRequestLine]) -> Cart:
    """A new temporary cart holding ``lines``, added through ``cart_add`` (the shopper's
    limits). Call inside a transaction that deletes or rolls back the cart. Raises
    ``PartnerLinesInvalid`` naming every line a limit refuses (``lines[i].quantity``)."""
    cart = Cart.objects.create(session_key=f"partner-{partner_id}-{uuid.uuid4().hex[:24]}")
    fields: dict[str, str] = {}
    for index, line in enumerate(lines):
        try:
            cart_add(cart=cart, product_id=line.product.pk, quantity=line.quantity)
        except ApplicationError as exc:
            fields[f"lines[{index}].quantity"] = str(exc.fields.get("quantity") or exc.message)
    if fields:
        raise PartnerLinesInvalid(
            _("Some lines exceed what one order may hold; see “fields”."), fields=fields
        )
    return cart


def _in_rolled_back_cart(
    *, partner_id: int, lines: list[QuoteRequestLine], use: Callable[[Cart], T]
) -> T:
    with transaction.atomic():
        cart = _cart_fill(partner_id=partner_id, lines=lines)
        result = use(cart)
        transaction.set_rollback(True)
    return result


def partner_quote(*, partner_id: int, lines: Sequence[PartnerOrderLine]) -> Quote:
    """The landed-cost quote of ``lines`` exactly as the storefront's checkout quotes a
    cart holding them (``checkout.checkout_quote``: split by the domestic stock available
    now, nothing reserved). Writes nothing (the cart it uses is rolled back). Raises
    ``PartnerLinesInvalid`` like ``partner_order_place``."""
    request_lines = partner_lines_resolve(lines=lines)
    return _in_rolled_back_cart(
        partner_id=partner_id,
        lines=request_lines,
        use=lambda cart: checkout.checkout_quote(cart_id=cart.pk),
    )


def partner_credit_used(*, partner_id: int) -> int:
    """Won charged to the partner's account by its open orders (``OPEN_STATUSES``),
    minus what was refunded to it."""
    totals = Payment.objects.filter(
        order__partner_id=partner_id,
        order__status__in=OPEN_STATUSES,
        provider=PARTNER_ACCOUNT,
        status=Payment.Status.SUCCEEDED,
    ).aggregate(open=Sum(F("captured_krw") - F("refunded_krw")))
    return int(totals["open"] or 0)


def _api_fields(exc: ApplicationError) -> ApplicationError:
    """``exc`` with checkout's field names renamed to the API's."""
    exc.fields = {API_FIELD.get(name, name): message for name, message in exc.fields.items()}
    return exc


def _payment_key(*, order: Order, idempotency_key: str) -> str:
    digest = (
        hashlib.sha256(idempotency_key.encode()).hexdigest()[:16]
        if idempotency_key
        else uuid.uuid4().hex[:16]
    )
    return f"pa-{order.number}-{digest}"


def partner_order_place(
    *,
    partner_id: int,
    email: str,
    lines: Sequence[PartnerOrderLine],
    address: checkout.ShippingAddress,
    pccc: str = "",
    customs_consent: bool = False,
    reference: str = "",
    idempotency_key: str = "",
) -> Order:
    """Place an order for the partner's customer and charge it to the partner's account:
    the order returned is ``paid``, with a succeeded ``partner_account`` payment of its
    total, ``partner`` and ``partner_reference`` set, ``order.placed`` and ``order.paid``
    in the outbox.

    Everything is priced on the server (the caller's prices are never read). When any unit
    ships cross-border the PCCC is verified with customs for the recipient and
    ``customs_consent`` must be true. Refusals change nothing: ``PartnerLinesInvalid``,
    ``PcccRequired`` / ``PcccRejected`` / ``PcccInvalid`` (fields named as in the API),
    ``PartnerCustomsUnavailable`` (503), ``PartnerReferenceUsed`` (409) and
    ``CreditLimitExceeded`` (402) when the partner's open orders plus this total would
    exceed its credit limit."""
    request_lines = partner_lines_resolve(lines=lines)
    customs = None
    if pccc or customs_consent:
        customs = checkout.CustomsDeclaration(
            pccc=pccc, consent_collection=customs_consent, consent_transfer=customs_consent
        )
    try:
        verified_pccc = checkout.order_pccc_verify(
            customer_id=None, address=address, customs=customs, request_lines=request_lines
        )
    except CustomsCheckUnavailable as exc:
        raise PartnerCustomsUnavailable(exc.message) from exc
    except ApplicationError as exc:
        raise _api_fields(exc) from None

    with transaction.atomic():
        partner = Partner.objects.select_for_update().get(pk=partner_id)
        if (
            reference
            and Order.objects.filter(partner_id=partner.pk, partner_reference=reference).exists()
        ):
            message = _("You already placed an order with this reference.")
            raise PartnerReferenceUsed(message, fields={"reference": message})
        cart = _cart_fill(partner_id=partner.pk, lines=request_lines)
        try:
            order = checkout.order_place_verified(
                email=email,
                cart_id=cart.pk,
                address=address,
                verified_pccc=verified_pccc,
                actor_type=Actor.PARTNER,
            )
        except ApplicationError as exc:
            raise _api_fields(exc) from None
        cart.delete()

        used = partner_credit_used(partner_id=partner.pk)
        if used + order.total_krw > partner.credit_limit_krw:
            raise CreditLimitExceeded(
                _(
                    "This order (₩%(total)s) would exceed your credit limit: ₩%(used)s of "
                    "₩%(limit)s is in open orders."
                )
                % {
                    "total": f"{order.total_krw:,}",
                    "used": f"{used:,}",
                    "limit": f"{partner.credit_limit_krw:,}",
                }
            )  # the transaction rolls back: the order, its reservation, payment and events

        order.partner = partner
        order.partner_reference = reference
        order.save(update_fields=["partner", "partner_reference", "updated_at"])
        payment = Payment.objects.select_for_update().get(order=order)
        payment.provider = PARTNER_ACCOUNT
        payment.idempotency_key = _payment_key(order=order, idempotency_key=idempotency_key)
        payment.status = Payment.Status.SUCCEEDED
        payment.captured_krw = payment.amount_krw
        payment.save(
            update_fields=["provider", "idempotency_key", "status", "captured_krw", "updated_at"]
        )
        order_transition(
            order=order,
            to_status=Order.Status.PAID,
            actor_type=Actor.PARTNER,
            reason=f"charged to the account of partner {partner.pk}",
        )
    return order


def partner_order_get(*, partner_id: int, number: str) -> Order:
    """The partner's own order with this number; ``PartnerOrderNotFound`` otherwise."""
    order = Order.objects.filter(partner_id=partner_id, number=number).first()
    if order is None:
        raise PartnerOrderNotFound(_("No order with this number."))
    return order


def partner_order_cancel(*, partner_id: int, number: str) -> Order:
    """Cancel the partner's order before anything ships (``payments.order_cancel``): the
    stock is released and the charge refunded to the partner's account at once;
    ``order.cancelled`` and ``order.refunded`` go to the outbox. Raises
    ``PartnerOrderNotFound`` (404) for an order that is not the partner's and
    ``PartnerOrderNotCancellable`` (409) once something has shipped."""
    order = partner_order_get(partner_id=partner_id, number=number)
    try:
        return order_cancel(
            order_id=order.pk,
            actor_type=Actor.PARTNER,
            actor_id=None,
            reason=f"cancelled by partner {partner_id}",
        )
    except OrderNotCancellable as exc:
        raise PartnerOrderNotCancellable(exc.message) from exc
