"""Staff admin for the event outbox: read-only (events are written by services, deliveries
by the relay), with one action that enqueues the relay now instead of waiting for the
sweep."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from .events import event_relay_enqueue, registered_topics
from .models import OutboxDelivery, OutboxEvent


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
