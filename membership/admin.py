"""Staff admin for carrier membership points: linked accounts, tier rules, point holds, the
points ledger and the daily reconciliation with the carrier.

- Nothing is deleted here, and nothing but tier rules is edited in a form: holds move only
  through ``membership.services.holds`` (the "retry" action), runs are made only by
  ``membership.services.reconciliation`` (the "run again" action), the ledger is
  append-only.
- A member's phone is shown masked (``010-****-5678``) in the list and on the account page;
  the full number is never rendered.
- Every service refusal or carrier failure of an action is shown as a message per row,
  never as a server error.
- List pages cost a fixed number of queries whatever the page size (``list_select_related``,
  links built from foreign key ids).

Permissions: accounts, entries, mismatches: view. Tier rules: change (staff edit rate, cap,
uses per day, on/off). Holds: view; the retry action needs ``membership.change_pointhold``.
Runs: view; "run again" needs ``membership.change_reconciliationrun``.
"""

from __future__ import annotations

import logging
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from orders.admin import ReadOnlyAdmin
from orders.phones import phone_mask
from storefront.errors import ApplicationError

from .errors import PointsCarrierUnavailable
from .models import (
    CarrierAccount,
    PointEntry,
    PointHold,
    ReconciliationMismatch,
    ReconciliationRun,
    TierRule,
)

logger = logging.getLogger(__name__)


