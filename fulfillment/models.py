"""Warehouses, the stock they hold and the reservations checkout takes on it. Later:
allocations, purchase orders, shipments and tracking events."""

from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _

from catalog.models import Product


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
