"""Carts, Korean shipping addresses, customs profiles (PCCC), orders and their lines, Stripe
payments and refunds, and the order status history.

An order freezes everything it was priced with (unit prices, FX rates, the customs decision,
the address and the PCCC) so that later changes to the catalog or the shopper's profile never
change what was bought. Invariants that must hold whatever code runs are database
constraints: line quantities add up, totals add up, a refund can never exceed what was
captured.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from catalog.models import Product

POSTAL_CODE_REGEX = r"^[0-9]{5}$"
# Korean mobile numbers 01X + 7–8 digits, in E.164 without the leading 0.
E164_KR_MOBILE_REGEX = r"^\+821[0-9][0-9]{7,8}$"


class Address(models.Model):
    """A saved shipping address in Korean form. The phone is stored in E.164."""

    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="addresses"
    )
    recipient_name = models.CharField(_("recipient"), max_length=50)
    english_name = models.CharField(
        _("name in English"),
        max_length=100,
        blank=True,
        default="",
        help_text=_("Optional: your name as on your passport, for customs."),
    )
    phone = models.CharField(_("mobile phone"), max_length=16)
    postal_code = models.CharField(_("postal code"), max_length=5)
    road_address = models.CharField(_("road-name address"), max_length=200)
    detail_address = models.CharField(_("detail address"), max_length=100, blank=True, default="")
    is_default = models.BooleanField(_("default address"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-is_default", "-updated_at", "-id"]
        verbose_name_plural = "addresses"
        constraints = [
            models.CheckConstraint(
                condition=Q(postal_code__regex=POSTAL_CODE_REGEX), name="address_postal_code_5"
            ),
            models.CheckConstraint(
                condition=Q(phone__regex=E164_KR_MOBILE_REGEX), name="address_phone_e164_mobile"
            ),
            models.UniqueConstraint(
                fields=["customer"], condition=Q(is_default=True), name="address_one_default"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.recipient_name}, {self.postal_code} {self.road_address}"


class CustomsProfile(models.Model):
    """A shopper's verified PCCC (개인통관고유부호), encrypted at rest, with the consent they
    gave. Reused at the next checkout when name, phone and postal code still match."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="customs_profile"
    )
    pccc_encrypted = models.TextField(editable=False)
    pccc_last4 = models.CharField(max_length=4, editable=False)
    verified_name = models.CharField(max_length=50)
    verified_phone = models.CharField(max_length=16)
    verified_postal_code = models.CharField(max_length=5)
    verified_at = models.DateTimeField()
    consented_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"customs profile of {self.customer_id} (…{self.pccc_last4})"


class Cart(models.Model):
    """A shopping cart: a signed-in shopper's (one each) or an anonymous session's."""

    customer = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="cart",
    )
    session_key = models.CharField(max_length=40, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | Q(session_key__isnull=False),
                name="cart_has_owner",
            )
        ]

    def __str__(self) -> str:
        return f"cart {self.pk}"


class CartLine(models.Model):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    quantity = models.PositiveIntegerField()
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["cart", "product"], name="cart_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="cart_line_quantity_min_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id}"


class OrderStatus(models.TextChoices):
    PENDING_PAYMENT = "pending_payment", _("Awaiting payment")
    PAID = "paid", _("Paid")
    PROCESSING = "processing", _("Processing")
    SHIPPED = "shipped", _("Shipped")
    DELIVERED = "delivered", _("Delivered")
    CANCELLED = "cancelled", _("Cancelled")
    PARTIALLY_REFUNDED = "partially_refunded", _("Partially refunded")
    REFUNDED = "refunded", _("Refunded")


