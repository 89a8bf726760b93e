"""Checkout: quote a cart and place the order.

``order_place`` is the one way an order comes to exist. It verifies the PCCC with customs
(outside the transaction: a slow customs service never holds row locks), then in one
transaction creates the order, reserves domestic stock (``fulfillment``), prices the
reserved split again on the server, freezes prices, rates, the customs decision, the address
and the encrypted PCCC, records the first status and publishes ``order.placed``. The Stripe
PaymentIntent is created right after commit by ``payments.payment_intent_ensure``, with an
idempotency key stored with the order.
"""

from __future__ import annotations

import datetime
import functools
import logging
import secrets
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from fulfillment.selectors import domestic_available_subquery, stock_split_preview
from fulfillment.services.reservations import ReservationRequest, stock_reserve
from membership.models import PointHold
from membership.services.holds import points_hold, points_hold_abandon, points_hold_attach
from storefront.errors import ApplicationError
from storefront.events import event_publish
from storefront.prepared import PreparedQuery

from .. import customs_client, pccc
from ..lifecycle import order_event_payload
from ..models import Cart, CartLine, CustomsProfile, Order, OrderLine, OrderStatusChange, Payment
from ..quote import Quote, QuoteRequestLine, quote_build

logger = logging.getLogger(__name__)

NUMBER_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read out over the phone


class CheckoutRefused(ApplicationError):
    code = "checkout_refused"


class QuoteChanged(ApplicationError):
    """The server's total differs from the one the shopper confirmed: show the new quote."""

    code = "quote_changed"


class PcccRequired(ApplicationError):
    code = "pccc_required"


class PcccRejected(ApplicationError):
    code = "pccc_rejected"


@dataclass(frozen=True)
class ShippingAddress:
    """Where the order goes, already normalised (phone in E.164, 5-digit postal code)."""

    recipient_name: str
    phone: str
    postal_code: str
    road_address: str
    detail_address: str = ""
    english_name: str = ""


@dataclass(frozen=True)
class CustomsDeclaration:
    """The shopper's PCCC and the consents DOMAIN.md requires before it may be used.

    ``pccc`` empty with ``use_saved`` means: use the customer's saved (verified) PCCC."""

    pccc: str
    consent_collection: bool
    consent_transfer: bool
    use_saved: bool = False


# What checkout reads of a cart line's product (``quote_build`` and the availability
# check), and its whole customs class: the rest of the row (description, bullet points,
# images, the search document) is never used here and costs time to load.
CART_LINE_FIELDS = (
    "cart_id",
    "product_id",
    "quantity",
    "product__asin",
    "product__title",
    "product__source_price_usd",
    "product__weight_kg",
    "product__is_active",
    "product__customs_class",
)


@functools.cache
def _cart_lines_query(*, with_available: bool) -> QuerySet[CartLine]:
    """The cart lines query without its cart, built once per process: resolving the
    availability subquery costs more Python than running the query, and only the cart id
    changes between calls. Never evaluated itself (each call filters a copy)."""
    lines = (
        CartLine.objects.select_related("product__customs_class")
        .only(*CART_LINE_FIELDS)
        .order_by("product_id")
    )
    if with_available:
        lines = lines.annotate(domestic_available=domestic_available_subquery("product_id"))
    return lines


# The cart lines query compiled once per process (``storefront.prepared``): compiling it cost
# ~0.6 ms of Python per call, and checkout reads the cart twice per order.
_CART_LINES = {
    with_available: PreparedQuery(
        lambda cart_id, with_available=with_available: _cart_lines_query(
            with_available=with_available
        ).filter(cart_id=cart_id),
        "cart_id",
    )
    for with_available in (False, True)
}


# The cart row locked (``_order_place_held``), compiled once per process as well.
_CART_FOR_UPDATE = PreparedQuery(
    lambda cart_id: Cart.objects.select_for_update().filter(pk=cart_id).order_by("pk")[:1],
    "cart_id",
)