class ActionOnlyAdmin(admin.ModelAdmin):
    """Read-only pages; the model's change permission only unlocks the list's actions
    (which go through a service), never the edit form."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        if obj is not None:
            return False
        return super().has_change_permission(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


def _hold_link(hold_id: int | None) -> str:
    if hold_id is None:
        return "—"
    url = reverse("admin:membership_pointhold_change", args=[hold_id])
    return format_html('<a href="{}">#{}</a>', url, hold_id)


def _entry_link(entry_id: int | None) -> str:
    if entry_id is None:
        return "—"
    url = reverse("admin:membership_pointentry_change", args=[entry_id])
    return format_html('<a href="{}">#{}</a>', url, entry_id)


# --- Accounts -------------------------------------------------------------------------------


class LinkedFilter(admin.SimpleListFilter):
    title = _("link")
    parameter_name = "linked"

    def lookups(self, request: HttpRequest, model_admin: admin.ModelAdmin) -> list:
        return [("yes", _("Linked")), ("no", _("Unlinked"))]

    def queryset(self, request: HttpRequest, queryset: QuerySet) -> QuerySet:
        if self.value() == "yes":
            return queryset.filter(unlinked_at__isnull=True)
        if self.value() == "no":
            return queryset.filter(unlinked_at__isnull=False)
        return queryset


@admin.register(CarrierAccount)
class CarrierAccountAdmin(ReadOnlyAdmin):
    list_display = (
        "member_ref",
        "customer_email",
        "phone_masked",
        "tier",
        "carrier_balance",
        "synced_at",
        "linked",
    )
    list_select_related = ("customer",)
    list_filter = (LinkedFilter, "tier", "carrier")
    search_fields = ("member_ref", "customer__email")
    ordering = ("-linked_at", "-id")
    # ``phone`` itself is never a field here: only its mask is rendered.
    fields = (
        "customer_email",
        "carrier",
        "member_ref",
        "phone_masked",
        "tier",
        "carrier_balance",
        "synced_at",
        "linked_at",
        "unlinked_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CarrierAccount]:
        return super().get_queryset(request).select_related("customer")

    @admin.display(description=_("customer"), ordering="customer__email")
    def customer_email(self, account: CarrierAccount) -> str:
        return account.customer.email or account.customer.get_username()

    @admin.display(description=_("mobile phone"))
    def phone_masked(self, account: CarrierAccount) -> str:
        return phone_mask(account.phone)

    @admin.display(description=_("linked"), boolean=True)
    def linked(self, account: CarrierAccount) -> bool:
        return account.is_linked


# --- Tier rules -----------------------------------------------------------------------------


class TierRuleForm(forms.ModelForm):
    class Meta:
        model = TierRule
        fields = ("rate", "cap_krw", "uses_per_day", "is_active")

    def clean_rate(self):
        rate = self.cleaned_data["rate"]
        if rate is not None and not 0 <= rate <= 1:
            raise forms.ValidationError(
                _("The rate is a share between 0 and 1, e.g. 0.100 for ten percent.")
            )
        return rate

    def clean_uses_per_day(self):
        uses = self.cleaned_data["uses_per_day"]
        if uses is not None and uses < 1:
            raise forms.ValidationError(
                _("At least one order a day; untick “discount offered” to stop the discount.")
            )
        return uses

    def clean_cap_krw(self):
        cap = self.cleaned_data["cap_krw"]
        if cap is not None and cap < 1:
            raise forms.ValidationError(
                _("The cap is at least ₩1; untick “discount offered” to stop the discount.")
            )
        return cap


@admin.register(TierRule)
class TierRuleAdmin(admin.ModelAdmin):
    """The three tiers are seeded (migration 0002) and never added or deleted here."""

    form = TierRuleForm
    list_display = ("tier", "rate_percent", "cap_krw", "uses_per_day", "is_active", "updated_at")
    list_filter = ("is_active",)
    fields = ("tier", "rate", "cap_krw", "uses_per_day", "is_active", "updated_at")
    readonly_fields = ("tier", "updated_at")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("discount rate"), ordering="rate")
    def rate_percent(self, rule: TierRule) -> str:
        return f"{rule.rate:.1%}"


# --- Holds ----------------------------------------------------------------------------------


@admin.register(PointHold)
class PointHoldAdmin(ActionOnlyAdmin):
    list_display = (
        "id",
        "status",
        "points",
        "refunded_points",
        "order_link",
        "member_ref",
        "discount_day",
        "attempts",
        "last_error_short",
        "created_at",
    )
    list_select_related = ("order",)
    list_filter = ("status", "discount_day")
    search_fields = ("member_ref", "order__number", "carrier_hold_id", "=idempotency_key")
    ordering = ("-created_at", "-id")
    actions = ("retry_settle",)
    fields = (
        "status",
        "points",
        "refunded_points",
        "order_link",
        "account_link",
        "member_ref",
        "tier",
        "rate",
        "cap_krw",
        "merchandise_krw",
        "discount_day",
        "day_use",
        "carrier_hold_id",
        "idempotency_key",
        "expires_at",
        "attempts",
        "last_error",
        "created_at",
        "updated_at",
        "resolved_at",
    )
    readonly_fields = fields

    @admin.display(description=_("order"), ordering="order__number")
    def order_link(self, hold: PointHold) -> str:
        if hold.order_id is None:
            return "—"
        url = reverse("admin:orders_order_change", args=[hold.order_id])
        return format_html('<a href="{}">{}</a>', url, hold.order.number)

    @admin.display(description=_("account"))
    def account_link(self, hold: PointHold) -> str:
        url = reverse("admin:membership_carrieraccount_change", args=[hold.account_id])
        return format_html('<a href="{}">{}</a>', url, hold.member_ref)

    @admin.display(description=_("last error"))
    def last_error_short(self, hold: PointHold) -> str:
        return Truncator(hold.last_error).chars(60)

    @admin.action(
        description=_("Retry capture/release through the service"), permissions=["change"]
    )
    def retry_settle(self, request: HttpRequest, queryset: QuerySet[PointHold]) -> None:
        """Settle each selected hold as its order says (``points_hold_settle``): paid →
        captured, cancelled or never placed → released, still awaiting payment → unchanged.
        One message per hold."""
        from .services.holds import points_hold_settle

        for hold_id, before in queryset.order_by("pk").values_list("pk", "status"):
            try:
                hold = points_hold_settle(hold_id=hold_id)
            except PointsCarrierUnavailable as exc:
                self.message_user(
                    request,
                    _("Hold %(id)s: carrier unavailable: %(error)s; it stays %(status)s.")
                    % {
                        "id": hold_id,
                        "error": exc.message,
                        "status": PointHold.Status(before).label,
                    },
                    messages.WARNING,
                )
            except ApplicationError as exc:
                self.message_user(
                    request,
                    _("Hold %(id)s: %(error)s") % {"id": hold_id, "error": exc.message},
                    messages.ERROR,
                )
            except Exception:
                logger.exception("admin retry of point hold %s failed", hold_id)
                self.message_user(
                    request,
                    _("Hold %(id)s: could not be settled right now; try again later.")
                    % {"id": hold_id},
                    messages.ERROR,
                )
            else:
                if hold.status == before:
                    self.message_user(
                        request,
                        _("Hold %(id)s: nothing to do, it stays %(status)s.")
                        % {"id": hold_id, "status": hold.get_status_display()},
                        messages.INFO,
                    )
                else:
                    self.message_user(
                        request,
                        _("Hold %(id)s: settled to %(status)s.")
                        % {"id": hold_id, "status": hold.get_status_display()},
                        messages.SUCCESS,
                    )


# --- Ledger ---------------------------------------------------------------------------------


@admin.register(PointEntry)
class PointEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "id",
        "member_ref",
        "sequence",
        "kind",
        "points",
        "available_delta",
        "held_delta",
        "available_after",
        "held_after",
        "carrier_transaction_id",
        "carrier_at",
        "hold_link",
        "created_at",
    )
    list_select_related = ("account",)
    list_filter = ("kind", "carrier_at")
    search_fields = ("account__member_ref", "=carrier_transaction_id", "=hold__id")
    ordering = ("-id",)
    fields = (
        "member_ref",
        "sequence",
        "kind",
        "points",
        "available_delta",
        "held_delta",
        "available_after",
        "held_after",
        "carrier_transaction_id",
        "carrier_at",
        "idempotency_key",
        "hold_link",
        "note",
        "created_at",
    )
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[PointEntry]:
        return super().get_queryset(request).select_related("account")

    @admin.display(description=_("member"), ordering="account__member_ref")
    def member_ref(self, entry: PointEntry) -> str:
        return entry.account.member_ref

    @admin.display(description=_("hold"))
    def hold_link(self, entry: PointEntry) -> str:
        return _hold_link(entry.hold_id)


# --- Reconciliation -------------------------------------------------------------------------


class ReconciliationMismatchInline(admin.TabularInline):
    model = ReconciliationMismatch
    fields = ("kind", "carrier_transaction_id", "entry_link", "detail", "carrier_data")
    readonly_fields = fields
    extra = 0
    max_num = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("ledger entry"))
    def entry_link(self, mismatch: ReconciliationMismatch) -> str:
        return _entry_link(mismatch.entry_id)


@admin.register(ReconciliationRun)
class ReconciliationRunAdmin(ActionOnlyAdmin):
    list_display = (
        "day",
        "status",
        "carrier_count",
        "local_count",
        "mismatch_count",
        "started_at",
        "finished_at",
        "error_short",
    )
    list_filter = ("status", "day")
    date_hierarchy = "day"
    ordering = ("-day", "-started_at")
    inlines = (ReconciliationMismatchInline,)
    actions = ("run_again",)
    fields = (
        "day",
        "status",
        "carrier_count",
        "local_count",
        "mismatch_count",
        "started_at",
        "finished_at",
        "error",
    )
    readonly_fields = fields

    @admin.display(description=_("error"))
    def error_short(self, run: ReconciliationRun) -> str:
        return Truncator(run.error).chars(60)

    @admin.action(description=_("Run reconciliation again for this day"), permissions=["change"])
    def run_again(self, request: HttpRequest, queryset: QuerySet[ReconciliationRun]) -> None:
        """A new run per selected day (``points_reconcile``); earlier runs stay as they are."""
        from .services.reconciliation import points_reconcile

        for day in sorted(set(queryset.values_list("day", flat=True))):
            try:
                run = points_reconcile(day=day)
            except Exception:
                logger.exception("admin reconciliation of %s failed", day)
                self.message_user(
                    request,
                    _("%(day)s: the reconciliation could not run; try again later.") % {"day": day},
                    messages.ERROR,
                )
                continue
            if run.status == ReconciliationRun.Status.FAILED:
                self.message_user(
                    request,
                    _("%(day)s: could not run: %(error)s") % {"day": day, "error": run.error},
                    messages.WARNING,
                )
            elif run.status == ReconciliationRun.Status.MISMATCHED:
                self.message_user(
                    request,
                    _("%(day)s: %(count)d mismatch(es) found.")
                    % {"day": day, "count": run.mismatch_count},
                    messages.WARNING,
                )
            else:
                self.message_user(
                    request,
                    _("%(day)s: matched (%(count)d carrier transactions).")
                    % {"day": day, "count": run.carrier_count},
                    messages.SUCCESS,
                )


@admin.register(ReconciliationMismatch)
class ReconciliationMismatchAdmin(ReadOnlyAdmin):
    list_display = ("id", "run_day", "kind", "carrier_transaction_id", "entry_link", "detail")
    list_select_related = ("run",)
    list_filter = ("kind", "run__day")
    search_fields = ("=carrier_transaction_id", "detail")
    ordering = ("-run__day", "-id")
    fields = ("run_link", "kind", "carrier_transaction_id", "entry_link", "detail", "carrier_data")
    readonly_fields = fields

    @admin.display(description=_("day (Seoul)"), ordering="run__day")
    def run_day(self, mismatch: ReconciliationMismatch):
        return mismatch.run.day

    @admin.display(description=_("run"))
    def run_link(self, mismatch: ReconciliationMismatch) -> str:
        url = reverse("admin:membership_reconciliationrun_change", args=[mismatch.run_id])
        return format_html('<a href="{}">{}</a>', url, mismatch.run)

    @admin.display(description=_("ledger entry"))
    def entry_link(self, mismatch: ReconciliationMismatch) -> str:
        return _entry_link(mismatch.entry_id)
