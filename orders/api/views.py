"""The orders' partner API (docs/api.md): quotes, orders, cancellation and shipments.

- ``POST /api/v1/quotes/`` (``quotes:write``): the landed-cost quote of lines, computed by
  the storefront checkout's own code (``partner_orders.partner_quote``). It changes
  nothing, so it takes no ``Idempotency-Key`` (one sent is ignored).
- ``POST /api/v1/orders/`` (``orders:write``, ``Idempotency-Key`` required): place an order
  charged to the partner's account (``partner_orders.partner_order_place``); 201 with the
  order, paid.
- ``GET /api/v1/orders/`` and ``GET /api/v1/orders/<number>/`` (``orders:read``): the
  partner's own orders only.
- ``POST /api/v1/orders/<number>/cancel/`` (``orders:write``, ``Idempotency-Key``).
- ``GET /api/v1/orders/<number>/shipments/`` (``orders:read``): parcels with their
  tracking events.

Every query is scoped by the partner behind the key: another partner's order number, or a
shopper's, is a 404 exactly like a number that does not exist.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import generics, serializers, status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from fulfillment.models import Shipment, ShipmentLine
from orders.models import Order, OrderLine
from orders.services import partner_orders
from storefront.api import partner_of
from storefront.api.idempotency import HEADER as IDEMPOTENCY_HEADER
from storefront.api.idempotency import IdempotentPostMixin
from storefront.api.pagination import CursorPagination

from .serializers import (
    OrderCreateSerializer,
    OrderListFilterSerializer,
    OrderSerializer,
    QuoteRequestSerializer,
    QuoteSerializer,
    ShipmentSerializer,
    lines_of,
)

ErrorSerializer = inline_serializer(
    name="OrdersError",
    fields={
        "code": serializers.CharField(),
        "message": serializers.CharField(),
        "fields": serializers.DictField(child=serializers.CharField()),
    },
)


def _error(description: str, *examples: tuple[str, dict]) -> OpenApiResponse:
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[OpenApiExample(name, value=value) for name, value in examples],
    )


AUTH_ERRORS = {
    401: _error(
        _("No key, or an unknown or revoked key."),
        (
            "unauthenticated",
            {"code": "unauthenticated", "message": "Invalid API key.", "fields": {}},
        ),
    ),
    403: _error(
        _("The key's partner lacks the scope."),
        (
            "scope_missing",
            {
                "code": "scope_missing",
                "message": "This request needs the scope “orders:write”.",
                "fields": {},
            },
        ),
    ),
    429: _error(_("Rate limit reached; see Retry-After.")),
}
NOT_FOUND = _error(
    _("No order with this number among yours."),
    ("not_found", {"code": "not_found", "message": "No order with this number.", "fields": {}}),
)

LINES_EXAMPLE = [{"asin": "B0C7V4JH2K", "quantity": 2}, {"asin": "B09XYZ1234", "quantity": 1}]
QUOTE_EXAMPLE = {
    "currency": "KRW",
    "postal_code": "06236",
    "lines": [
        {
            "asin": "B0C7V4JH2K",
            "title": "Hydrating Serum 30 ml",
            "quantity": 2,
            "domestic_quantity": 2,
            "cross_border_quantity": 0,
            "unit_price_krw": 36970,
            "line_total_krw": 73940,
            "unit_price_usd": "24.00",
            "customs_class": "cosmetics",
            "duty_krw": 0,
            "vat_krw": 0,
            "delivery": [
                {
                    "kind": "domestic",
                    "quantity": 2,
                    "min_days": 1,
                    "max_days": 2,
                    "earliest_date": "2026-11-30",
                    "latest_date": "2026-12-01",
                }
            ],
        }
    ],
    "items_krw": 73940,
    "domestic_items_krw": 73940,
    "cross_border_items_krw": 0,
    "domestic_shipping_krw": 0,
    "cross_border_shipping_krw": 0,
    "shipping_krw": 0,
    "duty_krw": 0,
    "vat_krw": 0,
    "import_fees_krw": 0,
    "discount_krw": 0,
    "total_krw": 73940,
    "has_cross_border": False,
    "customs": {
        "duty_free": True,
        "goods_value_usd": "0.00",
        "duty_free_limit_usd": "150.00",
        "explanation": "Nothing ships from the US.",
    },
    "fx_selling_rate": "1400.0000",
    "fx_customs_rate": "1390.0000",
}
ORDER_REQUEST_EXAMPLE = {
    "reference": "carrier-shop-10042",
    "email": "customer@example.com",
    "lines": LINES_EXAMPLE,
    "recipient": {
        "name": "홍길동",
        "phone": "010-1234-5678",
        "postal_code": "06236",
        "road_address": "서울특별시 강남구 테헤란로 152",
        "detail_address": "101동 1001호",
    },
    "pccc": "P100000000001",
    "customs_consent": True,
}
ORDER_EXAMPLE = {
    "number": "GS261128-7QK4MZ",
    "reference": "carrier-shop-10042",
    "status": "paid",
    "email": "customer@example.com",
    "currency": "KRW",
    "items_krw": 73940,
    "domestic_shipping_krw": 0,
    "cross_border_shipping_krw": 0,
    "shipping_krw": 0,
    "duty_krw": 0,
    "vat_krw": 0,
    "discount_krw": 0,
    "total_krw": 73940,
    "has_cross_border": False,
    "duty_free": True,
    "customs_explanation": "",
    "recipient": {
        "name": "홍길동",
        "phone": "+821012345678",
        "postal_code": "06236",
        "road_address": "서울특별시 강남구 테헤란로 152",
        "detail_address": "101동 1001호",
    },
    "pccc_last4": "",
    "lines": QUOTE_EXAMPLE["lines"],
    "created_at": "2026-11-28T10:15:00+09:00",
    "paid_at": "2026-11-28T10:15:00+09:00",
    "cancelled_at": None,
    "updated_at": "2026-11-28T10:15:00+09:00",
}


def _partner_id(request: Request) -> int:
    return partner_of(request).pk


def partner_orders_queryset(partner_id: int) -> QuerySet[Order]:
    """The partner's orders with their lines (a constant number of queries per page)."""
    return Order.objects.filter(partner_id=partner_id).prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id"))
    )