def _cart_lines_delete(*, cart_id: int) -> list[tuple[int, int]]:
    """Delete the cart's lines (one statement) and return what they held, as sorted
    (product id, quantity) pairs."""
    table = connection.ops.quote_name(CartLine._meta.db_table)
    cart, product, quantity = (
        connection.ops.quote_name(CartLine._meta.get_field(name).column)
        for name in ("cart", "product", "quantity")
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {table} WHERE {cart} = %s RETURNING {product}, {quantity}",  # noqa: S608
            [cart_id],
        )
        return sorted((int(product_id), int(units)) for product_id, units in cursor.fetchall())


def _cart_lines(cart_id: int, *, with_available: bool = False) -> list[CartLine]:
    """The cart's lines with their products (``CART_LINE_FIELDS``); ``with_available`` also
    reads, in the same query, the units each product has free in domestic warehouses now
    (``line.domestic_available``, as ``stock_split_preview`` counts them)."""
    return _CART_LINES[with_available].fetch(cart_id=cart_id)


def checkout_request_lines(*, cart_id: int) -> list[QuoteRequestLine]:
    """The cart as lines to price, with nothing reserved yet. Refuses an empty cart and a
    cart holding products that are no longer sold."""
    return _request_lines(_cart_lines(cart_id))


def _checkout_lines_previewed(
    *, cart_id: int
) -> tuple[list[QuoteRequestLine], dict[int, tuple[int, int]]]:
    """``checkout_request_lines`` and the ``stock_split_preview`` of those lines (product id
    → (domestic units, cross-border units) if reserved now, no locks), in one query. A cart
    holds one line per product, so each line's split is its own."""
    lines = _cart_lines(cart_id, with_available=True)
    request_lines = _request_lines(lines)
    preview = {}
    for line in lines:
        domestic = min(line.domestic_available, line.quantity)
        preview[line.product_id] = (domestic, line.quantity - domestic)
    return request_lines, preview


def _request_lines(lines: list[CartLine]) -> list[QuoteRequestLine]:
    if not lines:
        raise CheckoutRefused(_("Your cart is empty."), code="cart_empty")
    unavailable = [line.product.title[:60] for line in lines if not line.product.is_active]
    if unavailable:
        raise CheckoutRefused(
            _("Some items are no longer available; remove them from your cart to continue: %s")
            % ", ".join(unavailable),
            code="product_unavailable",
        )
    return [QuoteRequestLine(product=line.product, quantity=line.quantity) for line in lines]


def checkout_quote(*, cart_id: int, discount_krw: int = 0) -> Quote:
    """The quote shown before paying: the split is what domestic stock could cover right
    now (nothing is reserved until the order is placed)."""
    lines, split = _checkout_lines_previewed(cart_id=cart_id)
    return quote_build(
        lines=[
            QuoteRequestLine(
                product=line.product,
                quantity=line.quantity,
                domestic_quantity=split.get(line.product.pk, (0, line.quantity))[0],
            )
            for line in lines
        ],
        discount_krw=discount_krw,
    )


def _new_order_number(now: datetime.datetime) -> str:
    day = timezone.localtime(now).strftime("%y%m%d")
    suffix = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))
    return f"GS{day}-{suffix}"


def _verified_pccc(
    *, customer_id: int | None, address: ShippingAddress, customs: CustomsDeclaration | None
) -> str:
    """The PCCC to freeze into the order, normalised and confirmed by the customs check
    service for this recipient. Raises with the reason on the field that failed."""
    if customs is None:
        raise PcccRequired(
            _("Part of your order ships from the US: enter your PCCC to clear customs."),
            fields={"pccc": _("Required for items shipped from the US.")},
        )
    missing = {}
    if not customs.pccc and not customs.use_saved:
        missing["pccc"] = _("Enter the recipient's PCCC (P followed by 12 digits).")
    if not customs.consent_collection:
        missing["consent_collection"] = _("Required to clear customs.")
    if not customs.consent_transfer:
        missing["consent_transfer"] = _("Required to clear customs.")
    if missing:
        raise PcccRequired(
            _("Part of your order ships from the US: enter the PCCC and agree to its use."),
            fields=missing,
        )
    if customs.use_saved and not customs.pccc:
        profile = CustomsProfile.objects.filter(customer_id=customer_id).first()
        if profile is None:
            raise PcccRequired(_("Enter your PCCC."), fields={"pccc": _("Enter your PCCC.")})
        value = pccc.pccc_decrypt(profile.pccc_encrypted)
    else:
        value = pccc.pccc_normalize(customs.pccc)
    verification = customs_client.pccc_verify(
        pccc=value,
        name=address.recipient_name,
        phone_e164=address.phone,
        postal_code=address.postal_code,
        address=address.road_address,
    )
    if not verification.valid:
        raise PcccRejected(
            _(
                "Customs could not confirm this PCCC for the recipient. "
                "Check the highlighted fields."
            ),
            fields=dict(verification.reasons),
        )
    return value


