"""Serializers of the orders' partner API: quote and order requests (input) and quotes,
orders and shipments as partners see them (output; docs/api.md).

Input serializers declare only what a partner may choose (lines, recipient, PCCC, consent,
reference, email). Anything else in the body (prices, totals, status, discount, partner)
is not a field and is ignored; the output serializers are read-only. Amounts in won are
integers, USD amounts and weights decimal strings.
"""

from __future__ import annotations

from django.conf import settings
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from fulfillment import selectors as stock_selectors
from fulfillment.models import Shipment, TrackingEvent
from orders.models import Order, OrderLine
from orders.services import addresses as address_services
from orders.services.checkout import ShippingAddress
from orders.services.partner_orders import PartnerOrderLine
from storefront.errors import ApplicationError

MAX_LINE_QUANTITY = 999  # the cart's own limits (CART_MAX_LINE_QUANTITY, customs) refuse less


def _normalised(field: str, value: str) -> str:
    try:
        return address_services.NORMALISERS[field](value)
    except ApplicationError as exc:
        raise serializers.ValidationError(exc.message) from None


# --- input ---------------------------------------------------------------------------------


class LineInSerializer(serializers.Serializer):
    asin = serializers.CharField(max_length=20, help_text=_("The product's ASIN."))
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


def _lines_field() -> serializers.ListSerializer:
    return LineInSerializer(
        many=True,
        allow_empty=False,
        max_length=settings.CART_MAX_LINES,
        help_text=_("What to buy: each ASIN once."),
    )


def lines_of(validated: dict) -> list[PartnerOrderLine]:
    return [
        PartnerOrderLine(asin=line["asin"], quantity=line["quantity"])
        for line in validated["lines"]
    ]


class QuoteRequestSerializer(serializers.Serializer):
    lines = _lines_field()
    postal_code = serializers.CharField(
        required=False, max_length=10, help_text=_("Destination postal code (5 digits).")
    )

    def validate_postal_code(self, value: str) -> str:
        return _normalised("postal_code", value)


class RecipientSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=50, help_text=_("As registered with the PCCC."))
    phone = serializers.CharField(max_length=32, help_text=_("Korean mobile, 010-1234-5678."))
    postal_code = serializers.CharField(max_length=10)
    road_address = serializers.CharField(max_length=200)
    detail_address = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default=""
    )

    def validate_name(self, value: str) -> str:
        return _normalised("recipient_name", value)

    def validate_phone(self, value: str) -> str:
        return _normalised("phone", value)

    def validate_postal_code(self, value: str) -> str:
        return _normalised("postal_code", value)

    def validate_road_address(self, value: str) -> str:
        return _normalised("road_address", value)

    def validate_detail_address(self, value: str) -> str:
        return _normalised("detail_address", value)


class OrderCreateSerializer(serializers.Serializer):
    """What a partner sends to place an order. Prices, totals, status, discount and the
    partner are not fields: sending them changes nothing."""

    reference = serializers.CharField(
        max_length=100,
        required=False,
        allow_blank=True,
        default="",
        help_text=_("Your own order id (unique among your orders)."),
    )
    email = serializers.EmailField(help_text=_("The customer's email."))
    lines = _lines_field()
    recipient = RecipientSerializer()
    pccc = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        default="",
        help_text=_(
            "The recipient's PCCC (P + 12 digits); required when anything ships from the US."
        ),
    )
    customs_consent = serializers.BooleanField(
        required=False,
        default=False,
        help_text=_("The customer agreed to the collection and transfer of the PCCC."),
    )

    def shipping_address(self) -> ShippingAddress:
        recipient = self.validated_data["recipient"]
        return ShippingAddress(
            recipient_name=recipient["name"],
            phone=recipient["phone"],
            postal_code=recipient["postal_code"],
            road_address=recipient["road_address"],
            detail_address=recipient.get("detail_address", ""),
        )


class OrderListFilterSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Order.Status.choices, required=False)
    created_since = serializers.DateTimeField(
        required=False, help_text=_("Only orders placed at or after this ISO 8601 time.")
    )


# --- output --------------------------------------------------------------------------------


class LineDeliverySerializer(serializers.Serializer):
    kind = serializers.CharField(
        help_text=_("domestic (from Korea) or cross_border (from the US).")
    )
    quantity = serializers.IntegerField()
    min_days = serializers.IntegerField()
    max_days = serializers.IntegerField()
    earliest_date = serializers.DateField()
    latest_date = serializers.DateField()


def delivery_parts(*, domestic: int, cross_border: int, now=None) -> list[dict]:
    """One delivery promise per part of a line (from Korea, from the US), counted from
    ``now`` (default: the current time)."""
    parts = []
    for kind, units, days in (
        ("domestic", domestic, stock_selectors.DOMESTIC_DAYS),
        ("cross_border", cross_border, stock_selectors.CROSS_BORDER_DAYS),
    ):
        if units:
            promise = stock_selectors.delivery_promise(
                domestic_units=1 if kind == "domestic" else 0, now=now
            )
            parts.append(
                {
                    "kind": kind,
                    "quantity": units,
                    "min_days": days[0],
                    "max_days": days[1],
                    "earliest_date": promise.earliest,
                    "latest_date": promise.latest,
                }
            )
    return parts