class QuoteView(APIView):
    required_scopes = {"POST": "quotes:write"}

    @extend_schema(
        operation_id="quote_create",
        summary="Quote lines (landed cost)",
        description=(
            "The full landed-cost breakdown (items, shipping per leg, duty-free decision, "
            "duty, VAT, total) and the split by delivery promise, computed by the same code "
            "as the storefront's checkout. Changes nothing; no Idempotency-Key needed."
        ),
        request=QuoteRequestSerializer,
        responses={
            200: QuoteSerializer,
            400: _error(
                _("A field is invalid (every bad field is named)."),
                (
                    "unknown_asin",
                    {
                        "code": "invalid",
                        "message": "Some lines cannot be ordered; see “fields”.",
                        "fields": {"lines[1].asin": "No product has this ASIN."},
                    },
                ),
            ),
            **AUTH_ERRORS,
        },
        examples=[
            OpenApiExample(
                "quote", value={"lines": LINES_EXAMPLE, "postal_code": "06236"}, request_only=True
            ),
            OpenApiExample("quote", value=QUOTE_EXAMPLE, response_only=True),
        ],
        tags=["quotes"],
    )
    def post(self, request: Request) -> Response:
        data = QuoteRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        quote = partner_orders.partner_quote(
            partner_id=_partner_id(request), lines=lines_of(data.validated_data)
        )
        context = {"postal_code": data.validated_data.get("postal_code", "")}
        return Response(QuoteSerializer(quote, context=context).data)


class OrderPagination(CursorPagination):
    ordering = ("-placed_at", "-id")


