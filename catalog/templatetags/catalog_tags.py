"""Template helpers for shopper pages: won prices and product cards."""

from __future__ import annotations

import datetime
import functools
import hashlib
import re
from dataclasses import dataclass
from decimal import Decimal

from django import template
from django.conf import settings
from django.contrib.humanize.templatetags.humanize import intcomma
from django.core.cache import cache
from django.template.base import render_value_in_context
from django.template.defaultfilters import date as date_filter
from django.templatetags.static import static
from django.urls import reverse
from django.utils import translation
from django.utils.html import conditional_escape, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext, ngettext

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


@dataclass(frozen=True)
class _CardText:
    """What every card of a list shares, worked out once per list instead of once per
    card (translations, the placeholder image, the product URL around the ASIN)."""

    price: str
    list_price: str
    fast_delivery: str
    placeholder: str
    url_prefix: str
    url_suffix: str

    @classmethod
    def current(cls) -> _CardText:
        # An ASIN has no character ``reverse`` would quote: its URL is this prefix, the
        # ASIN and this suffix (``_card_url`` checks and otherwise reverses).
        prefix, _marker, suffix = reverse(
            "catalog:product", kwargs={"asin": _ASIN_MARKER}
        ).partition(_ASIN_MARKER)
        return cls(
            price=gettext("Price"),
            list_price=gettext("List price"),
            fast_delivery=gettext("Fast delivery"),
            placeholder=static("img/placeholder.svg"),
            url_prefix=prefix,
            url_suffix=suffix,
        )


_ASIN_MARKER = "ASINMARKER"
_PLAIN_ASIN = re.compile(r"[A-Za-z0-9]+")


def _card_url(product: Product, text: _CardText) -> str:
    """``product.get_absolute_url()`` without a ``reverse`` per card."""
    if _PLAIN_ASIN.fullmatch(product.asin):
        return f"{text.url_prefix}{product.asin}{text.url_suffix}"
    return product.get_absolute_url()


def _card_context(
    context: template.Context, product: Product, heading_level: int, text: _CardText
) -> dict:
    """The card template's context, every value ready to print: what the card's tags and
    filters (``url``, ``static``, ``translate``, ``won``, ``intcomma``, the rating's
    ``blocktranslate``) worked out card by card before, with the same output."""
    fx_rate = context["fx_rate"]
    price_krw = shelf_price(product, fx_rate)
    list_price_krw = list_price(product, fx_rate)
    rating = ""
    if product.rating is not None:
        # The same message and values as ``{% blocktranslate count %}`` in rating.html.
        rating = ngettext(
            "%(rating)s out of 5 (%(reviews)s review)",
            "%(rating)s out of 5 (%(reviews)s reviews)",
            product.review_count,
        ) % {
            "rating": render_value_in_context(product.rating, context),
            "reviews": render_value_in_context(intcomma(product.review_count), context),
        }
    return {
        "product": product,
        "text": text,
        "url": _card_url(product, text),
        "image_url": web_url(product.primary_image_url) or text.placeholder,
        "price_krw": won(price_krw),
        "list_price_krw": won(list_price_krw) if list_price_krw else "",
        "rating": mark_safe(rating),  # noqa: S308 - the values are escaped, the message is ours
        "fast_delivery": getattr(product, "domestic_available", 0) > 0,
        "heading_level": str(heading_level),
    }


