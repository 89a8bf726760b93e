"""Serializers of the catalog's partner API: the product list's filters (query string)
and the product as partners see it (docs/api.md).

Prices come from ``catalog.pricing`` at the current selling rate, exactly as the shelf
shows them; the delivery promise from ``fulfillment.selectors.delivery_promise``, as on the
product page. Amounts in won are integers, USD amounts and weights are decimal strings.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog import pricing, selectors
from catalog.forms import MAX_QUERY_LENGTH
from catalog.models import Category, Product
from catalog.templatetags.catalog_tags import web_url
from fulfillment import selectors as stock_selectors

ASIN_PLACEHOLDER = "ASIN000000"  # stands for the ASIN in a product URL built once
MAX_PRICE_KRW = 10**12  # the storefront's filter form allows the same range
# "2026-11-28T10:00:00+09:00" sent without URL-encoding the "+" arrives as a space.
_UNENCODED_PLUS_OFFSET = re.compile(r"^(?P<stamp>.*\d)\s(?P<offset>\d{2}(?::?\d{2})?)$")
_ISO_CHARACTERS = re.compile(r"[0-9A-Za-z:.,+\- ]*")


class LenientDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time; a "+hh:mm" offset whose "+" arrived as a space (not
    URL-encoded) is read as meant. Naive values are in the site's time zone."""

    def to_internal_value(self, value):
        if isinstance(value, str):
            if not _ISO_CHARACTERS.fullmatch(value):  # Python's parser ignores a trailing NUL
                self.fail("invalid", format="ISO 8601")
            value = _UNENCODED_PLUS_OFFSET.sub(r"\g<stamp>+\g<offset>", value.strip())
        parsed = super().to_internal_value(value)
        try:  # 0001-01-01T00:00+09:00 is before the first representable UTC instant
            parsed.astimezone(datetime.UTC)
        except (OverflowError, ValueError):
            self.fail("invalid", format="ISO 8601")
        return parsed


class ProductFilterSerializer(serializers.Serializer):
    """The product list's query parameters. Every bad value is a 400 naming its field."""

    category = serializers.CharField(
        required=False,
        max_length=255,
        help_text=_("A category slug; its subcategories are included."),
    )
    min_price_krw = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_PRICE_KRW, help_text=_("Lowest price in won.")
    )
    max_price_krw = serializers.IntegerField(
        required=False, min_value=0, max_value=MAX_PRICE_KRW, help_text=_("Highest price in won.")
    )
    in_stock_domestic = serializers.BooleanField(
        required=False,
        allow_null=True,
        default=None,
        help_text=_("true: only products that ship from Korea now; false: only those that do not."),
    )
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=MAX_QUERY_LENGTH,
        help_text=_("Search text, as the storefront's search box."),
    )
    updated_since = LenientDateTimeField(
        required=False, help_text=_("Only products changed at or after this ISO 8601 time.")
    )

    def validate_category(self, value: str) -> Category:
        category = selectors.category_find_by_slug(slug=value.strip())
        if category is None:
            raise serializers.ValidationError(_("There is no category with this slug."))
        return category

    def validate_q(self, value: str) -> str:
        return " ".join(value.split())

    def validate(self, attrs: dict) -> dict:
        low, high = attrs.get("min_price_krw"), attrs.get("max_price_krw")
        if low is not None and high is not None and low > high:
            message = _("min_price_krw must not be higher than max_price_krw.")
            raise serializers.ValidationError({"min_price_krw": message, "max_price_krw": message})
        return attrs


class CategoryRefSerializer(serializers.Serializer):
    slug = serializers.CharField(read_only=True)
    name = serializers.CharField(read_only=True)


class DeliveryPromiseSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(
        choices=["domestic", "cross_border"],
        read_only=True,
        help_text=_(
            "domestic: ships from a warehouse in Korea (business days); cross_border: bought "
            "in the US and shipped across the border (calendar days)."
        ),
    )
    min_days = serializers.IntegerField(read_only=True)
    max_days = serializers.IntegerField(read_only=True)
    earliest_date = serializers.DateField(
        read_only=True, help_text=_("Earliest arrival if ordered today (Seoul time).")
    )
    latest_date = serializers.DateField(
        read_only=True, help_text=_("Latest arrival if ordered today (Seoul time).")
    )


