"""Prices in won and the landed cost of a cross-border order (DOMAIN.md, Prices and Customs).

Pure functions over plain values: no database access, so checkout, the partner API and the
product page all price exactly alike. Amounts in won are ``int``; USD and rates are ``Decimal``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

from django.conf import settings
from django.utils.translation import gettext as _

CENT = Decimal("0.01")
KRW_SHELF_ROUNDING = 10  # shelf prices are rounded up to the next ₩10
VAT_RATE = Decimal("0.10")


def _whole_won(amount: Decimal) -> int:
    """Round a won amount to a whole won (half up)."""
    return int(amount.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def shelf_price_krw(
    *, source_price_usd: Decimal, fx_rate: Decimal, margin: Decimal | None = None
) -> int:
    """The VAT-inclusive display price in won: ``ceil(usd × fx × (1 + margin) / 10) × 10``."""
    if margin is None:
        margin = settings.PRICE_MARGIN
    raw = Decimal(source_price_usd) * Decimal(fx_rate) * (1 + Decimal(margin))
    tens = (raw / KRW_SHELF_ROUNDING).to_integral_value(rounding=ROUND_CEILING)
    return int(tens) * KRW_SHELF_ROUNDING


def usd_range_for_krw_range(
    *,
    min_krw: int | None,
    max_krw: int | None,
    fx_rate: Decimal,
    margin: Decimal | None = None,
) -> tuple[Decimal | None, Decimal | None]:
    """The USD source prices (in cents) whose shelf price lies within [min_krw, max_krw].

    Lets a won price filter run as an indexed range on ``source_price_usd``. Exact: the
    bounds are checked against ``shelf_price_krw`` itself, so rounding never lets a
    product in or out wrongly. Returns ``(lowest, highest)``, either may be ``None``.
    """
    if margin is None:
        margin = settings.PRICE_MARGIN
    factor = Decimal(fx_rate) * (1 + Decimal(margin))

    def price(usd: Decimal) -> int:
        return shelf_price_krw(source_price_usd=usd, fx_rate=fx_rate, margin=margin)

    low = high = None
    if min_krw is not None:
        low = max((Decimal(min_krw) / factor).quantize(CENT), CENT)
        while low > CENT and price(low - CENT) >= min_krw:
            low -= CENT
        while price(low) < min_krw:
            low += CENT
    if max_krw is not None:
        high = (Decimal(max_krw) / factor).quantize(CENT)
        while price(high + CENT) <= max_krw:
            high += CENT
        while high > 0 and price(high) > max_krw:
            high -= CENT
    return low, high


def cross_border_freight_krw(*, weight_kg: Decimal) -> int:
    """International freight by total weight (seed: ₩6,000 up to 1 kg, + ₩2,000 per extra
    started 0.5 kg). It is both the shopper's fee under the free-shipping threshold and the
    freight that enters the customs value."""
    base = settings.CROSS_BORDER_SHIPPING_BASE_KRW
    weight = max(Decimal(weight_kg), Decimal(0))
    extra = weight - settings.CROSS_BORDER_SHIPPING_BASE_KG
    if extra <= 0:
        return base
    steps = (extra / settings.CROSS_BORDER_SHIPPING_STEP_KG).to_integral_value(
        rounding=ROUND_CEILING
    )
    return base + int(steps) * settings.CROSS_BORDER_SHIPPING_STEP_KRW


@dataclass(frozen=True)
class CustomsLine:
    """One cross-border line as customs sees it: its goods value (unit price × quantity,
    no freight) and its customs class's rules."""

    reference: str
    goods_value_usd: Decimal
    duty_rate: Decimal
    vat_applies: bool = True
    list_clearance: bool = True
    description: str = ""


@dataclass(frozen=True)
class CustomsLineAssessment:
    reference: str
    customs_value_krw: int
    duty_krw: int
    vat_krw: int


