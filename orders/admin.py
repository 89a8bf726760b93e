"""Staff admin for orders: the order list and a read-only order page (lines, payments,
refunds, status history, outbox events, emails sent), with the actions staff need —
cancel and refund, refund an amount, resend the confirmation email — and read-only pages
for payments, refunds, Stripe events, customs profiles and carts.

Nothing here writes a domain model itself: cancellation and refunds go through
``orders.services.payments``, emails through ``orders.emails``. Every refusal or failure of
a service is shown as a message, never as a server error. Personal data is shown as little
as the task needs: the phone masked in lists, the PCCC only as its mask (last four digits),
never its ciphertext; Stripe client secrets never.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet, Sum
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from catalog.templatetags.catalog_tags import won
from storefront.errors import ApplicationError
from storefront.models import OutboxEvent

from . import phones
from .models import (
    Cart,
    CartLine,
    CustomsProfile,
    Order,
    OrderLine,
    OrderNotification,
    OrderStatusChange,
    Payment,
    Refund,
    StripeEvent,
)
from .pccc import pccc_mask

logger = logging.getLogger(__name__)

SEOUL = ZoneInfo("Asia/Seoul")
# What a phone number search may look like: digits with +, spaces, dots, hyphens, brackets.
PHONE_SEARCH_RE = re.compile(r"^\+?[\d\s\-.()]{9,20}$")
# Statuses whose shopper has been told the order is paid and may be told again.
CONFIRMABLE = frozenset(
    {
        Order.Status.PAID,
        Order.Status.PROCESSING,
        Order.Status.SHIPPED,
        Order.Status.DELIVERED,
        Order.Status.PARTIALLY_REFUNDED,
    }
)
# Keys of Stripe objects that must never be shown (a PaymentIntent's client secret lets
# anyone holding it confirm the payment).
STRIPE_SECRET_KEYS = frozenset({"client_secret"})


def seoul(value) -> str:
    """A datetime as staff read it: Seoul time, to the minute."""
    if value is None:
        return "—"
    return timezone.localtime(value, SEOUL).strftime("%Y-%m-%d %H:%M")


def phone_search_e164(term: str) -> str | None:
    """The stored (E.164) form of a phone number typed into the search box
    (``010-1234-5678``, ``01012345678``, ``+82 10 1234 5678``), or None when the term is not
    a phone number."""
    if not PHONE_SEARCH_RE.fullmatch(term):
        return None
    try:
        return phones.phone_normalize(term)
    except ApplicationError:
        digits = re.sub(r"\D", "", term)
        if digits.startswith("0"):
            return "+82" + digits[1:]
        if digits.startswith("82"):
            return "+" + digits
        return None


def won_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """An admin column or read-only field showing the won amount ``field``, sortable by it."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, obj: Any) -> str:
        return won(getattr(obj, field))

    return column


def seoul_column(field: str, description: str) -> Callable[[Any, Any], str]:
    """An admin column or read-only field showing the datetime ``field`` in Seoul time."""

    @admin.display(description=description, ordering=field)
    def column(model_admin: Any, obj: Any) -> str:
        return seoul(getattr(obj, field))

    return column


def refundable_krw(order: Order) -> int:
    """What can still be refunded on the order's captured payments (captured − refunded −
    refunds still pending)."""
    total = 0
    for payment in order.payments.filter(status=Payment.Status.SUCCEEDED):
        pending = (
            payment.refunds.filter(status=Refund.Status.PENDING).aggregate(total=Sum("amount_krw"))[
                "total"
            ]
            or 0
        )
        total += max(0, payment.captured_krw - payment.refunded_krw - pending)
    return total


