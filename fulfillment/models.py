"""Warehouses, the stock they hold, reservations taken at checkout, allocations made at
payment, purchase orders to Amazon (cross-border and replenishment) and their receipts,
shipments to customers and their tracking events."""

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Product
from orders.models import Order


class Warehouse(models.Model):
    """A place that holds stock. Domestic warehouses ship in 1–2 business days; allocation
    takes them in ``priority`` order (lowest first)."""

    code = models.SlugField(max_length=20, unique=True)
    name = models.CharField(max_length=100)
    priority = models.PositiveSmallIntegerField(default=100)
    is_domestic = models.BooleanField(default=True)
    is_active = models.BooleanField(default=True)

    class Meta:
        ordering = ["priority", "code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Stock(models.Model):
    """One product in one warehouse. ``allocated`` units belong to paid orders, ``reserved``
    units to orders awaiting payment; ``available`` = on_hand − allocated − reserved. The
    database guarantees allocated + reserved ≤ on_hand (both ≥ 0), so nothing is ever
    oversold or promised twice."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocks")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0)
    reserved = models.PositiveIntegerField(
        default=0, help_text=_("Units held for orders awaiting payment.")
    )
    reorder_point = models.PositiveIntegerField(
        default=0, help_text=_("Restock when available stock falls under this.")
    )
    target_level = models.PositiveIntegerField(
        default=0, help_text=_("Restock up to this many available units.")
    )

    class Meta:
        ordering = ["warehouse__priority", "product_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["warehouse", "product"], name="stock_one_row_per_place"
            ),
            models.CheckConstraint(
                condition=Q(allocated__gte=0) & Q(allocated__lte=F("on_hand")),
                name="stock_allocated_within_on_hand",
                violation_error_message=_("Allocated units cannot exceed units on hand."),
            ),
            models.CheckConstraint(
                condition=Q(reserved__gte=0) & Q(on_hand__gte=F("allocated") + F("reserved")),
                name="stock_reserved_within_free",
                violation_error_message=_(
                    "Allocated and reserved units together cannot exceed units on hand."
                ),
            ),
            models.CheckConstraint(
                condition=Q(target_level__gte=F("reorder_point")),
                name="stock_target_not_below_reorder_point",
                violation_error_message=_("The target level must be at least the reorder point."),
            ),
        ]
        indexes = [models.Index(fields=["product", "warehouse"], name="stock_product_warehouse")]

    def __str__(self) -> str:
        return (
            f"{self.warehouse.code} {self.product_id}: "
            f"{self.on_hand}/{self.allocated}/{self.reserved}"
        )

    @property
    def available(self) -> int:
        """Units free to promise: on hand − allocated − reserved."""
        return self.on_hand - self.allocated - self.reserved


class ReservationStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    RELEASED = "released", _("Released")
    CONVERTED = "converted", _("Converted to an allocation")


class Reservation(models.Model):
    """Units of one stock row held for an order awaiting payment.

    An active reservation counts in ``Stock.reserved``; releasing it (order cancelled or
    expired) gives the units back, converting it (order paid) turns them into an allocation.
    One row per (order, stock row), so running a reservation twice for an order can never
    hold the units twice. Written only by ``fulfillment.services.reservations``.
    """

    Status = ReservationStatus

    order = models.ForeignKey("orders.Order", on_delete=models.CASCADE, related_name="reservations")
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="reservations")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="reservations")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=ReservationStatus.choices, default=ReservationStatus.ACTIVE
    )
    expires_at = models.DateTimeField(
        help_text=_("The order's payment deadline: the units go back when it passes unpaid.")
    )
    created_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "stock"], name="reservation_one_per_order_stock"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="reservation_quantity_min_1"),
            models.CheckConstraint(
                condition=Q(status__in=ReservationStatus.values), name="reservation_status_known"
            ),
            models.CheckConstraint(
                condition=~Q(status=ReservationStatus.RELEASED) | Q(released_at__isnull=False),
                name="reservation_released_has_time",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "expires_at"], name="reservation_status_expiry"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} for order {self.order_id} ({self.status})"


class AllocationStatus(models.TextChoices):
    ALLOCATED = "allocated", _("Allocated")
    SHIPPED = "shipped", _("Shipped")
    RELEASED = "released", _("Released")


class Allocation(models.Model):
    """Units of one stock row promised to one paid order line: counted in
    ``Stock.allocated`` until the shipment leaves (``shipped``: on hand and allocated both
    go down) or the line is cancelled (``released``: the units go back). One row per
    (order line, stock row), so allocating twice can never promise the units twice.
    Written only by ``fulfillment.services.allocation``."""

    Status = AllocationStatus

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="allocations")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="allocations"
    )
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="allocations")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="allocations")
    quantity = models.PositiveIntegerField()
    status = models.CharField(
        max_length=10, choices=AllocationStatus.choices, default=AllocationStatus.ALLOCATED
    )
    from_reservation = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order_line", "stock"], name="allocation_one_per_line_stock"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="allocation_quantity_min_1"),
            models.CheckConstraint(
                condition=Q(status__in=AllocationStatus.values), name="allocation_status_known"
            ),
        ]
        indexes = [models.Index(fields=["order", "status"], name="allocation_order_status")]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} from {self.stock_id} ({self.status})"


class PurchaseOrder(models.Model):
    """An order to a supplier (Amazon): ``cross_border`` buys units for paid order lines
    that no domestic warehouse could cover and ships them to the shopper across the border;
    ``replenishment`` restocks a domestic warehouse. Sent through the sourcing client with
    ``idempotency_key``; ``external_id`` is the supplier's reference."""

    class Kind(models.TextChoices):
        CROSS_BORDER = "cross_border", _("Cross-border (for customers)")
        REPLENISHMENT = "replenishment", _("Replenishment (for a warehouse)")

    class Status(models.TextChoices):
        OPEN = "open", _("Open (collecting lines)")
        SUBMITTED = "submitted", _("Submitted")
        CONFIRMED = "confirmed", _("Confirmed by the supplier")
        SHIPPED = "shipped", _("Shipped by the supplier")
        RECEIVED = "received", _("Received")
        PARTIALLY_RECEIVED = "partially_received", _("Partially received")
        ON_HOLD = "on_hold", _("On hold")
        CANCELLED = "cancelled", _("Cancelled")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    supplier = models.CharField(max_length=40, default="amazon")
    warehouse = models.ForeignKey(
        Warehouse,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_orders",
        help_text=_("Where a replenishment is delivered."),
    )
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.OPEN)
    run_key = models.CharField(
        max_length=80,
        blank=True,
        default="",
        help_text=_("The restock run (or the day's cross-border batch) that raised it."),
    )
    idempotency_key = models.CharField(max_length=80, unique=True)
    external_id = models.CharField(max_length=80, unique=True, null=True, blank=True)
    hold_reason = models.CharField(max_length=300, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(kind="replenishment") | Q(warehouse__isnull=False),
                name="purchase_order_replenishment_has_warehouse",
            ),
            models.UniqueConstraint(
                fields=["kind", "supplier", "warehouse", "run_key"],
                condition=~Q(run_key=""),
                name="purchase_order_one_per_run",
            ),
        ]
        indexes = [models.Index(fields=["kind", "status"], name="purchase_order_kind_status")]

    def __str__(self) -> str:
        return f"PO {self.pk} {self.kind} ({self.status})"