@register.inclusion_tag("catalog/includes/product_card.html", takes_context=True)
def product_card(context: template.Context, product: Product, heading_level: int = 3) -> dict:
    """One product in a list: image, title, price in won, rating and the fast-delivery
    badge. The FX rate comes from the page (one lookup per page, not per product)."""
    return _card_context(context, product, heading_level, _CardText.current())


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
    text = _CardText.current()
    if seconds <= 0:
        cards = [
            card.render(context.new(_card_context(context, p, heading_level, text)))
            for p in products
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
            html = card.render(context.new(_card_context(context, product, heading_level, text)))
            rendered[key] = html
        parts.append(html)
    if rendered:
        cache.set_many(rendered, seconds)
    # Rendered by the (autoescaping) card template, here or when it was cached: the
    # cache keeps the SafeString type, so format_html_join does not escape it again.
    return format_html_join("", "<li>{}</li>", ((html,) for html in parts))


# --- The product page -------------------------------------------------------------------


@dataclass(frozen=True)
class ProductThumb:
    url: str
    alt: str


@dataclass(frozen=True)
class ProductPageText:
    """The product page's values ready to print (``product_page_text``)."""

    price: str
    list_price: str
    trail: str
    thumbs: list[ProductThumb]
    rating: str
    earliest_iso: str
    earliest: str
    latest_iso: str
    latest: str
    import_fees_note: str
    import_fees_weight_note: str
    weight: str


@functools.lru_cache(maxsize=64)
def _date_text(day: datetime.date, date_format: str, language: str | None) -> str:
    # ``language`` is only in the key: month and weekday names follow the active one.
    return conditional_escape(date_filter(day, date_format))


def _text(value: object) -> str:
    """A value as ``{{ value }}`` or a ``blocktranslate`` variable prints it."""
    return render_value_in_context(value, _PLAIN_CONTEXT)


_PLAIN_CONTEXT = template.Context(autoescape=True)


def _import_fees_note(import_fees) -> str:
    """The ``blocktranslate`` messages of the import fees section, with the same values."""
    assessment = import_fees.assessment
    values = {
        "value": _text(usd(assessment.goods_value_usd)),
        "limit": _text(usd(assessment.duty_free_limit_usd)),
    }
    if assessment.duty_free:
        message = gettext(
            "None for one unit: its price (%(value)s) is within the %(limit)s duty-free "
            "limit, so no duty or VAT is due."
        )
    elif assessment.import_fees_krw:
        values |= {
            "fees": _text(won(assessment.import_fees_krw)),
            "duty": _text(won(assessment.duty_krw)),
            "vat": _text(won(assessment.vat_krw)),
        }
        message = gettext(
            "About %(fees)s for one unit (duty %(duty)s + VAT %(vat)s): its price "
            "(%(value)s) is over the %(limit)s duty-free limit, so the whole value plus "
            "international freight is taxed. You pay it with your order."
        )
    else:
        message = gettext(
            "None: its price (%(value)s) is over the %(limit)s duty-free limit, but no "
            "duty or VAT applies to this kind of item."
        )
    return mark_safe(message % values)  # noqa: S308 - the values are escaped, the message is ours


def product_page_text(
    *,
    product: Product,
    images: list[str],
    trail: list,
    fx_rate: Decimal,
    promise,
    import_fees,
    date_format: str,
) -> ProductPageText:
    """What ``catalog/product.html`` printed through tags and filters (``shelf_price``,
    ``won``, ``url``, ``blocktranslate``, ``date``, ``kg``) worked out in Python, with
    the same output: a product page miss renders far fewer template nodes."""
    price_krw = shelf_price(product, fx_rate)
    list_price_krw = list_price(product, fx_rate)
    total = len(images)
    thumbs = [
        ProductThumb(
            url=url,
            alt=mark_safe(  # noqa: S308 - the numbers are escaped, the message is ours
                gettext("Image %(number)s of %(total)s")
                % {"number": _text(number), "total": _text(total)}
            ),
        )
        for number, url in enumerate(images, start=1)
    ]
    rating = ""
    if product.rating is not None:
        # The same message and values as ``{% blocktranslate count %}`` in rating.html.
        rating = mark_safe(  # noqa: S308 - the values are escaped, the message is ours
            ngettext(
                "%(rating)s out of 5 (%(reviews)s review)",
                "%(rating)s out of 5 (%(reviews)s reviews)",
                product.review_count,
            )
            % {"rating": _text(product.rating), "reviews": _text(intcomma(product.review_count))}
        )
    language = translation.get_language()
    weight_note = ""
    if import_fees is not None and import_fees.weight_estimated:
        weight_note = mark_safe(  # noqa: S308 - the value is escaped, the message is ours
            gettext(
                "The shipping weight (about %(weight)s kg) is estimated from the category, "
                "so the estimate may change."
            )
            % {"weight": _text(kg(import_fees.weight_kg))}
        )
    return ProductPageText(
        price=won(price_krw),
        list_price=won(list_price_krw) if list_price_krw else "",
        trail=format_html_join(
            "",
            '<li><a href="{}">{}</a></li>',
            ((category.get_absolute_url(), category.name) for category in trail),
        ),
        thumbs=thumbs,
        rating=rating,
        earliest_iso=_date_text(promise.earliest, "Y-m-d", language),
        earliest=_date_text(promise.earliest, date_format, language),
        latest_iso=_date_text(promise.latest, "Y-m-d", language),
        latest=_date_text(promise.latest, date_format, language),
        import_fees_note=_import_fees_note(import_fees) if import_fees is not None else "",
        import_fees_weight_note=weight_note,
        weight=kg(product.weight_kg),
    )
