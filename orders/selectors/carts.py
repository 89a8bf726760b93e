"""Cart reads: the cart page (and checkout) view of a cart, its item count, and the product
behind an ASIN in a cart form.

Prices are computed exactly like the catalog pages: ``catalog.pricing.shelf_price_krw`` at
the current selling rate (``catalog.selectors.fx_rate_current``). A cart view costs the same
number of queries however many lines it has: the lines with their products, categories and
customs classes in one, the domestic stock of all of them in another, and the FX rate
(cached).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import Sum

from catalog import pricing
from catalog import selectors as catalog_selectors
from catalog.models import Product
from fulfillment import selectors as stock_selectors

from ..models import Cart, CartLine


@dataclass(frozen=True)
class CartLineView:
    """One line as the shopper sees it. A line whose product is no longer sold
    (``available`` false) stays in the cart, flagged, and is left out of the subtotal and
    of checkout. ``domestic_quantity`` units can ship from Korea now, the rest cross-border
    (the promise is the product page's: domestic when anything is in stock here)."""

    line_id: int
    product: Product
    quantity: int
    unit_price_krw: int
    line_total_krw: int
    available: bool
    domestic_available: int
    promise: stock_selectors.DeliveryPromise

    @property
    def domestic_quantity(self) -> int:
        return min(self.quantity, self.domestic_available) if self.available else 0

    @property
    def cross_border_quantity(self) -> int:
        return self.quantity - self.domestic_quantity if self.available else 0


@dataclass(frozen=True)
class CartView:
    """A cart with its lines, subtotal (in won, available lines only) and item count (units
    of every line). ``checkout_lines`` are what checkout may order; while
    ``has_unavailable`` the shopper is asked to remove the flagged lines first."""

    cart: Cart | None
    lines: tuple[CartLineView, ...]
    subtotal_krw: int
    count: int
    fx_rate: Decimal

    @property
    def checkout_lines(self) -> tuple[CartLineView, ...]:
        return tuple(line for line in self.lines if line.available)

    @property
    def has_unavailable(self) -> bool:
        return any(not line.available for line in self.lines)

    @property
    def is_empty(self) -> bool:
        return not self.lines

    @property
    def can_checkout(self) -> bool:
        return bool(self.lines) and not self.has_unavailable


def cart_view(*, cart: Cart | None) -> CartView:
    """The cart page's view of ``cart`` (``None`` reads as an empty cart), lines in the order
    they were added. Three queries at most, whatever the number of lines."""
    fx_rate = catalog_selectors.fx_rate_current().rate
    if cart is None:
        return CartView(cart=None, lines=(), subtotal_krw=0, count=0, fx_rate=fx_rate)
    lines = list(
        CartLine.objects.filter(cart=cart)
        .select_related("product__category", "product__customs_class")
        .order_by("added_at", "id")
    )
    domestic = (
        stock_selectors.domestic_available_for_products(
            product_ids=[line.product_id for line in lines]
        )
        if lines
        else {}
    )
    views = []
    for line in lines:
        product = line.product
        unit_price = pricing.shelf_price_krw(
            source_price_usd=product.source_price_usd, fx_rate=fx_rate
        )
        available = product.is_active
        domestic_units = domestic.get(product.pk, 0) if available else 0
        views.append(
            CartLineView(
                line_id=line.pk,
                product=product,
                quantity=line.quantity,
                unit_price_krw=unit_price,
                line_total_krw=unit_price * line.quantity,
                available=available,
                domestic_available=domestic_units,
                promise=stock_selectors.delivery_promise(domestic_units=domestic_units),
            )
        )
    return CartView(
        cart=cart,
        lines=tuple(views),
        subtotal_krw=sum(line.line_total_krw for line in views if line.available),
        count=sum(line.quantity for line in views),
        fx_rate=fx_rate,
    )


def cart_item_count(*, cart: Cart | None) -> int:
    """Units in the cart, every line counted (the header's number)."""
    if cart is None:
        return 0
    return CartLine.objects.filter(cart=cart).aggregate(units=Sum("quantity"))["units"] or 0


def cart_product_id_for_asin(*, asin: str) -> int | None:
    """The id of the product with this ASIN, sold or not (a cart form names products by
    ASIN; whether it may be added is the service's decision), or ``None``."""
    asin = (asin or "").strip().upper()
    if not asin or len(asin) != 10:
        return None
    return Product.objects.filter(asin=asin).values_list("pk", flat=True).first()