def order_place(
    *,
    customer_id: int | None,
    email: str,
    cart_id: int,
    address: ShippingAddress,
    customs: CustomsDeclaration | None,
    expected_total_krw: int | None = None,
    use_points: bool = False,
    expected_discount_krw: int | None = None,
) -> Order:
    """Place the cart as an order in ``pending_payment``.

    Guarantees: the total is computed here from the catalog, current rates and the stock
    actually reserved; if it differs from ``expected_total_krw`` (what the shopper saw)
    nothing is placed and ``QuoteChanged`` is raised. When any unit ships cross-border the
    PCCC was verified with customs and the consents given; otherwise nothing is placed.
    Stock reservations expire with the order's payment window. The cart is emptied.

    With ``use_points`` the shopper's carrier points pay ``expected_discount_krw`` of the
    merchandise: they are held at the carrier first (``membership.points_hold``, which
    recomputes the discount and raises ``PointsChanged``, ``PointsNotAvailable`` or
    ``PointsCarrierUnavailable``; the shopper may then order without points) and the hold is
    tied to the order in its transaction. If placement fails after the hold, the points are
    given back before this raises (or by the membership sweep if the carrier is down)."""
    request_lines, preview = _checkout_lines_previewed(cart_id=cart_id)
    verified_pccc = _pccc_for_lines(
        customer_id=customer_id,
        address=address,
        customs=customs,
        request_lines=request_lines,
        preview=preview,
    )

    now = timezone.now()
    due = now + datetime.timedelta(minutes=settings.ORDER_PAYMENT_WINDOW_MINUTES)
    number = _new_order_number(now)
    hold = None
    if use_points and customer_id is not None:
        preview_quote = quote_build(
            lines=[
                QuoteRequestLine(
                    product=line.product,
                    quantity=line.quantity,
                    domestic_quantity=preview.get(line.product.pk, (0, line.quantity))[0],
                )
                for line in request_lines
            ]
        )
        hold = points_hold(
            customer_id=customer_id,
            merchandise_krw=preview_quote.items_krw,
            expected_points=expected_discount_krw,
            reference=number,
            # The carrier keeps the points past the payment window: never gone before the
            # order is paid or expired.
            expires_at=due + datetime.timedelta(minutes=settings.POINTS_HOLD_GRACE_MINUTES),
        )
    try:
        order = _order_place_held(
            customer_id=customer_id,
            email=email,
            cart_id=cart_id,
            address=address,
            request_lines=request_lines,
            preview=preview,
            verified_pccc=verified_pccc,
            expected_total_krw=expected_total_krw,
            hold=hold,
            number=number,
            now=now,
            due=due,
        )
    except BaseException:
        if hold is not None:
            points_hold_abandon(hold_id=hold.pk, reason="order not placed")
        raise
    logger.info(
        "order %s placed: total %s KRW, cross-border %s, points %s",
        order.number,
        order.total_krw,
        order.has_cross_border,
        order.discount_krw,
    )
    return order


def _pccc_for_lines(
    *,
    customer_id: int | None,
    address: ShippingAddress,
    customs: CustomsDeclaration | None,
    request_lines: list[QuoteRequestLine],
    preview: dict[int, tuple[int, int]],
) -> str:
    needs_customs = any(
        preview.get(line.product.pk, (0, line.quantity))[1] > 0 for line in request_lines
    )
    # A declaration the shopper gave is verified even when the preview says everything ships
    # from Korea: if another shopper takes the last units first, the order still goes through.
    declared = customs is not None and bool(customs.pccc or customs.use_saved)
    return (
        _verified_pccc(customer_id=customer_id, address=address, customs=customs)
        if needs_customs or declared
        else ""
    )


