"""The catalog's partner API: ``GET /api/v1/products/`` and ``GET /api/v1/products/<asin>/``
(scope ``catalog:read``; docs/api.md).

Thin callers of ``catalog.selectors``: the filters are the storefront search's (same won
price range, same text search), prices come from ``catalog.pricing`` at the current selling
rate and the delivery promise from ``fulfillment.selectors``, so a partner sees exactly
what a shopper sees. Each request costs the same number of queries at any page size.
Pages of the unfiltered list are served from a response cache while they are still exactly
right (catalog/api/cache.py).
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import cached_property

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers
from rest_framework.request import Request

from catalog import selectors
from catalog.forms import MAX_QUERY_LENGTH
from catalog.models import Product
from storefront.api.pagination import CursorPagination

from . import cache as list_cache
from .serializers import (
    MAX_PRICE_KRW,
    PRODUCT_ROW_FIELDS,
    ProductFilterSerializer,
    ProductRow,
    ProductSerializer,
)

ASIN_PATTERN = re.compile(r"[A-Za-z0-9]{10}")
INVALID_CURSOR = _("This cursor is not valid; start from the first page.")

ErrorSerializer = inline_serializer(
    name="CatalogError",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.CharField()),
    },
)

PRODUCT_EXAMPLE = {
    "asin": "B0C7V4JH2K",
    "title": "Hydrating Serum 30 ml",
    "brand": "Lumina",
    "category": {"slug": "beauty-personal-care-skin-care", "name": "Skin Care"},
    "price_krw": 36970,
    "source_price_usd": "24.00",
    "availability": {
        "in_stock_domestic": True,
        "delivery_promise": {
            "kind": "domestic",
            "min_days": 1,
            "max_days": 2,
            "earliest_date": "2026-11-30",
            "latest_date": "2026-12-01",
        },
    },
    "weight_kg": "0.150",
    "customs_class": "cosmetics",
    "image_url": "https://images.example.com/B0C7V4JH2K.jpg",
    "updated_at": "2026-11-28T10:15:00+09:00",
    "url": "https://globalstore.example/products/B0C7V4JH2K/",
}
CROSS_BORDER_EXAMPLE = {
    **PRODUCT_EXAMPLE,
    "asin": "B09XYZ1234",
    "availability": {
        "in_stock_domestic": False,
        "delivery_promise": {
            "kind": "cross_border",
            "min_days": 6,
            "max_days": 10,
            "earliest_date": "2026-12-04",
            "latest_date": "2026-12-08",
        },
    },
    "url": "https://globalstore.example/products/B09XYZ1234/",
}

ERROR_RESPONSES = {
    401: OpenApiResponse(
        ErrorSerializer,
        description=_("No key, or an unknown or revoked key."),
        examples=[
            OpenApiExample(
                "unauthenticated",
                value={"code": "unauthenticated", "message": "Invalid API key.", "fields": {}},
            )
        ],
    ),
    403: OpenApiResponse(
        ErrorSerializer,
        description=_("The key's partner lacks the catalog:read scope."),
        examples=[
            OpenApiExample(
                "scope_missing",
                value={
                    "code": "scope_missing",
                    "message": "This request needs the scope “catalog:read”.",
                    "fields": {},
                },
            )
        ],
    ),
    429: OpenApiResponse(ErrorSerializer, description=_("Rate limit reached; see Retry-After.")),
}


class ProductCursorPagination(CursorPagination):
    """Products in ``id`` order: an id never changes, so a walk with ``next`` sees every
    product that exists throughout exactly once, whatever is edited meanwhile. A cursor
    that is not one we issued is a 400 naming ``cursor`` (not DRF's 404)."""

    ordering = ("list_position",)  # the id (catalog.selectors.product_list_for_partner)

    def decode_cursor(self, request: Request):
        try:
            cursor = super().decode_cursor(request)
        except exceptions.NotFound:
            raise exceptions.ValidationError({self.cursor_query_param: INVALID_CURSOR}) from None
        if (
            cursor is not None
            and cursor.position is not None
            and not str(cursor.position).isdigit()
        ):
            raise exceptions.ValidationError({self.cursor_query_param: INVALID_CURSOR})
        return cursor

    def paginate_queryset(self, queryset, request, view=None):
        """The page, its ``values()`` rows made ``ProductRow`` objects (the links and the
        serializer read them as they read products)."""
        page = super().paginate_queryset(queryset, request, view)
        if page and isinstance(page[0], dict):
            self.page = page = [ProductRow(row) for row in page]
        return page


class CatalogApiView:
    """What both catalog endpoints share: the scope, and the selling rate and "now" fixed
    once per request (every product of a page priced and promised alike)."""

    required_scopes = {"GET": "catalog:read"}
    serializer_class = ProductSerializer

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        self.now = timezone.now()

    @cached_property
    def fx_rate(self) -> Decimal:
        """The selling rate, read once per request (the list's cache lookup sets it from
        the same round trip that fetches the page)."""
        return selectors.fx_rate_current().rate

    def get_serializer_context(self) -> dict:
        context = super().get_serializer_context()
        context["fx_rate"] = self.fx_rate
        context["now"] = self.now
        return context


@extend_schema(
    tags=["catalog"],
    summary="List products",
    description=(
        "Active products, filtered, in a stable order (by internal id: a product keeps "
        "its place when it is edited, so following `next` visits each product once). "
        "Prices are the storefront's shelf prices in won at the current selling rate. "
        "To sync changes, remember when you started a walk and pass it as "
        "`updated_since` next time. Any invalid filter is a 400 `invalid` naming it in "
        "`fields`."
    ),
    parameters=[
        OpenApiParameter(
            "category",
            {"type": "string", "maxLength": 255},
            description="Category slug; includes its subcategories. Unknown slug → 400.",
            examples=[OpenApiExample("skin care", value="beauty-personal-care-skin-care")],
        ),
        OpenApiParameter(
            "min_price_krw",
            {"type": "integer", "minimum": 0, "maximum": MAX_PRICE_KRW},
            description="Lowest shelf price in won (inclusive), 0–10^12.",
            examples=[OpenApiExample("ten thousand won", value=10000)],
        ),
        OpenApiParameter(
            "max_price_krw",
            {"type": "integer", "minimum": 0, "maximum": MAX_PRICE_KRW},
            description="Highest shelf price in won (inclusive), 0–10^12; not below min_price_krw.",
            examples=[OpenApiExample("fifty thousand won", value=50000)],
        ),
        OpenApiParameter(
            "in_stock_domestic",
            OpenApiTypes.BOOL,
            description="true: only products that ship from Korea now (1–2 business days); "
            "false: only those that do not (6–10 days). Omit for both.",
            examples=[OpenApiExample("domestic only", value=True)],
        ),
        OpenApiParameter(
            "q",
            {"type": "string", "maxLength": MAX_QUERY_LENGTH},
            description="Search text (at most 200 characters), matched as the storefront "
            "search does.",
            examples=[OpenApiExample("search", value="wireless earbuds")],
        ),
        OpenApiParameter(
            "updated_since",
            OpenApiTypes.DATETIME,
            description="ISO 8601 date-time: only products changed at or after it. "
            "URL-encode a `+` offset (`%2B09:00`) or use `Z`.",
            examples=[OpenApiExample("since", value="2026-11-28T00:00:00Z")],
        ),
    ],
    responses={
        200: ProductSerializer(many=True),
        400: OpenApiResponse(
            ErrorSerializer,
            description=_("A filter or the cursor is invalid; `fields` names each one."),
            examples=[
                OpenApiExample(
                    "bad filters",
                    value={
                        "code": "invalid",
                        "message": "Some fields are invalid; see “fields”.",
                        "fields": {
                            "updated_since": "Datetime has wrong format. Use one of these "
                            "formats instead: YYYY-MM-DDThh:mm[:ss[.uuuuuu]][+HH:MM|-HH:MM|Z].",
                            "min_price_krw": "A valid integer is required.",
                        },
                    },
                )
            ],
        ),
        **ERROR_RESPONSES,
    },
    # drf-spectacular wraps a list operation's example in the page envelope itself.
    examples=[
        OpenApiExample(
            "ships from Korea",
            response_only=True,
            status_codes=["200"],
            value=PRODUCT_EXAMPLE,
        ),
        OpenApiExample(
            "ships from the US",
            response_only=True,
            status_codes=["200"],
            value=CROSS_BORDER_EXAMPLE,
        ),
    ],
)
class ProductListView(CatalogApiView, generics.ListAPIView):
    """``GET /api/v1/products/``: active products matching the filters, by id."""

    pagination_class = ProductCursorPagination
    ordering = ProductCursorPagination.ordering
    # Set by ``list`` when the page may be cached: where, and under what conditions.
    _cache_store: tuple[str, tuple] | None = None

    def list(self, request, *args, **kwargs):
        """The unfiltered list's pages come from the response cache while they are still
        exactly right (catalog/api/cache.py); any other request is built as usual."""
        if not list_cache.list_cacheable(request, self.paginator):
            return super().list(request, *args, **kwargs)
        key = list_cache.list_key(request, now=self.now)
        entry, conditions, self.fx_rate = list_cache.list_lookup(key)
        if list_cache.entry_fresh(entry, conditions):
            return list_cache.entry_response(entry)
        self._cache_store = (key, conditions)
        return super().list(request, *args, **kwargs)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        if self._cache_store is not None and response.status_code == 200:
            key, conditions = self._cache_store
            response.render()  # what Django would do next; rendering twice is a no-op
            list_cache.entry_store(
                key,
                body=response.content,
                content_type=response["Content-Type"],
                conditions=conditions,
                paginator=self.paginator,
            )
        return response

    def get_queryset(self):
        filters = ProductFilterSerializer(data=self.request.query_params.dict())
        filters.is_valid(raise_exception=True)
        data = filters.validated_data
        return selectors.product_list_for_partner(
            query=data.get("q", ""),
            category=data.get("category"),
            min_price_krw=data.get("min_price_krw"),
            max_price_krw=data.get("max_price_krw"),
            in_stock_domestic=data.get("in_stock_domestic"),
            updated_since=data.get("updated_since"),
            fx_rate=self.fx_rate,
        ).values(*PRODUCT_ROW_FIELDS)  # rows, not models: ProductCursorPagination


@extend_schema(
    tags=["catalog"],
    summary="Get a product",
    description=(
        "One active product by ASIN (case-insensitive) with its shelf price in won, "
        "availability and delivery promise. Unknown or inactive ASIN → 404 `not_found`."
    ),
    parameters=[
        OpenApiParameter(
            "asin",
            OpenApiTypes.STR,
            OpenApiParameter.PATH,
            description="The product's 10-character ASIN.",
            examples=[OpenApiExample("ASIN", value="B0C7V4JH2K")],
        )
    ],
    responses={
        200: OpenApiResponse(
            ProductSerializer,
            examples=[
                OpenApiExample("ships from Korea", value=PRODUCT_EXAMPLE),
                OpenApiExample("ships from the US", value=CROSS_BORDER_EXAMPLE),
            ],
        ),
        404: OpenApiResponse(
            ErrorSerializer,
            description=_("No active product has this ASIN."),
            examples=[
                OpenApiExample(
                    "not_found", value={"code": "not_found", "message": "Not found.", "fields": {}}
                )
            ],
        ),
        **ERROR_RESPONSES,
    },
)
class ProductDetailView(CatalogApiView, generics.RetrieveAPIView):
    """``GET /api/v1/products/<asin>/``: one active product, or 404."""

    def get_object(self) -> Product:
        asin = self.kwargs["asin"]
        if not ASIN_PATTERN.fullmatch(asin):  # no query for what cannot be an ASIN
            raise exceptions.NotFound()
        return selectors.product_get_for_shopper(asin=asin)