class AvailabilitySerializer(serializers.Serializer):
    in_stock_domestic = serializers.BooleanField(read_only=True)
    delivery_promise = DeliveryPromiseSerializer(read_only=True)


def availability_of(*, domestic_units: int, now: datetime.datetime | None = None) -> dict:
    """The ``availability`` object for a product with ``domestic_units`` free in Korea."""
    promise = stock_selectors.delivery_promise(domestic_units=domestic_units, now=now)
    days = stock_selectors.DOMESTIC_DAYS if promise.domestic else stock_selectors.CROSS_BORDER_DAYS
    return {
        "in_stock_domestic": promise.domestic,
        "delivery_promise": {
            "kind": "domestic" if promise.domestic else "cross_border",
            "min_days": days[0],
            "max_days": days[1],
            "earliest_date": promise.earliest,
            "latest_date": promise.latest,
        },
    }


class ProductSerializer(serializers.ModelSerializer):
    """An active product: its shelf price in won at the current selling rate (what the
    storefront shows), whether it ships from Korea now and the delivery promise."""

    # Needs ``fx_rate`` (the selling rate) and ``now`` in the context, and products
    # annotated with ``domestic_available`` (catalog.selectors does that).
    #
    # The declared fields are the contract (drf-spectacular documents them); the output is
    # built by ``to_representation`` below, directly and with everything that is the same
    # for every product of a response worked out once (``_response``): DRF's generic
    # per-field walk took ~4.5 ms for a page of 50, this ~1 ms (in-process, 100k catalog).
    # tests/api/test_product_list_output.py checks it against the generic walk.

    category = CategoryRefSerializer(read_only=True, allow_null=True)
    price_krw = serializers.SerializerMethodField(
        help_text=_("The shelf price in won, VAT included (what the storefront shows).")
    )
    source_price_usd = serializers.DecimalField(
        max_digits=10, decimal_places=2, read_only=True, coerce_to_string=True
    )
    availability = serializers.SerializerMethodField()
    weight_kg = serializers.DecimalField(
        max_digits=8, decimal_places=3, read_only=True, coerce_to_string=True
    )
    customs_class = serializers.SlugRelatedField(
        slug_field="code",
        read_only=True,
        help_text=_("The customs tariff group deciding duty and the duty-free limit."),
    )
    image_url = serializers.SerializerMethodField()
    url = serializers.SerializerMethodField(help_text=_("The product's storefront page."))

    class Meta:
        model = Product
        fields = [
            "asin",
            "title",
            "brand",
            "category",
            "price_krw",
            "source_price_usd",
            "availability",
            "weight_kg",
            "customs_class",
            "image_url",
            "updated_at",
            "url",
        ]
        read_only_fields = fields

    @cached_property
    def _response(self) -> _ResponseConstants:
        """What every product of this response shares (a list's child serializer is one
        instance for the whole page, so this is worked out once per page)."""
        request = self.context.get("request")
        path = Product(asin=ASIN_PLACEHOLDER).get_absolute_url()
        # The declared fields format the decimals (building ``self.fields``, the bound
        # copies, would cost more than the whole page); ``updated_at`` is formatted by the
        # field ModelSerializer makes for it, with the time zone looked up once.
        declared = self._declared_fields
        updated_at = serializers.DateTimeField(
            read_only=True, default_timezone=timezone.get_current_timezone()
        )
        return _ResponseConstants(
            fx_rate=self.context["fx_rate"],
            margin=settings.PRICE_MARGIN,
            now=self.context.get("now"),
            url_template=request.build_absolute_uri(path) if request is not None else path,
            source_price_usd=declared["source_price_usd"].to_representation,
            weight_kg=declared["weight_kg"].to_representation,
            updated_at=updated_at.to_representation,
        )

    def to_representation(self, product: Product) -> dict:
        # The same keys, in the same order and with the same values as DRF's generic
        # ``Serializer.to_representation`` over ``Meta.fields`` (None stays None).
        response = self._response
        category = product.category
        customs_class = product.customs_class
        source_price_usd = product.source_price_usd
        weight_kg = product.weight_kg
        updated_at = product.updated_at
        return {
            "asin": _text(product.asin),
            "title": _text(product.title),
            "brand": _text(product.brand),
            "category": (
                None
                if category is None
                else {"slug": _text(category.slug), "name": _text(category.name)}
            ),
            "price_krw": self.get_price_krw(product),
            "source_price_usd": (
                None if source_price_usd is None else response.source_price_usd(source_price_usd)
            ),
            "availability": self.get_availability(product),
            "weight_kg": None if weight_kg is None else response.weight_kg(weight_kg),
            "customs_class": None if customs_class is None else customs_class.code,
            "image_url": self.get_image_url(product),
            "updated_at": None if updated_at is None else response.updated_at(updated_at),
            "url": self.get_url(product),
        }

    def get_price_krw(self, product: Product) -> int:
        response = self._response
        return pricing.shelf_price_krw(
            source_price_usd=product.source_price_usd,
            fx_rate=response.fx_rate,
            margin=response.margin,
        )

    @extend_schema_field(AvailabilitySerializer)
    def get_availability(self, product: Product) -> dict:
        now = self._response.now
        if now is None:  # no fixed "now": each product is promised as of its own moment
            return availability_of(domestic_units=product.domestic_available)
        # Two possible answers per response (ships from Korea or not): each computed once,
        # each product given its own copy.
        domestic = product.domestic_available > 0
        cache = self._response.availability
        if domestic not in cache:
            cache[domestic] = availability_of(domestic_units=product.domestic_available, now=now)
        shared = cache[domestic]
        return {**shared, "delivery_promise": dict(shared["delivery_promise"])}

    def get_image_url(self, product: Product) -> str | None:
        return web_url(product.primary_image_url) or None

    def get_url(self, product: Product) -> str:
        # ``get_absolute_url`` resolved once per response, not once per product (a page of
        # 50 spent a third of its serializing time in ``reverse``); ASINs are URL-safe.
        return self._response.url_template.replace(ASIN_PLACEHOLDER, product.asin)