class Order(models.Model):
    """One purchase, priced and frozen at placement. ``status`` changes only through
    ``orders.lifecycle.order_transition``, which records each change."""

    Status = OrderStatus

    number = models.CharField(max_length=20, unique=True)
    customer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    # Placed through the partner API on behalf of the partner's customer (docs/api.md):
    # charged to the partner's account, visible to that partner only.
    partner = models.ForeignKey(
        "storefront.Partner",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
    )
    partner_reference = models.CharField(
        max_length=100, blank=True, default="", help_text=_("The partner's own order id.")
    )
    email = models.EmailField()
    status = models.CharField(
        max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING_PAYMENT
    )
    currency = models.CharField(max_length=3, default="KRW", editable=False)

    # The quote as placed, in whole won.
    items_krw = models.PositiveIntegerField()
    domestic_shipping_krw = models.PositiveIntegerField(default=0)
    cross_border_shipping_krw = models.PositiveIntegerField(default=0)
    duty_krw = models.PositiveIntegerField(default=0)
    vat_krw = models.PositiveIntegerField(default=0)
    discount_krw = models.PositiveIntegerField(default=0)
    total_krw = models.PositiveIntegerField()

    # Rates and the customs decision it was priced with.
    fx_selling_rate = models.DecimalField(max_digits=10, decimal_places=4)
    fx_customs_rate = models.DecimalField(max_digits=10, decimal_places=4)
    price_margin = models.DecimalField(max_digits=5, decimal_places=4)
    customs_goods_value_usd = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    duty_free_limit_usd = models.DecimalField(max_digits=8, decimal_places=2, default=0)
    duty_free = models.BooleanField(default=True)
    customs_explanation = models.TextField(blank=True, default="")
    has_cross_border = models.BooleanField(default=False)

    # Shipping address, frozen.
    recipient_name = models.CharField(max_length=50)
    english_name = models.CharField(max_length=100, blank=True, default="")
    phone = models.CharField(max_length=16)
    postal_code = models.CharField(max_length=5)
    road_address = models.CharField(max_length=200)
    detail_address = models.CharField(max_length=100, blank=True, default="")

    # Customs clearance (only when something ships cross-border).
    pccc_encrypted = models.TextField(blank=True, default="", editable=False)
    pccc_last4 = models.CharField(max_length=4, blank=True, default="", editable=False)
    customs_consent_at = models.DateTimeField(null=True, blank=True)

    placed_at = models.DateTimeField(auto_now_add=True)
    payment_due_at = models.DateTimeField(
        help_text=_("An unpaid order is cancelled at this time and its stock released.")
    )
    paid_at = models.DateTimeField(null=True, blank=True)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-placed_at", "-id"]
        # Partial refunds (the admin refund form) are finance's, apart from changing orders
        # (cancel-and-refund, resend), which customer service does: storefront/staff_groups.py.
        permissions = [("refund_order", "Can refund an amount or units of an order")]
        indexes = [
            models.Index(fields=["customer", "-placed_at"], name="order_customer_newest"),
            models.Index(fields=["status", "payment_due_at"], name="order_status_due"),
            models.Index(fields=["phone"], name="order_phone"),
            models.Index(fields=["email"], name="order_email"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(
                    total_krw=F("items_krw")
                    + F("domestic_shipping_krw")
                    + F("cross_border_shipping_krw")
                    + F("duty_krw")
                    + F("vat_krw")
                    - F("discount_krw")
                ),
                name="order_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(discount_krw__lte=F("items_krw")), name="order_discount_within_items"
            ),
            models.UniqueConstraint(
                fields=["partner", "partner_reference"],
                condition=~Q(partner_reference=""),
                name="order_partner_reference_unique",
            ),
            models.CheckConstraint(
                condition=Q(has_cross_border=False)
                | (~Q(pccc_encrypted="") & Q(customs_consent_at__isnull=False)),
                name="order_cross_border_needs_pccc",
            ),
            models.CheckConstraint(
                condition=Q(status__in=OrderStatus.values), name="order_status_known"
            ),
        ]

    def __str__(self) -> str:
        return self.number

    def get_absolute_url(self) -> str:
        return reverse("orders:detail", kwargs={"number": self.number})

    @property
    def shipping_krw(self) -> int:
        return self.domestic_shipping_krw + self.cross_border_shipping_krw

    @property
    def import_fees_krw(self) -> int:
        return self.duty_krw + self.vat_krw


class OrderLine(models.Model):
    """One product in an order, split into what ships from Korea and what ships
    cross-border, with its price and customs class frozen."""

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="lines")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="order_lines")
    asin = models.CharField(max_length=10)
    title = models.TextField()
    quantity = models.PositiveIntegerField()
    domestic_quantity = models.PositiveIntegerField(default=0)
    cross_border_quantity = models.PositiveIntegerField(default=0)
    unit_price_krw = models.PositiveIntegerField()
    unit_price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    line_total_krw = models.PositiveIntegerField()
    customs_class_code = models.CharField(max_length=40)
    duty_rate = models.DecimalField(max_digits=5, decimal_places=4)
    duty_krw = models.PositiveIntegerField(default=0)
    vat_krw = models.PositiveIntegerField(default=0)
    weight_kg = models.DecimalField(max_digits=8, decimal_places=3)
    cancelled_quantity = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["order", "product"], name="order_line_one_per_product"),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="order_line_quantity_min_1"),
            models.CheckConstraint(
                condition=Q(quantity=F("domestic_quantity") + F("cross_border_quantity")),
                name="order_line_split_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(line_total_krw=F("unit_price_krw") * F("quantity")),
                name="order_line_total_adds_up",
            ),
            models.CheckConstraint(
                condition=Q(cancelled_quantity__lte=F("quantity")),
                name="order_line_cancelled_within_quantity",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.asin}"


