"""Template helpers for shopper pages: won prices and product cards."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from django import template
from django.conf import settings
from django.core.cache import cache
from django.templatetags.static import static
from django.utils import translation
from django.utils.html import format_html_join
from django.utils.safestring import SafeString

from catalog import pricing
from catalog.cache import page_cache_seconds
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


# Bump when product_card.html changes shape, so cards cached by the old code are not used.
CARD_CACHE_GENERATION = "1"
CARD_TEMPLATE = "catalog/includes/product_card.html"


def _card_key(product: Product, *, fx_rate: Decimal, heading_level: int, placeholder: str) -> str:
    """Everything a card shows, hashed: language, FX rate, margin, heading level, the
    product's ASIN, title, first image, prices, rating, review count and whether it can
    ship from Korea now. A card is only ever reused for exactly the same data."""
    parts = (
        CARD_CACHE_GENERATION,
        translation.get_language() or "",
        str(fx_rate),
        str(settings.PRICE_MARGIN),
        str(heading_level),
        placeholder,
        str(product.pk),
        product.asin,
        product.title,
        product.primary_image_url or "",
        str(product.source_price_usd),
        str(product.list_price_usd),
        str(product.rating),
        str(product.review_count),
        str(getattr(product, "domestic_available", 0) > 0),
    )
    return "catalog:card:" + hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


@register.simple_tag(takes_context=True)
def product_cards(context: template.Context, products, heading_level: int = 3) -> SafeString:
    """``<li>{% product_card %}</li>`` for each product, with each card's HTML cached
    under a key made of everything it shows (``_card_key``): one cache round trip per
    list instead of rendering every card. Off when ``CATALOG_PAGE_CACHE_SECONDS`` is 0."""
    products = list(products)
    seconds = page_cache_seconds()
    fx_rate = context["fx_rate"]
    card = context.template.engine.get_template(CARD_TEMPLATE)
    if seconds <= 0:
        cards = [
            card.render(context.new(product_card(context, p, heading_level))) for p in products
        ]
        return format_html_join("", "<li>{}</li>", ((html,) for html in cards))
    placeholder = static("img/placeholder.svg")
    keys = [
        _card_key(p, fx_rate=fx_rate, heading_level=heading_level, placeholder=placeholder)
        for p in products
    ]
    found = cache.get_many(keys) if keys else {}
    parts, rendered = [], {}
    for product, key in zip(products, keys, strict=True):
        html = found.get(key)
        if html is None:
            html = card.render(context.new(product_card(context, product, heading_level)))
            rendered[key] = html
        parts.append(html)
    if rendered:
        cache.set_many(rendered, seconds)
    # Rendered by the (autoescaping) card template, here or when it was cached: the
    # cache keeps the SafeString type, so format_html_join does not escape it again.
    return format_html_join("", "<li>{}</li>", ((html,) for html in parts))
