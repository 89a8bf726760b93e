"""Staff admin for warehouses, stock and reservations.

Stock levels are written by ``fulfillment.services.stock``: the row is locked and the
database constraints decide, and a refusal (on hand under what is allocated or reserved, a
target under the reorder point) is shown on the form. ``allocated`` and ``reserved`` are
read-only here: they belong to allocations and reservations. Reservations are read-only:
only checkout, cancellation and expiry (``fulfillment.services.reservations``) write them.
"""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Exists, F, Func, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from catalog.admin import ServiceModelForm, search_by_asin
from storefront.errors import ApplicationError

from .models import (
    Allocation,
    OrderForFulfillment,
    PurchaseOrder,
    PurchaseOrderLine,
    Reservation,
    Shipment,
    ShipmentLine,
    Stock,
    TrackingEvent,
    Warehouse,
)
from .services.allocation import ALLOCATABLE_STATUSES, order_allocate
from .services.restock import replenishment_receive
from .services.shipments import shipment_create, shipment_mark_shipped, shipment_units_unpacked
from .services.stock import stock_create, stock_set_levels
from .tracking_client import CARRIER_NAMES, DOMESTIC_CARRIERS


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


class StockHoldAdminMixin:
    """Read-only pages of units held on a stock row for an order (reservations,
    allocations): who, what, where."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, obj: Reservation | Allocation) -> str:
        return obj.order.number

    @admin.display(description=_("ASIN"), ordering="product__asin")
    def product_asin(self, obj: Reservation | Allocation) -> str:
        return obj.product.asin

    @admin.display(description=_("warehouse"), ordering="stock__warehouse__priority")
    def warehouse(self, obj: Reservation | Allocation) -> str:
        return obj.stock.warehouse.code


@admin.register(Reservation)
class ReservationAdmin(StockHoldAdminMixin, admin.ModelAdmin):
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


@admin.register(Allocation)
class AllocationAdmin(StockHoldAdminMixin, admin.ModelAdmin):
    """Units promised to paid order lines, for staff to look at (never to edit: only
    ``fulfillment.services.allocation`` keeps ``Stock.allocated`` in step with them)."""

    list_display = (
        "order_number",
        "product_asin",
        "warehouse",
        "quantity",
        "status",
        "from_reservation",
        "created_at",
    )
    list_filter = (
        "status",
        "from_reservation",
        ("stock__warehouse", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("order", "product", "stock__warehouse")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("order__number",)
    search_help_text = _("An order number (or part of one).")
    date_hierarchy = "created_at"
    fields = (
        "order",
        "order_line",
        "product",
        "stock",
        "quantity",
        "status",
        "from_reservation",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields


def _units(rows) -> Coalesce:
    """The summed ``quantity`` of correlated rows, 0 when there are none (a subquery, so
    the two sums never multiply each other's rows)."""
    summed = rows.order_by().annotate(total=Func(F("quantity"), function="SUM")).values("total")
    return Coalesce(Subquery(summed[:1]), 0)


class AllocationStateFilter(admin.SimpleListFilter):
    """Paid orders with or without an allocation (one without has to be re-run)."""

    title = _("allocation")
    parameter_name = "allocated"

    def lookups(self, request, model_admin):
        return [("yes", _("Allocated")), ("no", _("Not allocated"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(is_allocated=True)
        if self.value() == "no":
            return queryset.filter(is_allocated=False)
        return queryset


@admin.register(OrderForFulfillment)
class OrderForFulfillmentAdmin(admin.ModelAdmin):
    """Paid orders and how they are allocated: units promised to Korean stock, units on
    cross-border purchase orders, and the "re-run allocation" action for an order whose
    allocation failed (re-running an allocated order changes nothing)."""

    list_display = (
        "number",
        "status",
        "paid_at",
        "domestic_units",
        "cross_border_units",
        "is_allocated",
    )
    list_filter = (AllocationStateFilter, "status")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("number",)
    search_help_text = _("An order number (or part of one).")
    ordering = ("-paid_at", "-id")
    fields = ("number", "status", "paid_at", "domestic_units", "cross_border_units")
    readonly_fields = fields
    actions = ("rerun_allocation",)

    def get_queryset(self, request):
        allocations = Allocation.objects.filter(order_id=OuterRef("pk"))
        po_lines = PurchaseOrderLine.objects.filter(order_line__order_id=OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .filter(status__in=ALLOCATABLE_STATUSES)
            .annotate(
                is_allocated=Exists(allocations) | Exists(po_lines),
                domestic_units=_units(allocations.exclude(status=Allocation.Status.RELEASED)),
                cross_border_units=_units(
                    po_lines.exclude(status=PurchaseOrderLine.Status.CANCELLED)
                ),
            )
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("allocated"), boolean=True, ordering="is_allocated")
    def is_allocated(self, obj) -> bool:
        return obj.is_allocated

    @admin.display(description=_("domestic units"), ordering="domestic_units")
    def domestic_units(self, obj) -> int:
        return obj.domestic_units

    @admin.display(description=_("cross-border units"), ordering="cross_border_units")
    def cross_border_units(self, obj) -> int:
        return obj.cross_border_units

    def has_rerun_permission(self, request) -> bool:
        # Re-running writes allocations: for staff who may manage them, not every viewer.
        return request.user.has_perm("fulfillment.change_allocation")

    @admin.action(description=_("Re-run allocation"), permissions=["rerun"])
    def rerun_allocation(self, request, queryset):
        done = 0
        for order_id in queryset.values_list("pk", flat=True):
            try:
                result = order_allocate(order_id=order_id)
            except ApplicationError as exc:
                self.message_user(request, exc.message, messages.ERROR)
                continue
            done += result.created
        self.message_user(
            request, _("%(count)s order(s) allocated.") % {"count": done}, messages.SUCCESS
        )


# --- Purchase orders and receipts ----------------------------------------------------------


class PurchaseOrderLineInline(admin.TabularInline):
    """A purchase order's lines, read-only; a replenishment line still due links to the
    receipt form."""

    model = PurchaseOrderLine
    fields = (
        "product",
        "order_line",
        "quantity",
        "received",
        "expected_unit_price_usd",
        "confirmed_unit_price_usd",
        "status",
        "hold_reason",
        "receive_link",
    )
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("product", "purchase_order")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("receive"))
    def receive_link(self, line: PurchaseOrderLine) -> str:
        if not _receivable(line):
            return "—"
        url = reverse(
            "admin:fulfillment_purchaseorder_receive", args=[line.purchase_order_id, line.pk]
        )
        return format_html('<a href="{}">{}</a>', url, _("Record a receipt"))


def _receivable(line: PurchaseOrderLine) -> bool:
    return (
        line.purchase_order.kind == PurchaseOrder.Kind.REPLENISHMENT
        and line.purchase_order.status != PurchaseOrder.Status.CANCELLED
        and line.status in (PurchaseOrderLine.Status.OPEN, PurchaseOrderLine.Status.ON_HOLD)
        and line.received < line.quantity
    )


class ReceiptForm(forms.Form):
    """Units of one replenishment line that arrived; the reference (the delivery note, or
    the one proposed here) makes a repeated submission count once."""

    quantity = forms.IntegerField(label=_("Units received"), min_value=1)
    reference = forms.CharField(
        label=_("Delivery reference"),
        max_length=80,
        help_text=_("The same reference is only ever counted once for this line."),
    )


@admin.register(PurchaseOrder)
class PurchaseOrderAdmin(admin.ModelAdmin):
    """Purchase orders to Amazon (cross-border and replenishment) with their status, holds
    and lines, read-only: the sourcing and restock services write them. Units of a
    replenishment that arrived are recorded per line (``replenishment_receive``)."""

    list_display = (
        "__str__",
        "kind",
        "status",
        "supplier",
        "warehouse",
        "run_key",
        "units_ordered",
        "units_received",
        "created_at",
    )
    list_filter = (
        "kind",
        "status",
        "supplier",
        ("warehouse", admin.RelatedOnlyFieldListFilter),
    )
    list_select_related = ("warehouse",)
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("run_key", "=external_id", "=idempotency_key")
    search_help_text = _("A restock run key, or the supplier's or our own order reference.")
    date_hierarchy = "created_at"
    fields = (
        "kind",
        "supplier",
        "warehouse",
        "status",
        "hold_reason",
        "run_key",
        "idempotency_key",
        "external_id",
        "created_at",
        "submitted_at",
        "updated_at",
    )
    readonly_fields = fields
    inlines = (PurchaseOrderLineInline,)

    def get_queryset(self, request):
        live = ~Q(lines__status=PurchaseOrderLine.Status.CANCELLED)
        return (
            super()
            .get_queryset(request)
            .annotate(
                units_ordered=Sum("lines__quantity", filter=live, default=0),
                units_received=Sum("lines__received", default=0),
            )
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("units ordered"), ordering="units_ordered")
    def units_ordered(self, obj: PurchaseOrder) -> int:
        return obj.units_ordered

    @admin.display(description=_("units received"), ordering="units_received")
    def units_received(self, obj: PurchaseOrder) -> int:
        return obj.units_received

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/lines/<int:line_id>/receive/",
                self.admin_site.admin_view(self.receive_view),
                name="fulfillment_purchaseorder_receive",
            ),
            *super().get_urls(),
        ]

    def receive_view(self, request: HttpRequest, object_id: str, line_id: int) -> HttpResponse:
        """Record units of a replenishment line that arrived, possibly part of them."""
        if not request.user.has_perm("fulfillment.add_receipt"):
            raise PermissionDenied
        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        line = get_object_or_404(
            PurchaseOrderLine.objects.select_related("product", "purchase_order"),
            pk=line_id,
            purchase_order=order,
        )
        change_url = reverse("admin:fulfillment_purchaseorder_change", args=[order.pk])
        left = line.quantity - line.received
        if request.method == "POST":
            form = ReceiptForm(request.POST)
        else:
            form = ReceiptForm(
                initial={"quantity": left, "reference": f"staff-{uuid.uuid4().hex[:12]}"}
            )
        if request.method == "POST" and form.is_valid():
            try:
                receipt = replenishment_receive(
                    purchase_order_line_id=line.pk,
                    quantity=form.cleaned_data["quantity"],
                    reference=form.cleaned_data["reference"],
                    actor_id=request.user.pk,
                )
            except ApplicationError as exc:
                for field, message in exc.fields.items():
                    form.add_error(field if field in form.fields else None, message)
                if not exc.fields:
                    form.add_error(None, exc.message)
            else:
                if receipt is None:
                    self.message_user(
                        request,
                        _("Receipt %(reference)s was already recorded; nothing changed.")
                        % {"reference": form.cleaned_data["reference"]},
                        messages.WARNING,
                    )
                else:
                    self.message_user(
                        request,
                        _("%(quantity)d unit(s) of %(asin)s received into %(warehouse)s.")
                        % {
                            "quantity": receipt.quantity,
                            "asin": line.product.asin,
                            "warehouse": order.warehouse.code if order.warehouse else "—",
                        },
                        messages.SUCCESS,
                    )
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Record a receipt"),
            "opts": self.opts,
            "original": order,
            "line": line,
            "left": left,
            "form": form,
            "change_url": change_url,
        }
        return TemplateResponse(request, "admin/fulfillment/purchaseorder/receive.html", context)


