"""Template helpers for shopper pages: won prices and product cards."""

from __future__ import annotations

from decimal import Decimal

from django import template

from catalog import pricing
from catalog.models import Product

register = template.Library()


@register.filter
def won(amount: int | Decimal | None) -> str:
    """A won amount as shoppers read it: ``12300`` → ``₩12,300`` (won have no decimals)."""
    if amount is None or amount == "":
        return ""
    return f"₩{int(amount):,}"


@register.filter
def usd(amount: Decimal | None) -> str:
    """A USD amount as customs notices write it: ``Decimal("150")`` → ``USD 150.00``."""
    if amount is None or amount == "":
        return ""
    return f"USD {Decimal(amount):,.2f}"


@register.filter
def web_url(url: str | None) -> str:
    """The URL if it is http(s), else "": feed data ends up in ``src`` and ``href``
    attributes, where a ``javascript:`` URL would run."""
    if isinstance(url, str) and url.lower().startswith(("https://", "http://")):
        return url
    return ""


@register.filter
def kg(weight: Decimal | None) -> str:
    """A weight without trailing zeros: ``Decimal("0.500")`` → ``0.5``."""
    if weight is None or weight == "":
        return ""
    return f"{Decimal(weight).normalize():f}"


@register.simple_tag
def shelf_price(product: Product, fx_rate: Decimal) -> int:
    """The product's display price in won at ``fx_rate`` (``catalog.pricing``)."""
    return pricing.shelf_price_krw(source_price_usd=product.source_price_usd, fx_rate=fx_rate)


@register.simple_tag
def list_price(product: Product, fx_rate: Decimal) -> int | None:
    """The list price in won when it is higher than the shelf price (shown struck
    through), else ``None``."""
    if not product.list_price_usd or product.list_price_usd <= product.source_price_usd:
        return None
    listed = pricing.shelf_price_krw(source_price_usd=product.list_price_usd, fx_rate=fx_rate)
    price = pricing.shelf_price_krw(source_price_usd=product.source_price_usd, fx_rate=fx_rate)
    return listed if listed > price else None


@register.inclusion_tag("catalog/includes/product_card.html", takes_context=True)
def product_card(context: template.Context, product: Product, heading_level: int = 3) -> dict:
    """One product in a list: image, title, price in won, rating and the fast-delivery
    badge. The FX rate comes from the page (one lookup per page, not per product)."""
    fx_rate = context["fx_rate"]
    return {
        "product": product,
        "price_krw": shelf_price(product, fx_rate),
        "list_price_krw": list_price(product, fx_rate),
        "fast_delivery": getattr(product, "domestic_available", 0) > 0,
        "heading_level": heading_level,
    }