def order_pccc_verify(
    *,
    customer_id: int | None,
    address: ShippingAddress,
    customs: CustomsDeclaration | None,
    request_lines: list[QuoteRequestLine],
) -> str:
    """The first step of ``order_place`` on its own, for callers that place in a
    transaction of their own (the partner API): the PCCC to freeze, verified with customs
    for this recipient when any unit would ship cross-border now or a PCCC was declared;
    ``""`` when none is needed. Raises like ``order_place`` (``PcccRequired``,
    ``PcccRejected``, ``PcccInvalid``, ``CustomsCheckUnavailable``). Call it outside any
    transaction: the customs call must never hold row locks."""
    preview = stock_split_preview(
        lines=[
            ReservationRequest(product_id=line.product.pk, quantity=line.quantity)
            for line in request_lines
        ]
    )
    return _pccc_for_lines(
        customer_id=customer_id,
        address=address,
        customs=customs,
        request_lines=request_lines,
        preview=preview,
    )


def order_place_verified(
    *,
    email: str,
    cart_id: int,
    address: ShippingAddress,
    verified_pccc: str,
    actor_type: str,
    customer_id: int | None = None,
) -> Order:
    """The placement transaction of ``order_place`` for a PCCC already verified by
    ``order_pccc_verify`` (no points, no expected total): the same guarantees (stock
    reserved, the reserved split priced on the server and frozen, ``PcccRequired`` when
    units now ship cross-border without a PCCC, a payment row, the first status change by
    ``actor_type`` and ``order.placed``, the cart emptied). Runs inside the caller's
    transaction when there is one, so the caller can still refuse and roll it all back."""
    request_lines, preview = _checkout_lines_previewed(cart_id=cart_id)
    now = timezone.now()
    due = now + datetime.timedelta(minutes=settings.ORDER_PAYMENT_WINDOW_MINUTES)
    return _order_place_held(
        customer_id=customer_id,
        email=email,
        cart_id=cart_id,
        address=address,
        request_lines=request_lines,
        preview=preview,
        verified_pccc=verified_pccc,
        expected_total_krw=None,
        hold=None,
        number=_new_order_number(now),
        now=now,
        due=due,
        actor_type=actor_type,
    )