# --- Shipments and tracking (issue 4) -----------------------------------------------------


class ShipmentLineInline(admin.TabularInline):
    model = ShipmentLine
    extra = 0
    fields = ("order_line", "allocation", "quantity")
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False


class TrackingEventInline(admin.TabularInline):
    """What the carrier reported, oldest first; written only by the tracking poller."""

    model = TrackingEvent
    extra = 0
    fields = ("occurred_at", "code", "location", "description", "external_id", "recorded_at")
    readonly_fields = fields
    can_delete = False
    ordering = ("occurred_at", "id")

    def has_add_permission(self, request, obj=None):
        return False


class ShipOrderForm(forms.Form):
    order_number = forms.CharField(label=_("Order number"), max_length=20)
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"), queryset=Warehouse.objects.filter(is_domestic=True, is_active=True)
    )
    carrier = forms.ChoiceField(
        label=_("Carrier"),
        choices=[(code, CARRIER_NAMES[code]) for code in DOMESTIC_CARRIERS],
    )
    tracking_number = forms.CharField(label=_("Tracking number"), max_length=60)
    mark_shipped = forms.BooleanField(
        label=_("Mark shipped now"),
        required=False,
        help_text=_("Leave unticked to print the packing list first and mark it shipped later."),
    )


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    """Parcels to customers with their tracking. Staff create them from an order's
    allocated units (``ship_order_view``: the "add" button), print the packing list and
    mark them shipped (which consumes the stock, once); everything else is written by
    ``fulfillment.services.shipments`` and the tracking poller, so the page is read-only."""

    list_display = (
        "id",
        "order_number",
        "kind",
        "warehouse",
        "carrier",
        "tracking_number",
        "status",
        "shipped_at",
        "delivered_at",
        "poll_failures",
        "packing_list_link",
    )
    list_filter = ("status", "kind", "carrier", "warehouse")
    list_select_related = ("order", "warehouse")
    list_per_page = 100
    show_full_result_count = False
    search_fields = ("tracking_number", "order__number")
    search_help_text = _("A tracking number or an order number.")
    date_hierarchy = "created_at"
    fields = (
        "order",
        "kind",
        "warehouse",
        "purchase_order",
        "carrier",
        "tracking_number",
        "status",
        "created_at",
        "shipped_at",
        "delivered_at",
        "next_poll_at",
        "poll_failures",
    )
    readonly_fields = fields
    inlines = (ShipmentLineInline, TrackingEventInline)
    actions = ("mark_shipped",)

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.display(description=_("order"), ordering="order__number")
    def order_number(self, obj: Shipment) -> str:
        return obj.order.number

    @admin.display(description=_("packing list"))
    def packing_list_link(self, obj: Shipment) -> str:
        url = reverse("admin:fulfillment_shipment_packing_list", args=[obj.pk])
        return format_html('<a href="{}" target="_blank">{}</a>', url, _("print"))

    @admin.action(description=_("Mark selected shipments shipped"), permissions=["change"])
    def mark_shipped(self, request: HttpRequest, queryset) -> None:
        done, failed = 0, []
        for shipment in queryset.filter(status=Shipment.Status.CREATED).order_by("pk"):
            try:
                shipment_mark_shipped(shipment_id=shipment.pk, actor_id=request.user.pk)
            except ApplicationError as exc:
                failed.append(f"#{shipment.pk}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(request, _("%(count)d shipment(s) marked shipped.") % {"count": done})
        for message in failed:
            self.message_user(request, message, messages.ERROR)

    def get_urls(self) -> list:
        return [
            path(
                "ship-order/",
                self.admin_site.admin_view(self.ship_order_view),
                name="fulfillment_shipment_ship_order",
            ),
            path(
                "<path:object_id>/packing-list/",
                self.admin_site.admin_view(self.packing_list_view),
                name="fulfillment_shipment_packing_list",
            ),
            *super().get_urls(),
        ]

    def add_view(self, request, form_url="", extra_context=None):
        # A shipment is made from an order's allocated units, never typed in by hand.
        return HttpResponseRedirect(reverse("admin:fulfillment_shipment_ship_order"))

    def ship_order_view(self, request: HttpRequest) -> HttpResponse:
        """Pack every allocated, unpacked unit of one order in one warehouse into a new
        shipment (optionally marking it shipped at once)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ShipOrderForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            order = OrderForFulfillment.objects.filter(number=data["order_number"].strip()).first()
            units = (
                shipment_units_unpacked(order_id=order.pk, warehouse_id=data["warehouse"].pk)
                if order
                else {}
            )
            if order is None:
                form.add_error("order_number", _("No order with this number."))
            elif not units:
                form.add_error(
                    None, _("This order has no allocated, unpacked units in this warehouse.")
                )
            else:
                try:
                    shipment = shipment_create(
                        order_id=order.pk,
                        warehouse_id=data["warehouse"].pk,
                        lines=sorted(units.items()),
                        carrier=data["carrier"],
                        tracking_number=data["tracking_number"],
                        actor_id=request.user.pk,
                    )
                    if data["mark_shipped"]:
                        shipment_mark_shipped(shipment_id=shipment.pk, actor_id=request.user.pk)
                except ApplicationError as exc:
                    field = next(iter(exc.fields), None)
                    form.add_error(field if field in form.fields else None, exc.message)
                else:
                    self.message_user(
                        request,
                        _("Shipment #%(id)d created for order %(number)s.")
                        % {"id": shipment.pk, "number": order.number},
                        messages.SUCCESS,
                    )
                    return HttpResponseRedirect(
                        reverse("admin:fulfillment_shipment_change", args=[shipment.pk])
                    )
        context = {
            **self.admin_site.each_context(request),
            "title": _("Ship an order's allocated units"),
            "opts": self.opts,
            "form": form,
        }
        return TemplateResponse(request, "admin/fulfillment/shipment/ship_order.html", context)

    def packing_list_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A printable packing list: order number, recipient, address, lines."""
        shipment = self.get_object(request, unquote(object_id))
        if shipment is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        context = {
            "shipment": shipment,
            "order": shipment.order,
            "carrier_name": CARRIER_NAMES.get(shipment.carrier, shipment.carrier),
            "lines": list(shipment.lines.select_related("order_line")),
        }
        return TemplateResponse(request, "admin/fulfillment/shipment/packing_list.html", context)


from . import admin_sourcing  # noqa: E402, F401  (sourcing actions and held lines)
