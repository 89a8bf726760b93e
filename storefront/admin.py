"""Staff admin for the event outbox: read-only (events are written by services, deliveries
by the relay), with one action that enqueues the relay now instead of waiting for the
sweep. Also partners, their API keys (made and revoked here) and the partner webhook log
with "redeliver now"."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db import transaction
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .events import event_relay_enqueue, registered_topics
from .models import (
    ApiKey,
    OutboxDelivery,
    OutboxEvent,
    Partner,
    PartnerWebhookAttempt,
    PartnerWebhookDelivery,
)
from .partners import (
    SECRET_PREFIX,
    api_key_create,
    api_key_revoke,
    partner_webhook_enqueue_on_commit,
    partner_webhook_redeliver,
    partner_webhook_secret_rotate,
    webhook_secret_generate,
)


class DispatchedFilter(admin.SimpleListFilter):
    title = _("dispatched")
    parameter_name = "dispatched"

    def lookups(self, request, model_admin):
        return [("yes", _("Dispatched")), ("no", _("Not dispatched"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(dispatched_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(dispatched_at__isnull=True)
        return queryset


class TopicFilter(admin.SimpleListFilter):
    """Topics from the subscriber registry (a DISTINCT over every event ever published
    would read the whole table); any other topic still works as ``?topic=...``."""

    title = _("topic")
    parameter_name = "topic"

    def lookups(self, request, model_admin):
        return [(topic, topic) for topic in registered_topics()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(topic=self.value())
        return queryset


class OutboxDeliveryInline(admin.TabularInline):
    model = OutboxDelivery
    fields = ("subscriber", "status", "attempts", "last_attempt_at", "succeeded_at", "last_error")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(OutboxEvent)
class OutboxEventAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "topic",
        "aggregate_type",
        "aggregate_id",
        "created_at",
        "dispatched_at",
        "attempts",
        "next_attempt_at",
        "error_summary",
    )
    list_display_links = ("id", "topic")
    list_filter = (TopicFilter, DispatchedFilter)
    search_fields = ("aggregate_id",)  # matched exactly, see get_search_results
    search_help_text = _("An aggregate id, e.g. an order's id: that aggregate's events.")
    list_per_page = 100
    show_full_result_count = False
    fields = (
        "topic",
        "aggregate_type",
        "aggregate_id",
        "payload",
        "created_at",
        "dispatched_at",
        "attempts",
        "next_attempt_at",
        "last_error",
    )
    readonly_fields = fields
    inlines = [OutboxDeliveryInline]
    actions = ["redeliver_now"]

    def get_search_results(self, request, queryset, search_term):
        """An exact aggregate id, so the (aggregate_id, aggregate_type) index answers it."""
        search_term = search_term.strip()
        if not search_term:
            return queryset, False
        return queryset.filter(aggregate_id=search_term), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request) -> bool:
        """Redelivering needs the change right (the admin itself never edits an event)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.display(description=_("last error"))
    def error_summary(self, obj: OutboxEvent) -> str:
        lines = obj.last_error.strip().splitlines()
        return Truncator(lines[0]).chars(80) if lines else ""

    @admin.action(description=_("Redeliver now"), permissions=["redeliver"])
    def redeliver_now(self, request, queryset):
        undispatched = list(
            queryset.filter(dispatched_at__isnull=True).values_list("pk", flat=True)
        )
        enqueued = 0
        for pk in undispatched:
            if not event_relay_enqueue(event_id=pk):
                break  # the broker is down: do not wait on it once per event
            enqueued += 1
        skipped = queryset.count() - len(undispatched)
        if enqueued:
            self.message_user(
                request,
                ngettext(
                    "%(count)d event queued for delivery.",
                    "%(count)d events queued for delivery.",
                    enqueued,
                )
                % {"count": enqueued},
                messages.SUCCESS,
            )
        if enqueued < len(undispatched):
            self.message_user(
                request,
                _("The task queue is not reachable; the sweep will deliver the rest."),
                messages.ERROR,
            )
        if skipped:
            self.message_user(
                request,
                ngettext(
                    "%(count)d event was already dispatched and was left alone.",
                    "%(count)d events were already dispatched and were left alone.",
                    skipped,
                )
                % {"count": skipped},
                messages.WARNING,
            )


# --- Partners, API keys and webhook deliveries (docs/api.md) ----------------------------


class PartnerForm(forms.ModelForm):
    """Scopes as checkboxes; the webhook secret is never a form field (it is generated,
    shown masked, and replaced with the "rotate" action)."""

    scopes = forms.MultipleChoiceField(
        label=_("scopes"),
        choices=Partner.Scope.choices,
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )
    webhook_url = forms.URLField(
        label=_("webhook URL"), required=False, assume_scheme="https", max_length=200
    )

    class Meta:
        model = Partner
        fields = (
            "name",
            "is_active",
            "scopes",
            "credit_limit_krw",
            "rate_limit_per_minute",
            "webhook_url",
        )

    def clean_scopes(self) -> list[str]:
        return sorted(set(self.cleaned_data["scopes"]))