class OrderListCreateView(IdempotentPostMixin, generics.GenericAPIView):
    required_scopes = {"GET": "orders:read", "POST": "orders:write"}
    pagination_class = OrderPagination
    serializer_class = OrderSerializer

    def get_queryset(self) -> QuerySet[Order]:
        queryset = partner_orders_queryset(_partner_id(self.request))
        filters = OrderListFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        if "status" in filters.validated_data:
            queryset = queryset.filter(status=filters.validated_data["status"])
        if "created_since" in filters.validated_data:
            queryset = queryset.filter(placed_at__gte=filters.validated_data["created_since"])
        return queryset

    @extend_schema(
        operation_id="order_list",
        summary="Your orders",
        description="Your orders only, newest first, with a cursor (`next`, `previous`).",
        parameters=[OrderListFilterSerializer],
        responses={200: OrderSerializer(many=True), **AUTH_ERRORS},
        tags=["orders"],
    )
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(OrderSerializer(page, many=True).data)

    @extend_schema(
        operation_id="order_create",
        summary="Place an order charged to your account",
        description=(
            "Places the order, priced on the server, and charges it to your account within "
            "your credit limit: it is `paid` at creation and goes to fulfillment. "
            "Prices, totals, status, discount and partner in the body are ignored. "
            f"`{IDEMPOTENCY_HEADER}` is required: the same key and body replay the first "
            "answer; the same key with another body is a 409."
        ),
        request=OrderCreateSerializer,
        responses={
            201: OrderSerializer,
            400: _error(
                _("A field is invalid, a limit is exceeded, or the PCCC is refused."),
                (
                    "pccc_rejected",
                    {
                        "code": "pccc_rejected",
                        "message": "Customs could not confirm this PCCC for the recipient.",
                        "fields": {"pccc": "This PCCC is not registered."},
                    },
                ),
            ),
            402: _error(
                _("Your open orders plus this one would exceed your credit limit."),
                (
                    "credit_limit_exceeded",
                    {
                        "code": "credit_limit_exceeded",
                        "message": "This order (₩120,000) would exceed your credit limit.",
                        "fields": {},
                    },
                ),
            ),
            409: _error(
                _("Idempotency-Key reused with another body, or reference already used."),
                (
                    "idempotency_key_reused",
                    {
                        "code": "idempotency_key_reused",
                        "message": "This Idempotency-Key was already used for a different request.",
                        "fields": {},
                    },
                ),
            ),
            503: _error(
                _("The customs PCCC check is unavailable; retry later (same key)."),
                (
                    "customs_check_unavailable",
                    {
                        "code": "customs_check_unavailable",
                        "message": "We could not check your PCCC with customs just now.",
                        "fields": {},
                    },
                ),
            ),
            **AUTH_ERRORS,
        },
        examples=[
            OpenApiExample("order", value=ORDER_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("order", value=ORDER_EXAMPLE, response_only=True),
        ],
        tags=["orders"],
    )
    def post(self, request: Request) -> Response:
        data = OrderCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        validated = data.validated_data
        partner_id = _partner_id(request)
        order = partner_orders.partner_order_place(
            partner_id=partner_id,
            email=validated["email"],
            lines=lines_of(validated),
            address=data.shipping_address(),
            pccc=validated.get("pccc", ""),
            customs_consent=validated.get("customs_consent", False),
            reference=validated.get("reference", ""),
            idempotency_key=request.headers.get(IDEMPOTENCY_HEADER, ""),
        )
        order = partner_orders_queryset(partner_id).get(pk=order.pk)
        return Response(OrderSerializer(order).data, status=status.HTTP_201_CREATED)


class OrderDetailView(APIView):
    required_scopes = {"GET": "orders:read"}

    @extend_schema(
        operation_id="order_retrieve",
        summary="One of your orders",
        responses={
            200: OrderSerializer,
            404: NOT_FOUND,
            **AUTH_ERRORS,
        },
        examples=[OpenApiExample("order", value=ORDER_EXAMPLE, response_only=True)],
        tags=["orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        order = partner_orders_queryset(_partner_id(request)).filter(number=number).first()
        if order is None:
            raise partner_orders.PartnerOrderNotFound(_("No order with this number."))
        return Response(OrderSerializer(order).data)


class OrderCancelView(IdempotentPostMixin, APIView):
    required_scopes = {"POST": "orders:write"}

    @extend_schema(
        operation_id="order_cancel",
        summary="Cancel one of your orders before it ships",
        description=(
            "Cancels the order while nothing has shipped; its charge is refunded to your "
            f"account at once. `{IDEMPOTENCY_HEADER}` is required."
        ),
        request=None,
        responses={
            200: OrderSerializer,
            404: NOT_FOUND,
            409: _error(
                _("Something has shipped (or the order is already cancelled)."),
                (
                    "order_not_cancellable",
                    {
                        "code": "order_not_cancellable",
                        "message": "This order can no longer be cancelled (status: Shipped).",
                        "fields": {},
                    },
                ),
            ),
            **AUTH_ERRORS,
        },
        tags=["orders"],
    )
    def post(self, request: Request, number: str) -> Response:
        partner_id = _partner_id(request)
        order = partner_orders.partner_order_cancel(partner_id=partner_id, number=number)
        order = partner_orders_queryset(partner_id).get(pk=order.pk)
        return Response(OrderSerializer(order).data)


class OrderShipmentsView(APIView):
    required_scopes = {"GET": "orders:read"}

    @extend_schema(
        operation_id="order_shipments",
        summary="Parcels of one of your orders, with tracking events",
        responses={200: ShipmentSerializer(many=True), 404: NOT_FOUND, **AUTH_ERRORS},
        tags=["orders"],
    )
    def get(self, request: Request, number: str) -> Response:
        order = partner_orders.partner_order_get(partner_id=_partner_id(request), number=number)
        shipments = (
            Shipment.objects.filter(order=order)
            .order_by("created_at", "id")
            .prefetch_related(
                "events",
                Prefetch("lines", queryset=ShipmentLine.objects.select_related("order_line")),
            )
        )
        return Response(ShipmentSerializer(shipments, many=True).data)