def stripe_redacted(value: Any) -> Any:
    """A Stripe payload with its secrets replaced, for display."""
    if isinstance(value, dict):
        return {
            key: "[redacted]" if key in STRIPE_SECRET_KEYS else stripe_redacted(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [stripe_redacted(item) for item in value]
    return value


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model staff may look at but never add, change or delete here."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


# --- Orders ---------------------------------------------------------------------------------


class OrderLineInline(ReadOnlyInline):
    model = OrderLine
    fields = (
        "asin",
        "title_short",
        "quantity",
        "domestic_quantity",
        "cross_border_quantity",
        "cancelled_quantity",
        "unit_price",
        "line_total",
        "customs_class_code",
        "duty",
        "vat",
    )
    readonly_fields = fields

    @admin.display(description=_("title"))
    def title_short(self, line: OrderLine) -> str:
        return Truncator(line.title).chars(80)

    @admin.display(description=_("unit price"))
    def unit_price(self, line: OrderLine) -> str:
        return f"{won(line.unit_price_krw)} (USD {line.unit_price_usd})"

    line_total = won_column("line_total_krw", _("line total"))
    duty = won_column("duty_krw", _("duty"))
    vat = won_column("vat_krw", _("VAT"))


class PaymentColumns:
    """The money and time columns of a payment, in won and Seoul time."""

    amount = won_column("amount_krw", _("amount"))
    captured = won_column("captured_krw", _("captured"))
    refunded = won_column("refunded_krw", _("refunded"))
    created_at_seoul = seoul_column("created_at", _("created (Seoul)"))


class PaymentInline(PaymentColumns, ReadOnlyInline):
    model = Payment
    # Never the client secret.
    fields = (
        "payment_intent_id",
        "status",
        "amount",
        "captured",
        "refunded",
        "last_error_code",
        "last_error_message",
        "created_at_seoul",
    )
    readonly_fields = fields


class OrderStatusChangeInline(ReadOnlyInline):
    model = OrderStatusChange
    verbose_name = _("status change")
    verbose_name_plural = _("status history")
    fields = ("created_at_seoul", "from_status", "to_status", "actor_type", "actor", "reason")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[OrderStatusChange]:
        return super().get_queryset(request).select_related("actor")

    created_at_seoul = seoul_column("created_at", _("when (Seoul)"))


class OrderRefundForm(forms.Form):
    """Refund an amount, or units of the order's lines (one field per line)."""

    amount_krw = forms.IntegerField(label=_("Amount (won)"), min_value=1, required=False)
    reason = forms.CharField(label=_("Reason"), max_length=200)

    def __init__(self, *args: Any, refundable: int, lines=(), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.refundable = refundable
        self.fields["amount_krw"].help_text = _(
            "At most %(amount)s can be refunded. Leave empty to refund the units below."
        ) % {"amount": won(refundable)}
        for line in lines:
            left = line.quantity - line.cancelled_quantity
            self.fields[f"line_{line.pk}"] = forms.IntegerField(
                label=f"{line.asin} · {line.title[:50]}",
                min_value=0,
                max_value=left,
                required=False,
                help_text=_("%(left)s of %(quantity)s unit(s) at %(price)s can be refunded.")
                % {"left": left, "quantity": line.quantity, "price": won(line.unit_price_krw)},
            )

    def line_quantities(self) -> dict[int, int]:
        return {
            int(name.removeprefix("line_")): value
            for name, value in self.cleaned_data.items()
            if name.startswith("line_") and value
        }

    def clean(self):
        cleaned = super().clean()
        if not self.errors and not cleaned.get("amount_krw") and not self.line_quantities():
            raise forms.ValidationError(_("Enter an amount or the units to refund."))
        if cleaned.get("amount_krw") and self.line_quantities():
            raise forms.ValidationError(_("Refund either an amount or units, not both."))
        return cleaned


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    """Orders are read-only here: they change only through the services, which the actions
    and the refund form call."""

    list_display = (
        "number",
        "placed_at_seoul",
        "email",
        "phone_masked",
        "status",
        "total",
        "has_cross_border",
    )
    list_display_links = ("number",)
    list_filter = ("status", "placed_at", "has_cross_border")
    search_fields = ("^number", "email")
    search_help_text = _("Order number, email, or mobile phone (010-1234-5678).")
    list_select_related = ()  # every column is on the order row: one query per page
    show_full_result_count = False
    list_per_page = 50
    actions = ("cancel_and_refund", "resend_confirmation")
    inlines = (OrderLineInline, PaymentInline, OrderStatusChangeInline)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "number",
                    "status",
                    "customer",
                    "email",
                    "placed_at_seoul",
                    "paid_at_seoul",
                    "cancelled_at_seoul",
                    "payment_due_at_seoul",
                    "staff_links",
                )
            },
        ),
        (
            _("Shipping address"),
            {
                "fields": (
                    "recipient_name",
                    "english_name",
                    "phone_display",
                    "postal_code",
                    "road_address",
                    "detail_address",
                )
            },
        ),
        (
            _("Quote as placed"),
            {
                "fields": (
                    "items",
                    "domestic_shipping",
                    "cross_border_shipping",
                    "duty",
                    "vat",
                    "discount",
                    "total",
                    "fx_selling_rate",
                    "fx_customs_rate",
                    "price_margin",
                )
            },
        ),
        (
            _("Customs"),
            {
                "fields": (
                    "has_cross_border",
                    "pccc_masked",
                    "customs_consent_at",
                    "customs_goods_value_usd",
                    "duty_free_limit_usd",
                    "duty_free",
                    "customs_explanation",
                )
            },
        ),
        (_("Refunds"), {"fields": ("refunds_table",)}),
        (_("Emails sent"), {"fields": ("notifications_table",)}),
        (_("Outbox events"), {"fields": ("outbox_events_table",)}),
    )
    readonly_fields = tuple(field for _title, options in fieldsets for field in options["fields"])

    # --- permissions: read-only, actions for staff who may change orders ---

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Order | None = None) -> bool:
        return False

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """Cancelling, refunding and resending emails: staff who may change orders."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    def has_refund_permission(self, request: HttpRequest) -> bool:
        """Refunding an amount or units (the refund form): finance's own permission."""
        return request.user.has_perm(f"{self.opts.app_label}.refund_order")

    # --- list ---

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Order], search_term: str
    ) -> tuple[QuerySet[Order], bool]:
        """A phone number in any usual form finds the orders shipped to it (exact match on
        the stored E.164, through its index); anything else searches number and email."""
        e164 = phone_search_e164(search_term.strip())
        if e164:
            return queryset.filter(phone=e164), False
        return super().get_search_results(request, queryset, search_term)

    placed_at_seoul = seoul_column("placed_at", _("placed (Seoul)"))

    @admin.display(description=_("phone"))
    def phone_masked(self, order: Order) -> str:
        return phones.phone_mask(order.phone)

    total = won_column("total_krw", _("total"))

    # --- detail ---

    paid_at_seoul = seoul_column("paid_at", _("paid (Seoul)"))
    cancelled_at_seoul = seoul_column("cancelled_at", _("cancelled (Seoul)"))
    payment_due_at_seoul = seoul_column("payment_due_at", _("payment due (Seoul)"))

    @admin.display(description=_("mobile phone"))
    def phone_display(self, order: Order) -> str:
        return phones.phone_display(order.phone)

    @admin.display(description=_("PCCC"))
    def pccc_masked(self, order: Order) -> str:
        return pccc_mask(order.pccc_last4) if order.pccc_last4 else "—"

    items = won_column("items_krw", _("items"))
    domestic_shipping = won_column("domestic_shipping_krw", _("domestic shipping"))
    cross_border_shipping = won_column("cross_border_shipping_krw", _("cross-border shipping"))
    duty = won_column("duty_krw", _("duty"))
    vat = won_column("vat_krw", _("VAT"))
    discount = won_column("discount_krw", _("discount"))

    @admin.display(description=_("staff actions"))
    def staff_links(self, order: Order) -> str:
        url = reverse("admin:orders_order_refund", args=[order.pk])
        return format_html('<a href="{}">{}</a>', url, _("Refund an amount…"))

    @admin.display(description=_("refunds"))
    def refunds_table(self, order: Order) -> str:
        refunds = Refund.objects.filter(payment__order=order).select_related("actor")
        if not refunds:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            (
                (
                    seoul(refund.created_at),
                    won(refund.amount_krw),
                    refund.get_status_display(),
                    refund.reason,
                    refund.actor or "—",
                    refund.stripe_refund_id or "—",
                )
                for refund in refunds
            ),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("when (Seoul)"),
            _("amount"),
            _("status"),
            _("reason"),
            _("by"),
            _("Stripe refund"),
            rows,
        )

    @admin.display(description=_("emails"))
    def notifications_table(self, order: Order) -> str:
        notifications = OrderNotification.objects.filter(order=order).select_related("requested_by")
        if not notifications:
            return "—"
        return format_html_join(
            "",
            "<div>{} · {} · {}</div>",
            (
                (
                    seoul(notification.sent_at),
                    notification.get_kind_display(),
                    _("resent at the request of %(user)s") % {"user": notification.requested_by}
                    if notification.is_resend
                    else _("automatic"),
                )
                for notification in notifications
            ),
        )

    @admin.display(description=_("events"))
    def outbox_events_table(self, order: Order) -> str:
        events = OutboxEvent.objects.filter(
            aggregate_type="order", aggregate_id=str(order.pk)
        ).order_by("created_at", "id")
        if not events:
            return "—"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td><code>{}</code>"
            "</td></tr>",
            (
                (
                    event.pk,
                    event.topic,
                    seoul(event.created_at),
                    seoul(event.dispatched_at) if event.dispatched_at else _("not yet"),
                    event.attempts,
                    Truncator(json.dumps(event.payload, ensure_ascii=False)).chars(200),
                )
                for event in events
            ),
        )
        return format_html(
            "<table><thead><tr><th>#</th><th>{}</th><th>{}</th><th>{}</th><th>{}</th>"
            "<th>{}</th></tr></thead><tbody>{}</tbody></table>",
            _("topic"),
            _("published (Seoul)"),
            _("dispatched (Seoul)"),
            _("delivery runs"),
            _("payload"),
            rows,
        )

    # --- actions ---

    @admin.action(description=_("Cancel and refund selected orders"), permissions=["operate"])
    def cancel_and_refund(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from .services.payments import order_cancel

        cancelled = 0
        for order in queryset.order_by("pk"):
            try:
                order_cancel(
                    order_id=order.pk,
                    actor_type=OrderStatusChange.ActorType.STAFF,
                    actor_id=request.user.id,
                    reason="cancelled by staff in admin",
                )
            except ApplicationError as exc:
                self.message_user(request, f"{order.number}: {exc.message}", messages.ERROR)
            except Exception:
                # Stripe down, a bug: one order's failure must not hide the others' results.
                logger.exception("admin cancel of order %s failed", order.number)
                self.message_user(
                    request,
                    _("%(number)s: could not be cancelled right now; try again later.")
                    % {"number": order.number},
                    messages.ERROR,
                )
            else:
                cancelled += 1
        if cancelled:
            self.message_user(
                request,
                _("%(count)d order(s) cancelled; refunds of paid orders were sent to Stripe.")
                % {"count": cancelled},
                messages.SUCCESS,
            )

    @admin.action(description=_("Resend the confirmation email"), permissions=["operate"])
    def resend_confirmation(self, request: HttpRequest, queryset: QuerySet[Order]) -> None:
        from .emails import order_confirmation_resend

        sent = 0
        for order in queryset.order_by("pk"):
            if order.status not in CONFIRMABLE:
                self.message_user(
                    request,
                    _("%(number)s: not sent, the order is “%(status)s”.")
                    % {"number": order.number, "status": order.get_status_display()},
                    messages.ERROR,
                )
                continue
            try:
                order_confirmation_resend(order_id=order.pk, requested_by_id=request.user.id)
            except Exception:
                logger.exception("resending the confirmation of order %s failed", order.number)
                self.message_user(
                    request,
                    _("%(number)s: the email could not be sent; try again later.")
                    % {"number": order.number},
                    messages.ERROR,
                )
            else:
                sent += 1
        if sent:
            self.message_user(
                request,
                _("Confirmation email sent again for %(count)d order(s).") % {"count": sent},
                messages.SUCCESS,
            )

    # --- refund an amount ---

    def get_urls(self) -> list:
        return [
            path(
                "<path:object_id>/refund/",
                self.admin_site.admin_view(self.refund_view),
                name="orders_order_refund",
            ),
            *super().get_urls(),
        ]

    def refund_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """A form for refunding part of a paid order (``refund_request``)."""
        from .services.payments import refund_lines, refund_request

        order = self.get_object(request, unquote(object_id))
        if order is None:
            return self._get_obj_does_not_exist_redirect(request, self.opts, object_id)
        if not self.has_refund_permission(request):
            raise PermissionDenied
        change_url = reverse("admin:orders_order_change", args=[order.pk])
        refundable = refundable_krw(order)
        form = OrderRefundForm(
            request.POST if request.method == "POST" else None,
            refundable=refundable,
            lines=list(order.lines.all()),
        )
        if request.method == "POST" and form.is_valid():
            try:
                if form.line_quantities():
                    refund = refund_lines(
                        order_id=order.pk,
                        lines=form.line_quantities(),
                        reason=form.cleaned_data["reason"],
                        actor_id=request.user.id,
                    )
                else:
                    refund = refund_request(
                        order_id=order.pk,
                        amount_krw=form.cleaned_data["amount_krw"],
                        reason=form.cleaned_data["reason"],
                        actor_id=request.user.id,
                    )
            except ApplicationError as exc:
                form.add_error(None, exc.message)
            except Exception:
                logger.exception("admin refund of order %s failed", order.number)
                form.add_error(None, _("The refund could not be sent right now; try again later."))
            else:
                level, message = {
                    Refund.Status.SUCCEEDED: (messages.SUCCESS, _("Refunded %(amount)s.")),
                    Refund.Status.PENDING: (
                        messages.WARNING,
                        _("Refund of %(amount)s recorded; Stripe did not answer, it is retried."),
                    ),
                }.get(
                    refund.status, (messages.ERROR, _("Stripe refused the refund of %(amount)s."))
                )
                self.message_user(request, message % {"amount": won(refund.amount_krw)}, level)
                return HttpResponseRedirect(change_url)
        context = {
            **self.admin_site.each_context(request),
            "title": _("Refund order %(number)s") % {"number": order.number},
            "opts": self.opts,
            "original": order,
            "form": form,
            "change_url": change_url,
            "refundable": refundable,
        }
        return TemplateResponse(request, "admin/orders/order/refund.html", context)


# --- Payments, refunds, Stripe events --------------------------------------------------------


@admin.register(Payment)
class PaymentAdmin(PaymentColumns, ReadOnlyAdmin):
    list_display = (
        "__str__",
        "order",
        "status",
        "amount",
        "captured",
        "refunded",
        "created_at_seoul",
    )
    list_filter = ("status",)
    list_select_related = ("order",)
    search_fields = ("=payment_intent_id", "=order__number")
    # Never the client secret.
    fields = (
        "order",
        "provider",
        "payment_intent_id",
        "idempotency_key",
        "status",
        "amount",
        "captured",
        "refunded",
        "last_error_code",
        "last_error_message",
        "created_at_seoul",
    )
    readonly_fields = fields


@admin.register(Refund)
class RefundAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "order_number", "amount", "status", "reason", "actor", "when")
    list_filter = ("status",)
    list_select_related = ("payment__order", "actor")
    search_fields = ("=payment__order__number", "=stripe_refund_id")
    fields = (
        "payment",
        "amount",
        "status",
        "reason",
        "lines",
        "actor",
        "stripe_refund_id",
        "idempotency_key",
        "when",
    )
    readonly_fields = fields

    @admin.display(description=_("order"), ordering="payment__order__number")
    def order_number(self, refund: Refund) -> str:
        return refund.payment.order.number

    amount = won_column("amount_krw", _("amount"))
    when = seoul_column("created_at", _("created (Seoul)"))


