"""The landed-cost quote: one honest total in won before paying.

``quote_build`` prices a list of (product, quantity, domestic units) with the current FX
rates: items at shelf price, domestic and cross-border shipping, the customs decision for
the cross-border part (duty and VAT from ``catalog.pricing``), the discount and the total.
The checkout page shows it; ``order_place`` builds it again on the server at placement and
freezes it into the order, so nothing priced by the browser is ever trusted. The partner API
quotes with the same function.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings

from catalog import pricing
from catalog.models import Product
from catalog.selectors import fx_rates_current


@dataclass(frozen=True)
class QuoteRequestLine:
    product: Product  # with customs_class loaded
    quantity: int
    domestic_quantity: int = 0


@dataclass(frozen=True)
class QuoteLine:
    product_id: int
    asin: str
    title: str
    quantity: int
    domestic_quantity: int
    cross_border_quantity: int
    unit_price_krw: int
    unit_price_usd: Decimal
    weight_kg: Decimal
    customs_class_code: str
    duty_rate: Decimal
    vat_applies: bool = True
    list_clearance: bool = True
    duty_krw: int = 0
    vat_krw: int = 0

    @property
    def line_total_krw(self) -> int:
        return self.unit_price_krw * self.quantity


@dataclass(frozen=True)
class Quote:
    lines: tuple[QuoteLine, ...]
    fx_selling_rate: Decimal
    fx_customs_rate: Decimal
    price_margin: Decimal
    items_krw: int
    domestic_items_krw: int
    cross_border_items_krw: int
    domestic_shipping_krw: int
    cross_border_shipping_krw: int
    cross_border_freight_krw: int
    customs: pricing.CustomsAssessment
    discount_krw: int = 0
    notes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def has_domestic(self) -> bool:
        return any(line.domestic_quantity for line in self.lines)

    @property
    def has_cross_border(self) -> bool:
        return any(line.cross_border_quantity for line in self.lines)

    @property
    def shipping_krw(self) -> int:
        return self.domestic_shipping_krw + self.cross_border_shipping_krw

    @property
    def duty_krw(self) -> int:
        return self.customs.duty_krw

    @property
    def vat_krw(self) -> int:
        return self.customs.vat_krw

    @property
    def import_fees_krw(self) -> int:
        return self.customs.import_fees_krw

    @property
    def total_krw(self) -> int:
        return self.items_krw + self.shipping_krw + self.import_fees_krw - self.discount_krw

    @property
    def domestic_lines(self) -> list[QuoteLine]:
        return [line for line in self.lines if line.domestic_quantity]

    @property
    def cross_border_lines(self) -> list[QuoteLine]:
        return [line for line in self.lines if line.cross_border_quantity]


def shipping_fees_krw(
    *, items_krw: int, has_domestic: bool, has_cross_border: bool, cross_border_freight_krw: int
) -> tuple[int, int]:
    """(domestic, cross-border) shipping charged to the shopper. Both are free when the
    order's items reach the free-shipping threshold (seed ₩28,000)."""
    if items_krw >= settings.FREE_SHIPPING_THRESHOLD_KRW:
        return 0, 0
    domestic = settings.DOMESTIC_SHIPPING_KRW if has_domestic else 0
    cross_border = cross_border_freight_krw if has_cross_border else 0
    return domestic, cross_border


def quote_build(
    *,
    lines: Sequence[QuoteRequestLine],
    discount_krw: int = 0,
    fx_selling_rate: Decimal | None = None,
    fx_customs_rate: Decimal | None = None,
) -> Quote:
    """Price ``lines`` (each already split into domestic and cross-border units) at the
    current rates, or at the given ones. Pure apart from reading the current FX rates."""
    if fx_selling_rate is None or fx_customs_rate is None:
        # Both current rates in one cache round trip.
        current_selling, current_customs = fx_rates_current()
        selling = fx_selling_rate if fx_selling_rate is not None else current_selling.rate
        customs_rate = fx_customs_rate if fx_customs_rate is not None else current_customs.rate
    else:
        selling, customs_rate = fx_selling_rate, fx_customs_rate
    margin = Decimal(settings.PRICE_MARGIN)

    priced: list[QuoteLine] = []
    for request_line in lines:
        product = request_line.product
        domestic = max(0, min(request_line.domestic_quantity, request_line.quantity))
        customs_class = product.customs_class
        priced.append(
            QuoteLine(
                product_id=product.pk,
                asin=product.asin,
                title=product.title,
                quantity=request_line.quantity,
                domestic_quantity=domestic,
                cross_border_quantity=request_line.quantity - domestic,
                unit_price_krw=pricing.shelf_price_krw(
                    source_price_usd=product.source_price_usd, fx_rate=selling, margin=margin
                ),
                unit_price_usd=product.source_price_usd,
                weight_kg=product.weight_kg,
                customs_class_code=customs_class.code,
                duty_rate=customs_class.duty_rate,
                vat_applies=customs_class.vat_applies,
                list_clearance=customs_class.list_clearance,
            )
        )

    items = sum(line.line_total_krw for line in priced)
    domestic_items = sum(line.unit_price_krw * line.domestic_quantity for line in priced)
    cross_border = [line for line in priced if line.cross_border_quantity]
    weight = sum((line.weight_kg * line.cross_border_quantity for line in cross_border), Decimal(0))
    freight = pricing.cross_border_freight_krw(weight_kg=weight) if cross_border else 0
    customs = pricing.customs_assess(
        lines=[
            pricing.CustomsLine(
                reference=line.asin,
                goods_value_usd=line.unit_price_usd * line.cross_border_quantity,
                duty_rate=line.duty_rate,
                vat_applies=line.vat_applies,
                list_clearance=line.list_clearance,
                description=line.title[:60],
            )
            for line in cross_border
        ],
        freight_krw=freight,
        customs_rate=customs_rate,
    )
    if not customs.duty_free:
        per_line = {assessed.reference: assessed for assessed in customs.lines}
        priced = [
            _with_fees(line, per_line.get(line.asin)) if line.cross_border_quantity else line
            for line in priced
        ]
    domestic_fee, cross_border_fee = shipping_fees_krw(
        items_krw=items,
        has_domestic=domestic_items > 0,
        has_cross_border=bool(cross_border),
        cross_border_freight_krw=freight,
    )
    return Quote(
        lines=tuple(priced),
        fx_selling_rate=Decimal(selling),
        fx_customs_rate=Decimal(customs_rate),
        price_margin=margin,
        items_krw=items,
        domestic_items_krw=domestic_items,
        cross_border_items_krw=items - domestic_items,
        domestic_shipping_krw=domestic_fee,
        cross_border_shipping_krw=cross_border_fee,
        cross_border_freight_krw=freight,
        customs=customs,
        discount_krw=max(0, min(int(discount_krw), items)),
    )


def _with_fees(line: QuoteLine, assessed: pricing.CustomsLineAssessment | None) -> QuoteLine:
    if assessed is None:
        return line
    return dataclasses.replace(line, duty_krw=assessed.duty_krw, vat_krw=assessed.vat_krw)