def _mask_secret(secret: str) -> str:
    return f"{SECRET_PREFIX}…{secret[-4:]}" if secret else ""


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):
    form = PartnerForm
    list_display = (
        "name",
        "is_active",
        "scope_list",
        "credit_limit_krw",
        "rate_limit_per_minute",
        "webhook_url",
        "created_at",
    )
    list_filter = ("is_active",)
    search_fields = ("name",)
    readonly_fields = ("masked_webhook_secret", "created_at")
    actions = ["rotate_webhook_secret"]

    def get_fields(self, request, obj=None):
        fields = list(PartnerForm.Meta.fields)
        return [*fields, "masked_webhook_secret", "created_at"] if obj else fields

    @admin.display(description=_("scopes"))
    def scope_list(self, obj: Partner) -> str:
        return ", ".join(obj.scopes or [])

    @admin.display(description=_("webhook signing secret"))
    def masked_webhook_secret(self, obj: Partner) -> str:
        return _mask_secret(obj.webhook_secret)

    def save_model(self, request, obj, form, change):
        if not obj.webhook_secret:
            obj.webhook_secret = webhook_secret_generate()
        super().save_model(request, obj, form, change)

    @admin.action(description=_("Rotate the webhook signing secret"), permissions=["change"])
    def rotate_webhook_secret(self, request, queryset):
        # The partner needs the new secret to verify signatures: it is shown here once
        # (staff pass it on over a secure channel); afterwards only its end is shown.
        for partner in queryset:
            secret = partner_webhook_secret_rotate(partner_id=partner.pk)
            self.message_user(
                request,
                _("New webhook secret for %(partner)s: %(secret)s")
                % {
                    "partner": partner.name,
                    "secret": secret,
                },
                messages.WARNING,
            )


class ApiKeyAddForm(forms.ModelForm):
    class Meta:
        model = ApiKey
        fields = ("partner", "name")


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    """Keys are made here (the raw key is shown exactly once, on the page right after
    saving, never stored in messages or the session) and revoked with an action. Hashes
    are never shown."""

    list_display = ("prefix", "name", "partner", "created_at", "last_used_at", "revoked_at")
    list_filter = ("partner", ("revoked_at", admin.EmptyFieldListFilter))
    search_fields = ("prefix", "name", "partner__name")
    list_select_related = ("partner",)
    actions = ["revoke"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiKeyAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("partner", "name")
        return ("partner", "name", "prefix", "created_at", "last_used_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return ()
        return ("partner", "prefix", "created_at", "last_used_at", "revoked_at")

    def save_model(self, request, obj, form, change):
        if change:
            obj.save(update_fields=["name"])
            return
        created = api_key_create(partner_id=obj.partner_id, name=obj.name)
        obj.pk = created.api_key.pk
        obj.prefix = created.api_key.prefix
        obj.key_hash = created.api_key.key_hash
        obj.created_at = created.api_key.created_at
        request._api_key_raw = created.raw_key  # for response_add, this request only

    def response_add(self, request, obj, post_url_continue=None):
        raw_key = getattr(request, "_api_key_raw", None)
        if raw_key is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": _("API key created"),
            "api_key": obj,
            "raw_key": raw_key,
            "changelist_url": reverse("admin:storefront_apikey_changelist"),
        }
        response = TemplateResponse(request, "admin/storefront/apikey_created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    @admin.action(description=_("Revoke the selected keys"), permissions=["change"])
    def revoke(self, request, queryset):
        count = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key_id=api_key.pk)
            count += 1
        self.message_user(
            request,
            ngettext("%(count)d key revoked.", "%(count)d keys revoked.", count) % {"count": count},
            messages.SUCCESS,
        )


class PartnerWebhookAttemptInline(admin.TabularInline):
    model = PartnerWebhookAttempt
    fields = ("attempted_at", "url", "status_code", "error", "duration_ms", "response_excerpt")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PartnerWebhookDelivery)
class PartnerWebhookDeliveryAdmin(admin.ModelAdmin):
    """The webhook log: read-only, with "redeliver now"."""

    list_display = (
        "id",
        "topic",
        "partner",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
        "delivered_at",
    )
    list_filter = ("status", "topic", "partner")
    list_select_related = ("partner",)
    search_fields = ("event__aggregate_id",)
    search_help_text = _("An order's id: the webhooks of that order.")
    fields = (
        "partner",
        "event",
        "topic",
        "status",
        "attempts",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "delivered_at",
    )
    readonly_fields = fields
    inlines = [PartnerWebhookAttemptInline]
    actions = ["redeliver_now"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def has_redeliver_permission(self, request) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.change_{opts.model_name}")

    @admin.action(description=_("Redeliver now"), permissions=["redeliver"])
    def redeliver_now(self, request, queryset):
        ids = list(queryset.values_list("pk", flat=True))
        with transaction.atomic():
            for delivery_id in ids:
                partner_webhook_redeliver(delivery_id=delivery_id)
                partner_webhook_enqueue_on_commit(delivery_id)
        self.message_user(
            request,
            ngettext(
                "%(count)d webhook queued for delivery.",
                "%(count)d webhooks queued for delivery.",
                len(ids),
            )
            % {"count": len(ids)},
            messages.SUCCESS,
        )