@dataclass(frozen=True)
class CustomsAssessment:
    """The duty-free decision for one order's cross-border part and, over the limit, the
    duty and VAT estimate (collected as a deposit)."""

    goods_value_usd: Decimal
    duty_free_limit_usd: Decimal
    duty_free: bool
    explanation: str
    freight_krw: int = 0
    customs_rate: Decimal | None = None
    customs_value_krw: int = 0
    duty_krw: int = 0
    vat_krw: int = 0
    lines: tuple[CustomsLineAssessment, ...] = field(default_factory=tuple)

    @property
    def import_fees_krw(self) -> int:
        return self.duty_krw + self.vat_krw


def duty_free_limit_usd(lines: Sequence[CustomsLine]) -> Decimal:
    """USD 200 when every item ships from the US and may be list-cleared, else USD 150."""
    if lines and all(line.list_clearance for line in lines):
        return Decimal(settings.CUSTOMS_LIST_CLEARANCE_LIMIT_USD)
    return Decimal(settings.CUSTOMS_DUTY_FREE_LIMIT_USD)


def customs_assess(
    *, lines: Sequence[CustomsLine], freight_krw: int, customs_rate: Decimal
) -> CustomsAssessment:
    """Assess an order's cross-border lines together (one order, one supplier, one day).

    At or under the limit nothing is due. One cent over and the whole value is taxed:
    customs value = goods + international freight (CIF, in won at the customs rate), freight
    shared across lines by value; duty = customs value × the line's rate; VAT = (customs
    value + duty) × 10% where VAT applies. Each amount is rounded to whole won per line.
    """
    goods_usd = sum((Decimal(line.goods_value_usd) for line in lines), Decimal(0))
    limit = duty_free_limit_usd(lines)
    if not lines:
        return CustomsAssessment(
            goods_value_usd=goods_usd,
            duty_free_limit_usd=limit,
            duty_free=True,
            explanation=_("Nothing ships across the border, so no import fees apply."),
        )
    not_listed = [line for line in lines if not line.list_clearance]
    if goods_usd <= limit:
        explanation = _(
            "Goods value USD %(value)s is within the USD %(limit)s duty-free limit: no duty or VAT."
        ) % {"value": f"{goods_usd:,.2f}", "limit": f"{limit:,.2f}"}
        return CustomsAssessment(
            goods_value_usd=goods_usd,
            duty_free_limit_usd=limit,
            duty_free=True,
            explanation=explanation,
        )

    explanation = _(
        "Goods value USD %(value)s is over the USD %(limit)s duty-free limit, so duty and "
        "VAT apply to the whole value plus international freight."
    ) % {"value": f"{goods_usd:,.2f}", "limit": f"{limit:,.2f}"}
    if not_listed:
        explanation += " " + _(
            "The limit is USD %(limit)s because some items cannot be list-cleared: %(items)s."
        ) % {
            "limit": f"{limit:,.2f}",
            "items": ", ".join(line.description or line.reference for line in not_listed),
        }

    rate = Decimal(customs_rate)
    assessed: list[CustomsLineAssessment] = []
    # Freight is shared by value on running totals: every share is within one won of its
    # exact pro-rata part, none is negative, and the shares add up to the freight exactly.
    value_so_far = Decimal(0)
    freight_so_far = 0
    for line in lines:
        value_so_far += Decimal(line.goods_value_usd)
        freight_through_line = _whole_won(Decimal(freight_krw) * value_so_far / goods_usd)
        freight_share = freight_through_line - freight_so_far
        freight_so_far = freight_through_line
        customs_value = _whole_won(Decimal(line.goods_value_usd) * rate + freight_share)
        duty = _whole_won(customs_value * Decimal(line.duty_rate))
        vat = _whole_won((customs_value + duty) * VAT_RATE) if line.vat_applies else 0
        assessed.append(CustomsLineAssessment(line.reference, customs_value, duty, vat))

    return CustomsAssessment(
        goods_value_usd=goods_usd,
        duty_free_limit_usd=limit,
        duty_free=False,
        explanation=explanation,
        freight_krw=int(freight_krw),
        customs_rate=rate,
        customs_value_krw=sum(a.customs_value_krw for a in assessed),
        duty_krw=sum(a.duty_krw for a in assessed),
        vat_krw=sum(a.vat_krw for a in assessed),
        lines=tuple(assessed),
    )
