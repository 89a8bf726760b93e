"""Warehouses and the stock they hold. Later: reservations, allocations, purchase orders,
shipments and tracking events."""

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
    """One product in one warehouse. ``available`` = on_hand − allocated; the database
    guarantees 0 ≤ allocated ≤ on_hand so nothing is ever oversold."""

    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocks")
    product = models.ForeignKey(Product, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.PositiveIntegerField(default=0)
    allocated = models.PositiveIntegerField(default=0)
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
                condition=Q(target_level__gte=F("reorder_point")),
                name="stock_target_not_below_reorder_point",
                violation_error_message=_("The target level must be at least the reorder point."),
            ),
        ]
        indexes = [models.Index(fields=["product", "warehouse"], name="stock_product_warehouse")]

    def __str__(self) -> str:
        return f"{self.warehouse.code} {self.product_id}: {self.on_hand}/{self.allocated}"

    @property
    def available(self) -> int:
        return self.on_hand - self.allocated