def _order_place_held(
    *,
    customer_id: int | None,
    email: str,
    cart_id: int,
    address: ShippingAddress,
    request_lines: list[QuoteRequestLine],
    preview: dict[int, tuple[int, int]],
    verified_pccc: str,
    expected_total_krw: int | None,
    hold: PointHold | None,
    number: str,
    now: datetime.datetime,
    due: datetime.datetime,
    actor_type: str | None = None,
) -> Order:
    """The placement transaction of ``order_place`` (points, if any, already held).

    The quote is built first for the ``preview`` split (what domestic stock covered a
    moment ago), so the order row is inserted priced; when the reservation splits any line
    differently (another shopper took the last units), the lines are priced again for the
    reserved split at the same rates and the row is updated. Either way the order freezes
    the quote of the split actually reserved. (A preview shipping cross-border without a
    PCCC inserts the row unpriced and always prices after the reservation: the row may not
    claim cross-border units without a PCCC, and the reservation may yet hold them.)"""
    discount_krw = hold.points if hold is not None else 0
    quote = quote_build(lines=_split_lines(request_lines, preview), discount_krw=discount_krw)
    priced_ahead = not (quote.has_cross_border and not verified_pccc)
    with transaction.atomic():
        # Serialise two placements of the same cart (double click, two tabs).
        cart = next(iter(_CART_FOR_UPDATE.fetch(cart_id=cart_id)), None)
        # The cart is emptied now, under its lock (a refusal below rolls it back with the
        # rest); nothing to delete means a concurrent placement of this cart came first.
        emptied = _cart_lines_delete(cart_id=cart_id) if cart is not None else []
        if not emptied:
            raise CheckoutRefused(_("Your cart is empty."), code="cart_empty")
        if emptied != sorted((line.product.pk, line.quantity) for line in request_lines):
            # A line added, removed or changed (another tab) since the lines were read:
            # ordering what was read would drop the change with the cart.
            raise QuoteChanged(
                _(
                    "Your cart changed while you were checking out. "
                    "Please review it and place the order again."
                ),
                code="cart_changed",
            )
        order = _order_create(
            customer_id=customer_id,
            email=email,
            address=address,
            due=due,
            now=now,
            number=number,
            quote_fields=(
                _order_quote_fields(quote=quote, verified_pccc=verified_pccc, now=now)
                if priced_ahead
                else ORDER_UNPRICED
            ),
        )
        reservation = stock_reserve(
            order_id=order.pk,
            lines=[
                ReservationRequest(product_id=line.product.pk, quantity=line.quantity)
                for line in request_lines
            ],
            expires_at=due,
            order_is_new=True,
        )
        split = reservation.as_dict()
        reserved_lines = _split_lines(request_lines, split)
        repriced = not priced_ahead or [line.domestic_quantity for line in reserved_lines] != [
            line.domestic_quantity for line in quote.lines
        ]
        if repriced:
            quote = quote_build(
                lines=reserved_lines,
                discount_krw=discount_krw,
                fx_selling_rate=quote.fx_selling_rate,
                fx_customs_rate=quote.fx_customs_rate,
            )
        if hold is not None:
            if quote.items_krw != hold.merchandise_krw or quote.discount_krw != hold.points:
                raise QuoteChanged(
                    _("Prices changed while you were checking out. Please review the total.")
                )
            points_hold_attach(hold_id=hold.pk, order_id=order.pk)
        if quote.has_cross_border and not verified_pccc:
            # Someone took the last domestic units between the preview and now.
            raise PcccRequired(
                _("Some items now ship from the US: enter your PCCC to clear customs."),
                fields={"pccc": _("Required for items shipped from the US.")},
            )
        if repriced:
            for name, value in _order_quote_fields(
                quote=quote, verified_pccc=verified_pccc, now=now
            ).items():
                setattr(order, name, value)
            order.save(update_fields=[*ORDER_QUOTE_FIELDS, "updated_at"])
        if expected_total_krw is not None and expected_total_krw != quote.total_krw:
            raise QuoteChanged(
                _(
                    "The total changed from ₩%(old)s to ₩%(new)s. "
                    "Please review it and place the order again."
                )
                % {"old": f"{expected_total_krw:,}", "new": f"{quote.total_krw:,}"}
            )
        _order_lines_create(order=order, quote=quote)
        if verified_pccc and customer_id is not None:
            _customs_profile_save(
                customer_id=customer_id, value=verified_pccc, address=address, now=now
            )
        Payment.objects.create(
            order=order,
            idempotency_key=f"pi-{order.number}-{uuid.uuid4().hex[:12]}",
            amount_krw=order.total_krw,
        )
        OrderStatusChange.objects.create(
            order=order,
            from_status="",
            to_status=Order.Status.PENDING_PAYMENT,
            actor_type=actor_type
            or (
                OrderStatusChange.ActorType.CUSTOMER
                if customer_id
                else OrderStatusChange.ActorType.SYSTEM
            ),
            actor_id=customer_id,
            reason="placed",
        )
        event_publish(
            topic="order.placed",
            aggregate_type="order",
            aggregate_id=order.pk,
            payload=order_event_payload(order),
        )
    return order


def _split_lines(
    request_lines: list[QuoteRequestLine], split: dict[int, tuple[int, int]]
) -> list[QuoteRequestLine]:
    """The request lines with their domestic units from ``split`` (product id → (domestic,
    cross-border)); a product missing from it ships cross-border."""
    return [
        QuoteRequestLine(
            product=line.product,
            quantity=line.quantity,
            domestic_quantity=split.get(line.product.pk, (0, line.quantity))[0],
        )
        for line in request_lines
    ]