# The columns of a list row (``ProductRow``): what ``ProductSerializer`` shows, the keys it
# follows, the domestic units and the cursor position (catalog.selectors annotates both).
PRODUCT_ROW_FIELDS = (*selectors.PARTNER_PRODUCT_FIELDS, "domestic_available", "list_position")


class _Ref:
    """A related row as ``ProductSerializer`` reads it (category: slug, name; customs
    class: code)."""

    __slots__ = ("code", "name", "slug")

    def __init__(self, *, slug=None, name=None, code=None) -> None:
        self.slug, self.name, self.code = slug, name, code


class ProductRow:
    """A product of the list as ``ProductSerializer`` and the list's cursor read it, built
    from a ``values(*PRODUCT_ROW_FIELDS)`` row: the same attributes as the model instance
    (with ``domestic_available`` and ``list_position``), at a fraction of the cost of a
    ``Product`` with its category and customs class (~30 µs each, a third of a page)."""

    __slots__ = (
        "asin",
        "brand",
        "category",
        "category_id",
        "customs_class",
        "customs_class_id",
        "domestic_available",
        "image_urls",
        "list_position",
        "pk",
        "source_price_usd",
        "title",
        "updated_at",
        "weight_kg",
    )

    def __init__(self, row: dict) -> None:
        self.pk = row["id"]
        self.asin = row["asin"]
        self.title = row["title"]
        self.brand = row["brand"]
        self.image_urls = row["image_urls"]
        self.source_price_usd = row["source_price_usd"]
        self.weight_kg = row["weight_kg"]
        self.updated_at = row["updated_at"]
        self.category_id = row["category_id"]
        self.category = (
            None
            if row["category_id"] is None
            else _Ref(slug=row["category__slug"], name=row["category__name"])
        )
        self.customs_class_id = row["customs_class_id"]
        self.customs_class = (
            None if row["customs_class_id"] is None else _Ref(code=row["customs_class__code"])
        )
        self.domestic_available = row["domestic_available"]
        self.list_position = row["list_position"]

    primary_image_url = Product.primary_image_url


@dataclass
class _ResponseConstants:
    """``ProductSerializer``'s per-response constants (see ``ProductSerializer._response``)."""

    fx_rate: Decimal
    margin: Decimal
    now: datetime.datetime | None
    url_template: str
    source_price_usd: Callable[[Decimal], str]
    weight_kg: Callable[[Decimal], str]
    updated_at: Callable[[datetime.datetime], str]
    availability: dict[bool, dict] = field(default_factory=dict)


def _text(value) -> str | None:
    """What DRF's ``CharField`` shows: ``str(value)``, None kept."""
    return value if value is None or type(value) is str else str(value)