class OrderStatusChange(models.Model):
    """Every status change of an order: from, to, who or what, why, when. Append-only."""

    class ActorType(models.TextChoices):
        CUSTOMER = "customer", _("Customer")
        STAFF = "staff", _("Staff")
        SYSTEM = "system", _("System")
        PAYMENT_PROVIDER = "payment_provider", _("Payment provider")
        PARTNER = "partner", _("Partner")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="status_changes")
    from_status = models.CharField(max_length=20, blank=True, default="")
    to_status = models.CharField(max_length=20, choices=OrderStatus.choices)
    actor_type = models.CharField(max_length=20, choices=ActorType.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    reason = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.order_id}: {self.from_status or '∅'} → {self.to_status}"


class Payment(models.Model):
    """A Stripe PaymentIntent for an order. The idempotency key is stored before the call to
    Stripe, so a retry after a crash or timeout reuses it and never creates a second one."""

    class Status(models.TextChoices):
        CREATING = "creating", _("Being created")
        REQUIRES_PAYMENT = "requires_payment", _("Awaiting card")
        PROCESSING = "processing", _("Processing")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        CANCELLED = "cancelled", _("Cancelled")

    order = models.ForeignKey(Order, on_delete=models.PROTECT, related_name="payments")
    provider = models.CharField(max_length=20, default="stripe")
    idempotency_key = models.CharField(max_length=80, unique=True)
    payment_intent_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    client_secret = models.CharField(max_length=200, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATING)
    amount_krw = models.PositiveIntegerField()
    captured_krw = models.PositiveIntegerField(default=0)
    refunded_krw = models.PositiveIntegerField(default=0)
    last_error_code = models.CharField(max_length=80, blank=True, default="")
    last_error_message = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(refunded_krw__lte=F("captured_krw")),
                name="payment_refunded_within_captured",
            ),
            models.CheckConstraint(
                condition=Q(captured_krw__lte=F("amount_krw")),
                name="payment_captured_within_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.payment_intent_id or f"payment {self.pk}"


class Refund(models.Model):
    """Money returned through Stripe. Created (with its idempotency key) before Stripe is
    called; ``payment.refunded_krw`` counts it when Stripe confirms, and the database
    refuses a total above what was captured."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount_krw = models.PositiveIntegerField()
    reason = models.CharField(max_length=200, blank=True, default="")
    lines = models.JSONField(
        default=dict, blank=True, help_text=_("Order line id → quantity refunded, if per line.")
    )
    idempotency_key = models.CharField(max_length=80, unique=True)
    stripe_refund_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount_krw__gte=1), name="refund_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"refund {self.amount_krw} on {self.payment_id}"


class StripeEvent(models.Model):
    """Each Stripe webhook event, recorded once by its id (a redelivery is a no-op)."""

    event_id = models.CharField(max_length=80, unique=True)
    type = models.CharField(max_length=80)
    payment_intent_id = models.CharField(max_length=80, blank=True, default="", db_index=True)
    payload = models.JSONField()
    received_at = models.DateTimeField(auto_now_add=True)
    processed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.type} {self.event_id}"


class OrderNotification(models.Model):
    """An email sent to the shopper about an order. The automatic one of each kind is
    recorded once (a redelivered event finds the row and sends nothing); a resend that staff
    ask for adds a row of its own, saying who asked."""

    class Kind(models.TextChoices):
        CONFIRMATION = "confirmation", _("Order confirmation")
        CANCELLATION = "cancellation", _("Cancellation")
        REFUND = "refund", _("Refund")
        SHIPMENT = "shipment", _("Shipment update")
        DELIVERY_CHANGE = "delivery_change", _("Delivery change")

    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # What the automatic email was about when one order gets several of a kind (a refund's
    # event id, a shipment and its step); empty for once-per-order kinds.
    reference = models.CharField(max_length=80, blank=True, default="")
    is_resend = models.BooleanField(default=False)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sent_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "kind", "reference"],
                condition=Q(is_resend=False),
                name="order_notification_once",
            ),
            models.CheckConstraint(
                condition=Q(
                    kind__in=[
                        "confirmation",
                        "cancellation",
                        "refund",
                        "shipment",
                        "delivery_change",
                    ]
                ),
                name="order_notification_kind_known",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.order_id}"