def _order_create(
    *,
    customer_id: int | None,
    email: str,
    address: ShippingAddress,
    due: datetime.datetime,
    now: datetime.datetime,
    number: str,
    quote_fields: dict,
) -> Order:
    """The order row with its address and the quote's frozen fields (``quote_fields``), so
    reservations can point at it. Uses ``number``, then a new random number on the (rare)
    collision."""
    for attempt in range(5):
        try:
            with transaction.atomic():
                return Order.objects.create(
                    number=number if attempt == 0 else _new_order_number(now),
                    customer_id=customer_id,
                    email=email,
                    **quote_fields,
                    recipient_name=address.recipient_name,
                    english_name=address.english_name,
                    phone=address.phone,
                    postal_code=address.postal_code,
                    road_address=address.road_address,
                    detail_address=address.detail_address,
                    payment_due_at=due,
                )
        except IntegrityError as exc:
            # Only a taken number is retried (the row's check constraints hold by
            # construction; a violation is a bug to surface, not to retry).
            text = str(exc)
            taken = f"{Order._meta.db_table}_number_key" in text or ".number" in text
            if attempt == 4 or not taken:
                raise
    raise AssertionError("unreachable")


# The order row before it is priced: zero totals (a preview shipping cross-border without
# a PCCC; see ``_order_place_held``).
ORDER_UNPRICED = {
    "items_krw": 0,
    "total_krw": 0,
    "fx_selling_rate": 0,
    "fx_customs_rate": 0,
    "price_margin": 0,
}

# The order columns frozen from the quote (``_order_quote_fields``).
ORDER_QUOTE_FIELDS = (
    "items_krw",
    "domestic_shipping_krw",
    "cross_border_shipping_krw",
    "duty_krw",
    "vat_krw",
    "discount_krw",
    "total_krw",
    "fx_selling_rate",
    "fx_customs_rate",
    "price_margin",
    "customs_goods_value_usd",
    "duty_free_limit_usd",
    "duty_free",
    "customs_explanation",
    "has_cross_border",
    "pccc_encrypted",
    "pccc_last4",
    "customs_consent_at",
)


def _order_quote_fields(*, quote: Quote, verified_pccc: str, now) -> dict:
    """``ORDER_QUOTE_FIELDS`` as ``quote`` sets them (the PCCC, its last digits and the
    consent time only when something ships cross-border; without a verified PCCC such an
    order is refused with ``PcccRequired`` before its transaction commits)."""
    cross_border = quote.has_cross_border
    with_pccc = cross_border and bool(verified_pccc)
    return {
        "items_krw": quote.items_krw,
        "domestic_shipping_krw": quote.domestic_shipping_krw,
        "cross_border_shipping_krw": quote.cross_border_shipping_krw,
        "duty_krw": quote.duty_krw,
        "vat_krw": quote.vat_krw,
        "discount_krw": quote.discount_krw,
        "total_krw": quote.total_krw,
        "fx_selling_rate": quote.fx_selling_rate,
        "fx_customs_rate": quote.fx_customs_rate,
        "price_margin": quote.price_margin,
        "customs_goods_value_usd": quote.customs.goods_value_usd,
        "duty_free_limit_usd": quote.customs.duty_free_limit_usd,
        "duty_free": quote.customs.duty_free,
        "customs_explanation": str(quote.customs.explanation),
        "has_cross_border": cross_border,
        "pccc_encrypted": pccc.pccc_encrypt(verified_pccc) if with_pccc else "",
        "pccc_last4": verified_pccc[-4:] if with_pccc else "",
        "customs_consent_at": now if with_pccc else None,
    }


def _order_lines_create(*, order: Order, quote: Quote) -> None:
    OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product_id=line.product_id,
                asin=line.asin,
                title=line.title,
                quantity=line.quantity,
                domestic_quantity=line.domestic_quantity,
                cross_border_quantity=line.cross_border_quantity,
                unit_price_krw=line.unit_price_krw,
                unit_price_usd=line.unit_price_usd,
                line_total_krw=line.line_total_krw,
                customs_class_code=line.customs_class_code,
                duty_rate=line.duty_rate,
                duty_krw=line.duty_krw,
                vat_krw=line.vat_krw,
                weight_kg=line.weight_kg,
            )
            for line in quote.lines
        ]
    )


def _customs_profile_save(*, customer_id: int, value: str, address: ShippingAddress, now) -> None:
    CustomsProfile.objects.update_or_create(
        customer_id=customer_id,
        defaults={
            "pccc_encrypted": pccc.pccc_encrypt(value),
            "pccc_last4": value[-4:],
            "verified_name": address.recipient_name,
            "verified_phone": address.phone,
            "verified_postal_code": address.postal_code,
            "verified_at": now,
            "consented_at": now,
        },
    )
