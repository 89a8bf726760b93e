"""Staff admin for warehouses, stock and reservations.

Stock levels are written by ``fulfillment.services.stock``: the row is locked and the
database constraints decide, and a refusal (on hand under what is allocated or reserved, a
target under the reorder point) is shown on the form. ``allocated`` and ``reserved`` are
read-only here: they belong to allocations and reservations. Reservations are read-only:
only checkout, cancellation and expiry (``fulfillment.services.reservations``) write them.
"""

from __future__ import annotations

from django.contrib import admin
from django.db.models import F
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from catalog.admin import ServiceModelForm, search_by_asin

from .models import Reservation, Stock, Warehouse
from .services.stock import stock_create, stock_set_levels


@admin.register(Warehouse)
class WarehouseAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "priority", "is_domestic", "is_active")
    list_filter = ("is_domestic", "is_active")
    search_fields = ("code", "name")
    ordering = ("priority", "code")


class LowStockFilter(admin.SimpleListFilter):
    """Rows whose available units (on hand − allocated − reserved) fell under the reorder
    point."""

    title = _("stock level")
    parameter_name = "low_stock"

    def lookups(self, request, model_admin):
        return [
            ("yes", _("Under the reorder point")),
            ("no", _("At or above the reorder point")),
        ]

    def queryset(self, request, queryset):
        low = queryset.alias(units_free=F("on_hand") - F("allocated") - F("reserved"))
        if self.value() == "yes":
            return low.filter(units_free__lt=F("reorder_point"))
        if self.value() == "no":
            return low.filter(units_free__gte=F("reorder_point"))
        return queryset


class StockForm(ServiceModelForm):
    class Meta:
        model = Stock
        fields = ("warehouse", "product", "on_hand", "reorder_point", "target_level")

    def call_service(self) -> Stock:
        data = self.cleaned_data
        if self.instance._state.adding:
            return stock_create(
                warehouse_id=data["warehouse"].pk,
                product_id=data["product"].pk,
                on_hand=data["on_hand"],
                reorder_point=data["reorder_point"],
                target_level=data["target_level"],
            )
        return stock_set_levels(
            stock_id=self.instance.pk,
            on_hand=data["on_hand"],
            reorder_point=data["reorder_point"],
            target_level=data["target_level"],
        )


@admin.register(Stock)
class StockAdmin(admin.ModelAdmin):
    form = StockForm
    list_display = (
        "product_asin",
        "product_title",
        "warehouse",
        "on_hand",
        "allocated",
        "reserved",
        "available_units",
        "reorder_point",
        "target_level",
        "is_low",
    )
    list_display_links = ("product_asin", "product_title")
    list_filter = (LowStockFilter, "warehouse", "warehouse__is_domestic")
    list_select_related = ("product", "warehouse")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("^product__asin", "product__title")
    search_help_text = _("An ASIN (or several) finds exactly those products; words search titles.")
    autocomplete_fields = ("product", "warehouse")
    fields = (
        "product",
        "warehouse",
        "on_hand",
        "allocated",
        "reserved",
        "available_units",
        "reorder_point",
        "target_level",
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(available_units=F("on_hand") - F("allocated") - F("reserved"))
        )

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ("allocated", "reserved", "available_units")
        # A stock row stays where it is; open a new row for another warehouse or product.
        return ("product", "warehouse", "allocated", "reserved", "available_units")

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("product", "warehouse", "on_hand", "reorder_point", "target_level")
        return self.fields

    def get_search_results(self, request, queryset, search_term):
        matched = search_by_asin(queryset, search_term, field="product__asin")
        if matched is not None:
            return matched, False
        return super().get_search_results(request, queryset, search_term)

    def has_delete_permission(self, request, obj=None):
        # Reservations and allocations will point at stock rows: set on hand to 0 instead.
        return False

    def save_model(self, request, obj, form, change):
        """Already written by ``stock_create``/``stock_set_levels`` while the form validated."""

    @admin.display(description=_("ASIN"), ordering="product__asin")
    def product_asin(self, obj: Stock) -> str:
        return obj.product.asin

    @admin.display(description=_("product"), ordering="product__title")
    def product_title(self, obj: Stock) -> str:
        return Truncator(obj.product.title).chars(70)

    @admin.display(description=_("available"), ordering="available_units")
    def available_units(self, obj: Stock) -> int:
        units = getattr(obj, "available_units", None)
        return obj.available if units is None else units

    @admin.display(description=_("low"), boolean=True)
    def is_low(self, obj: Stock) -> bool:
        return obj.available < obj.reorder_point


@admin.register(Reservation)
class ReservationAdmin(admin.ModelAdmin):
    """Units held for orders awaiting payment, for staff to look at (never to edit: a
    hand-made change would leave ``Stock.reserved`` out of step)."""

    list_display = (
        "order_number",
        "product_asin",
        "warehouse",
        "quantity",
        "status",
        "expires_at",
        "created_at",
        "released_at",
    )
    list_filter = ("status", ("stock__warehouse", admin.RelatedOnlyFieldListFilter))
    list_select_related = ("order", "product", "stock__warehouse")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("order__number",)
    search_help_text = _("An order number (or part of one).")
    date_hierarchy = "created_at"
    fields = (
        "order",
        "product",
        "stock",
        "quantity",
        "status",
        "expires_at",
        "created_at",
        "released_at",
    )
    readonly_fields = fields

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, obj: Reservation) -> str:
        return obj.order.number

    @admin.display(description=_("ASIN"), ordering="product__asin")
    def product_asin(self, obj: Reservation) -> str:
        return obj.product.asin

    @admin.display(description=_("warehouse"), ordering="stock__warehouse__priority")
    def warehouse(self, obj: Reservation) -> str:
        return obj.stock.warehouse.code