class QuoteLineSerializer(serializers.Serializer):
    asin = serializers.CharField()
    title = serializers.CharField()
    quantity = serializers.IntegerField()
    domestic_quantity = serializers.IntegerField()
    cross_border_quantity = serializers.IntegerField()
    unit_price_krw = serializers.IntegerField()
    line_total_krw = serializers.IntegerField()
    unit_price_usd = serializers.DecimalField(max_digits=10, decimal_places=2)
    customs_class = serializers.CharField(source="customs_class_code")
    duty_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    delivery = serializers.SerializerMethodField()

    @extend_schema_field(LineDeliverySerializer(many=True))
    def get_delivery(self, line) -> list[dict]:
        data = delivery_parts(
            domestic=line.domestic_quantity, cross_border=line.cross_border_quantity
        )
        return LineDeliverySerializer(data, many=True).data


class CustomsSerializer(serializers.Serializer):
    duty_free = serializers.BooleanField()
    goods_value_usd = serializers.DecimalField(max_digits=12, decimal_places=2)
    duty_free_limit_usd = serializers.DecimalField(max_digits=8, decimal_places=2)
    explanation = serializers.CharField()


class QuoteSerializer(serializers.Serializer):
    """The landed-cost breakdown (``orders.quote.Quote``), as the storefront's checkout."""

    currency = serializers.SerializerMethodField()
    postal_code = serializers.SerializerMethodField()
    lines = QuoteLineSerializer(many=True)
    items_krw = serializers.IntegerField()
    domestic_items_krw = serializers.IntegerField()
    cross_border_items_krw = serializers.IntegerField()
    domestic_shipping_krw = serializers.IntegerField()
    cross_border_shipping_krw = serializers.IntegerField()
    shipping_krw = serializers.IntegerField()
    duty_krw = serializers.IntegerField()
    vat_krw = serializers.IntegerField()
    import_fees_krw = serializers.IntegerField()
    discount_krw = serializers.IntegerField()
    total_krw = serializers.IntegerField()
    has_cross_border = serializers.BooleanField()
    customs = CustomsSerializer()
    fx_selling_rate = serializers.DecimalField(max_digits=10, decimal_places=4)
    fx_customs_rate = serializers.DecimalField(max_digits=10, decimal_places=4)

    def get_currency(self, quote) -> str:
        return "KRW"

    def get_postal_code(self, quote) -> str:
        return self.context.get("postal_code", "")


class OrderLineSerializer(serializers.ModelSerializer):
    delivery = serializers.SerializerMethodField()

    class Meta:
        model = OrderLine
        fields = [
            "asin",
            "title",
            "quantity",
            "domestic_quantity",
            "cross_border_quantity",
            "cancelled_quantity",
            "unit_price_krw",
            "unit_price_usd",
            "line_total_krw",
            "customs_class_code",
            "duty_krw",
            "vat_krw",
            "delivery",
        ]
        read_only_fields = fields

    @extend_schema_field(LineDeliverySerializer(many=True))
    def get_delivery(self, line: OrderLine) -> list[dict]:
        order = line.order  # loaded: the order's lines are prefetched from it
        data = delivery_parts(
            domestic=line.domestic_quantity,
            cross_border=line.cross_border_quantity,
            now=order.paid_at or order.placed_at,
        )
        return LineDeliverySerializer(data, many=True).data


class OrderRecipientSerializer(serializers.Serializer):
    name = serializers.CharField(source="recipient_name")
    phone = serializers.CharField()
    postal_code = serializers.CharField()
    road_address = serializers.CharField()
    detail_address = serializers.CharField()


class OrderSerializer(serializers.ModelSerializer):
    """An order as its partner sees it. Every field is read-only."""

    reference = serializers.CharField(source="partner_reference", read_only=True)
    recipient = OrderRecipientSerializer(source="*", read_only=True)
    pccc_last4 = serializers.CharField(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    shipping_krw = serializers.IntegerField(read_only=True)
    created_at = serializers.DateTimeField(source="placed_at", read_only=True)

    class Meta:
        model = Order
        fields = [
            "number",
            "reference",
            "status",
            "email",
            "currency",
            "items_krw",
            "domestic_shipping_krw",
            "cross_border_shipping_krw",
            "shipping_krw",
            "duty_krw",
            "vat_krw",
            "discount_krw",
            "total_krw",
            "has_cross_border",
            "duty_free",
            "customs_explanation",
            "recipient",
            "pccc_last4",
            "lines",
            "created_at",
            "paid_at",
            "cancelled_at",
            "updated_at",
        ]
        read_only_fields = fields


class TrackingEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = TrackingEvent
        fields = ["code", "occurred_at", "location", "description"]
        read_only_fields = fields


class ShipmentLineSerializer(serializers.Serializer):
    asin = serializers.CharField(source="order_line.asin")
    quantity = serializers.IntegerField()


class ShipmentSerializer(serializers.ModelSerializer):
    events = TrackingEventSerializer(many=True, read_only=True)
    lines = ShipmentLineSerializer(many=True, read_only=True)

    class Meta:
        model = Shipment
        fields = [
            "kind",
            "carrier",
            "tracking_number",
            "status",
            "shipped_at",
            "delivered_at",
            "lines",
            "events",
        ]
        read_only_fields = fields
