"""Staff admin for Amazon sourcing: purchase-order lines with their holds, and the actions
that call ``fulfillment.services.sourcing``.

Imported at the end of ``fulfillment/admin.py``. Lines are read-only here: the sourcing
run and allocation write them; staff only cancel a held line (which refunds the shopper
through the ``purchase_order_line.cancelled`` event). Cancelling refunds money, so it needs
the orders refund permission (``orders.change_order``), which fulfillment staff lack. The
purchase-order admin (registered in ``fulfillment/admin.py``) gets "send now" and "ask
Amazon" actions when it is registered.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from storefront.errors import ApplicationError

from .models import PurchaseOrder, PurchaseOrderLine
from .services.sourcing import (
    purchase_order_line_cancel,
    purchase_order_refresh,
    purchase_order_submit,
)

REFUND_PERMISSION = "orders.change_order"


@admin.register(PurchaseOrderLine)
class PurchaseOrderLineAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "purchase_order",
        "product",
        "order_line",
        "quantity",
        "expected_unit_price_usd",
        "confirmed_unit_price_usd",
        "status",
        "hold_reason",
    )
    list_filter = ("status", "purchase_order__kind")
    list_select_related = ("purchase_order", "product", "order_line")
    search_fields = ("^product__asin", "hold_reason", "=purchase_order__external_id")
    actions = ("cancel_and_refund",)
    readonly_fields = [field.name for field in PurchaseOrderLine._meta.fields]

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # read-only: the services write lines

    def has_refund_permission(self, request) -> bool:
        return request.user.has_perm(REFUND_PERMISSION)

    @admin.action(description=_("Cancel and refund the held lines"), permissions=["refund"])
    def cancel_and_refund(self, request, queryset) -> None:
        done, refused = 0, []
        for line in queryset.order_by("pk"):
            try:
                purchase_order_line_cancel(line_id=line.pk, actor_id=request.user.pk)
            except ApplicationError as exc:
                refused.append(f"#{line.pk}: {exc.message}")
            else:
                done += 1
        if done:
            self.message_user(
                request,
                ngettext(
                    "%(count)d line cancelled; the shopper will be refunded.",
                    "%(count)d lines cancelled; the shoppers will be refunded.",
                    done,
                )
                % {"count": done},
                messages.SUCCESS,
            )
        for message in refused:
            self.message_user(request, message, messages.ERROR)


@admin.action(description=_("Send to Amazon now"), permissions=["sourcing"])
def purchase_orders_send_now(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, purchase_order_submit)


@admin.action(description=_("Ask Amazon for the status now"), permissions=["sourcing"])
def purchase_orders_refresh_now(modeladmin, request, queryset) -> None:
    _each(modeladmin, request, queryset, purchase_order_refresh)


def _each(modeladmin, request, queryset, service) -> None:
    for purchase_order_id in queryset.order_by("pk").values_list("pk", flat=True):
        try:
            purchase_order = service(purchase_order_id=purchase_order_id)
        except ApplicationError as exc:
            modeladmin.message_user(
                request, f"PO {purchase_order_id}: {exc.message}", messages.ERROR
            )
        else:
            modeladmin.message_user(
                request, f"PO {purchase_order_id}: {purchase_order.get_status_display()}"
            )


def _has_sourcing_permission(request) -> bool:
    return request.user.has_perm("fulfillment.change_purchaseorder")


def _add_purchase_order_actions() -> None:
    model_admin = admin.site._registry.get(PurchaseOrder)
    if model_admin is None:
        return
    # That admin is read-only (no change permission), so the actions ask for the model's
    # change permission themselves.
    model_admin.has_sourcing_permission = _has_sourcing_permission
    current = tuple(model_admin.actions or ())
    extra = tuple(
        a for a in (purchase_orders_send_now, purchase_orders_refresh_now) if a not in current
    )
    model_admin.actions = current + extra


_add_purchase_order_actions()