@admin.register(StripeEvent)
class StripeEventAdmin(ReadOnlyAdmin):
    list_display = ("event_id", "type", "payment_intent_id", "received", "processed")
    list_filter = ("type",)
    search_fields = ("=event_id", "=payment_intent_id")
    fields = ("event_id", "type", "payment_intent_id", "received", "processed", "payload_shown")
    readonly_fields = fields

    received = seoul_column("received_at", _("received (Seoul)"))
    processed = seoul_column("processed_at", _("processed (Seoul)"))

    @admin.display(description=_("payload"))
    def payload_shown(self, event: StripeEvent) -> str:
        text = json.dumps(stripe_redacted(event.payload), indent=2, ensure_ascii=False)
        return format_html("<pre>{}</pre>", text)


# --- Customs profiles and carts -------------------------------------------------------------


@admin.register(CustomsProfile)
class CustomsProfileAdmin(ReadOnlyAdmin):
    """The PCCC only as its mask; the ciphertext is never shown."""

    list_display = ("customer", "pccc_masked", "verified_name", "phone_masked", "verified")
    list_select_related = ("customer",)
    search_fields = ("customer__email", "customer__username")
    fields = (
        "customer",
        "pccc_masked",
        "verified_name",
        "phone_masked",
        "verified_postal_code",
        "verified",
        "consented",
    )
    readonly_fields = fields

    @admin.display(description=_("PCCC"))
    def pccc_masked(self, profile: CustomsProfile) -> str:
        return pccc_mask(profile.pccc_last4)

    @admin.display(description=_("verified phone"))
    def phone_masked(self, profile: CustomsProfile) -> str:
        return phones.phone_mask(profile.verified_phone)

    verified = seoul_column("verified_at", _("verified (Seoul)"))
    consented = seoul_column("consented_at", _("consented (Seoul)"))


class CartLineInline(ReadOnlyInline):
    model = CartLine
    fields = ("product", "quantity", "added_at")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[CartLine]:
        return super().get_queryset(request).select_related("product")


@admin.register(Cart)
class CartAdmin(ReadOnlyAdmin):
    list_display = ("__str__", "customer", "session", "updated_at")
    list_select_related = ("customer",)
    search_fields = ("customer__email", "customer__username")
    fields = ("customer", "session", "created_at", "updated_at")
    readonly_fields = fields
    inlines = (CartLineInline,)

    @admin.display(description=_("anonymous session"))
    def session(self, cart: Cart) -> str:
        # A session key is a login credential for that browser: never shown whole.
        return f"…{cart.session_key[-4:]}" if cart.session_key else "—"