class PurchaseOrderLine(models.Model):
    """Units of one product on a purchase order; for cross-border orders, the customer's
    order line it is bought for. ``received`` can never exceed ``quantity``."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ON_HOLD = "on_hold", _("On hold for staff")
        CANCELLED = "cancelled", _("Cancelled")
        DONE = "done", _("Done")

    purchase_order = models.ForeignKey(
        PurchaseOrder, on_delete=models.CASCADE, related_name="lines"
    )
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="+")
    order_line = models.ForeignKey(
        "orders.OrderLine",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="purchase_order_lines",
    )
    quantity = models.PositiveIntegerField()
    received = models.PositiveIntegerField(default=0)
    expected_unit_price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    confirmed_unit_price_usd = models.DecimalField(
        max_digits=10, decimal_places=2, null=True, blank=True
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    hold_reason = models.CharField(max_length=300, blank=True, default="")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=1), name="po_line_quantity_min_1"),
            models.CheckConstraint(
                condition=Q(received__lte=F("quantity")), name="po_line_received_within_quantity"
            ),
            models.UniqueConstraint(
                fields=["order_line"],
                condition=Q(order_line__isnull=False) & ~Q(status="cancelled"),
                name="po_line_one_open_per_order_line",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.product_id} on PO {self.purchase_order_id}"


class Receipt(models.Model):
    """Units of a replenishment received into the warehouse, once per ``reference`` (the
    supplier's delivery id, or the staff receipt's own), so on_hand goes up exactly once."""

    purchase_order_line = models.ForeignKey(
        PurchaseOrderLine, on_delete=models.PROTECT, related_name="receipts"
    )
    quantity = models.PositiveIntegerField()
    reference = models.CharField(max_length=80)
    received_at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["purchase_order_line", "reference"], name="receipt_once_per_reference"
            ),
            models.CheckConstraint(condition=Q(quantity__gte=1), name="receipt_quantity_min_1"),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} received on {self.purchase_order_line_id} ({self.reference})"


class Shipment(models.Model):
    """A parcel to a customer: from a domestic warehouse (``domestic``), or the
    international leg of a cross-border purchase order (``international``). Tracked by
    the tracking client until delivered."""

    class Kind(models.TextChoices):
        DOMESTIC = "domestic", _("From a Korean warehouse")
        INTERNATIONAL = "international", _("From the US")

    class Status(models.TextChoices):
        CREATED = "created", _("Being packed")
        SHIPPED = "shipped", _("Shipped")
        IN_TRANSIT = "in_transit", _("In transit")
        CUSTOMS = "customs", _("In customs")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")

    order = models.ForeignKey("orders.Order", on_delete=models.PROTECT, related_name="shipments")
    kind = models.CharField(max_length=20, choices=Kind.choices)
    warehouse = models.ForeignKey(
        Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    purchase_order = models.ForeignKey(
        PurchaseOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="shipments"
    )
    carrier = models.CharField(max_length=40)
    tracking_number = models.CharField(max_length=60, blank=True, default="")
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.CREATED)
    created_at = models.DateTimeField(auto_now_add=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_poll_at = models.DateTimeField(null=True, blank=True)
    poll_failures = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["carrier", "tracking_number"],
                condition=~Q(tracking_number=""),
                name="shipment_tracking_number_unique",
            ),
            models.CheckConstraint(
                condition=~Q(kind="domestic") | Q(warehouse__isnull=False),
                name="shipment_domestic_has_warehouse",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_poll_at"], name="shipment_poll_due"),
        ]

    def __str__(self) -> str:
        return f"{self.carrier} {self.tracking_number or '(no tracking yet)'}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        "orders.OrderLine", on_delete=models.PROTECT, related_name="shipment_lines"
    )
    allocation = models.ForeignKey(
        Allocation, null=True, blank=True, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(quantity__gte=1), name="shipment_line_quantity_min_1"
            ),
            models.UniqueConstraint(
                fields=["shipment", "order_line"], name="shipment_line_one_per_order_line"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × line {self.order_line_id}"


class TrackingEvent(models.Model):
    """One step of a parcel as the carrier reported it; stored once (by the carrier's event
    id), whatever order and however often it is reported."""

    class Code(models.TextChoices):
        PICKED_UP = "picked_up", _("Picked up")
        DEPARTED_US = "departed_us", _("Left the US")
        ARRIVED_KOREA = "arrived_korea", _("Arrived in Korea")
        CUSTOMS_CLEARED = "customs_cleared", _("Cleared customs")
        IN_TRANSIT = "in_transit", _("In transit")
        OUT_FOR_DELIVERY = "out_for_delivery", _("Out for delivery")
        DELIVERED = "delivered", _("Delivered")
        EXCEPTION = "exception", _("Delivery problem")

    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="events")
    external_id = models.CharField(max_length=80)
    code = models.CharField(max_length=20, choices=Code.choices)
    occurred_at = models.DateTimeField()
    location = models.CharField(max_length=120, blank=True, default="")
    description = models.CharField(max_length=300, blank=True, default="")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["occurred_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["shipment", "external_id"], name="tracking_event_once"),
        ]

    def __str__(self) -> str:
        return f"{self.shipment_id} {self.code} at {self.occurred_at:%Y-%m-%d %H:%M}"


class OrderForFulfillment(Order):
    """Orders as fulfillment staff see them (allocation state, "re-run allocation"): a
    proxy of ``orders.Order`` so fulfillment's admin never edits the orders app's own."""

    class Meta:
        proxy = True
        verbose_name = _("order to fulfil")
        verbose_name_plural = _("orders to fulfil")
