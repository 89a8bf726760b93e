"""Staff admin for the catalog: products, the category tree, customs classes and their
mapping rules, and exchange rates.

Writes to products go through ``catalog.services.products``; the admin only collects input
and shows what the services say. Prices in won are computed, never stored: a changelist
page looks the FX rate up once and prices every row from it.
"""

from __future__ import annotations

import re
from decimal import Decimal
from functools import reduce
from operator import or_
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import F, Func, IntegerField, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from treebeard.admin import TreeAdmin
from treebeard.forms import movenodeform_factory

from fulfillment import selectors as stock_selectors
from fulfillment.models import Stock
from storefront.errors import ApplicationError

from .models import Category, CustomsClass, CustomsClassRule, ExchangeRate, Product
from .pricing import shelf_price_krw
from .selectors import FxRate, category_cache_clear, fx_cache_clear, fx_rate_current
from .services.categories import customs_class_for_path
from .services.products import product_create, product_update, products_set_active

# An ASIN is ten letters and digits with at least one digit ("B0BBSF2MBJ", ISBN-10
# "0307387895"); a ten-letter word such as "HEADPHONES" is a title search.
ASIN_PATTERN = re.compile(r"(?=[A-Z0-9]*\d)[A-Z0-9]{10}", re.IGNORECASE)


def asins_in_search(search_term: str) -> list[str]:
    """The ASINs when every word of an admin search is one (staff paste lists), else []."""
    terms = [term for term in re.split(r"[\s,;]+", search_term.strip()) if term]
    if terms and all(ASIN_PATTERN.fullmatch(term) for term in terms):
        return [term.upper() for term in terms]
    return []


def search_by_asin(queryset: QuerySet, search_term: str, *, field: str = "asin") -> QuerySet | None:
    """Rows whose ASIN is exactly one of the searched ones, found through the unique index
    (an ``iexact``/``icontains`` admin search cannot use it), or ``None`` when the search is
    not ASINs or none matched, so the caller falls back to the ordinary text search."""
    asins = asins_in_search(search_term)
    if not asins:
        return None
    matched = queryset.filter(**{f"{field}__in": asins})
    return matched if matched.exists() else None


def won(amount: int) -> str:
    return f"₩{amount:,}"


# --- Products -----------------------------------------------------------------------------


class CategoryTreeFilter(admin.SimpleListFilter):
    """Filter by a category and everything under it. Offers the top-level categories; once
    one is chosen, its subcategories (and the way back up) are offered too, so staff drill
    down instead of scrolling a list of every category."""

    title = _("category")
    parameter_name = "category"

    def __init__(self, request, params, model, model_admin):
        self._nodes: dict[str, Category | None] = {}
        super().__init__(request, params, model, model_admin)

    def _node(self, value: str | None) -> Category | None:
        """The category a filter value names (looked up once per request)."""
        if not value or not str(value).isdigit():
            return None
        if value not in self._nodes:
            self._nodes[value] = (
                Category.objects.filter(pk=int(value)).only("id", "path", "depth").first()
            )
        return self._nodes[value]

    def lookups(self, request, model_admin):
        steplen = Category.steplen
        shown = Q(depth=1)
        selected = self._node(self.value())
        if selected is not None:
            chain = [selected.path[:end] for end in range(steplen, len(selected.path) + 1, steplen)]
            # The chosen node's ancestors and the children of each: one query for the menu.
            shown |= reduce(
                or_,
                (Q(path__startswith=path, depth=len(path) // steplen + 1) for path in chain),
            )
        nodes = list(Category.objects.filter(shown).only("id", "name", "path", "depth"))
        by_path = {node.path: node for node in nodes}

        def tree_order(node: Category) -> tuple[str, ...]:
            # By name at every level, each node right under its parent.
            return tuple(
                by_path[node.path[:end]].name.casefold()
                for end in range(steplen, len(node.path) + 1, steplen)
            )

        nodes.sort(key=tree_order)
        return [(str(node.pk), "\u2003" * (node.depth - 1) + node.name) for node in nodes]

    def queryset(self, request, queryset):
        node = self._node(self.value())
        if node is None:
            return queryset
        subtree = Category.objects.filter(path__startswith=node.path).values("id")
        return queryset.filter(category_id__in=subtree)


class DomesticStockFilter(admin.SimpleListFilter):
    """Whether a domestic warehouse can ship the product now (same rule as the shop's
    "fast delivery" filter)."""

    title = _("domestic stock")
    parameter_name = "domestic_stock"

    def lookups(self, request, model_admin):
        return [("yes", _("Available in Korea now")), ("no", _("None in Korea"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(stock_selectors.domestic_stock_exists())
        if self.value() == "no":
            return queryset.filter(~stock_selectors.domestic_stock_exists())
        return queryset


class ProductChangeList(ChangeList):
    """Prices the page's products in won from one FX lookup for the whole page."""

    fx_rate: FxRate | None = None

    def get_queryset(self, request, exclude_parameters=None):
        # Long texts no column shows stay in the database.
        return (
            super()
            .get_queryset(request, exclude_parameters)
            .defer("description", "bullet_points", "source_hash", "source_category_path")
        )

    def get_results(self, request):
        super().get_results(request)
        self.fx_rate = fx_rate_current()
        # result_list is evaluated here and its cache is what the template renders.
        for product in self.result_list:
            product.admin_shelf_price_krw = shelf_price_krw(
                source_price_usd=product.source_price_usd, fx_rate=self.fx_rate.rate
            )


class ServiceModelForm(forms.ModelForm):
    """A model form whose write happens through a service while the form validates, so a
    rule the service or the database enforces comes back as an error on the right field
    (never a 500). The admin's change view runs in one transaction, so nothing is kept if
    anything later fails; ``save()`` only hands back what the service stored."""

    def call_service(self) -> Any:  # pragma: no cover - subclasses define the write
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors or (not self.instance._state.adding and not self.has_changed()):
            return
        try:
            self.instance = self.call_service()
        except ApplicationError as exc:
            for field, message in exc.fields.items():
                # Services name foreign keys by attname ("category_id"), forms by field.
                name = field.removesuffix("_id") if field not in self.fields else field
                self.add_error(name if name in self.fields else None, message)
            if not exc.fields:
                self.add_error(None, exc.message)

    def save(self, commit: bool = True) -> Any:
        self.save_m2m = lambda: None
        return self.instance


class ProductForm(ServiceModelForm):
    class Meta:
        model = Product
        fields = (
            "asin",
            "title",
            "brand",
            "is_active",
            "category",
            "customs_class",
            "source_price_usd",
            "list_price_usd",
            "weight_kg",
            "weight_estimated",
            "image_urls",
            "bullet_points",
            "description",
            "rating",
            "review_count",
            "bought_last_month",
            "is_best_seller",
        )

    def _service_values(self, names) -> dict[str, Any]:
        values = {}
        for name in names:
            field = Product._meta.get_field(name)
            value = self.cleaned_data[name]
            if field.is_relation:
                values[field.attname] = value.pk if value is not None else None
            else:
                values[field.attname] = value
        return values

    def call_service(self) -> Product:
        if self.instance._state.adding:
            names = [name for name in self.cleaned_data if name != "asin"]
            return product_create(
                asin=self.cleaned_data["asin"], fields=self._service_values(names)
            )
        return product_update(
            product_id=self.instance.pk, changes=self._service_values(self.changed_data)
        )


class StockInline(admin.TabularInline):
    """The product's stock per warehouse, read-only here (edited on the stock pages)."""

    model = Stock
    fields = ("warehouse", "on_hand", "allocated", "available", "reorder_point", "target_level")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("warehouse")

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


# Where a product came from: written by the importer, shown read-only.
PROVENANCE_FIELDS = (
    "source",
    "source_link",
    "source_category_path",
    "source_hash",
    "created_at",
    "updated_at",
)


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    form = ProductForm
    list_display = (
        "thumbnail",
        "asin",
        "short_title",
        "category_name",
        "customs_class",
        "source_price_usd",
        "shelf_price",
        "domestic_units",
        "is_active",
        "updated_at",
    )
    list_display_links = ("asin", "short_title")
    list_filter = (
        CategoryTreeFilter,
        "customs_class",
        "is_active",
        DomesticStockFilter,
        "source",
        "weight_estimated",
    )
    list_select_related = ("category", "customs_class")
    list_per_page = 50
    # The unfiltered total is a second COUNT over the whole catalog on every page.
    show_full_result_count = False
    search_fields = ("^asin", "title")
    search_help_text = _("An ASIN (or several) finds exactly those products; words search titles.")
    autocomplete_fields = ("category",)
    actions = ("activate_selected", "deactivate_selected")
    inlines = (StockInline,)
    readonly_fields = ("shelf_price", "domestic_units", "image_preview", *PROVENANCE_FIELDS)
    fieldsets = (
        (None, {"fields": ("asin", "title", "brand", "is_active", "category", "customs_class")}),
        (_("Price"), {"fields": ("source_price_usd", "list_price_usd", "shelf_price")}),
        (_("Shipping"), {"fields": ("weight_kg", "weight_estimated", "domestic_units")}),
        (
            _("Content"),
            {"fields": ("image_preview", "image_urls", "bullet_points", "description")},
        ),
        (
            _("Popularity"),
            {"fields": ("rating", "review_count", "bought_last_month", "is_best_seller")},
        ),
        (
            _("Imported from"),
            {
                "classes": ("collapse",),
                "fields": PROVENANCE_FIELDS,
            },
        ),
    )

    def get_queryset(self, request):
        return (
            super()
            .get_queryset(request)
            .annotate(domestic_available=stock_selectors.domestic_available_subquery())
        )

    def get_readonly_fields(self, request, obj=None):
        fields = super().get_readonly_fields(request, obj)
        # The ASIN is the product's identity (URLs, orders, imports): fixed once created.
        return ("asin", *fields) if obj is not None else fields

    def get_changelist(self, request, **kwargs):
        return ProductChangeList

    def get_search_results(self, request, queryset, search_term):
        matched = search_by_asin(queryset, search_term)
        if matched is not None:
            return matched, False
        return super().get_search_results(request, queryset, search_term)

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        context = getattr(response, "context_data", None) or {}
        fx = getattr(context.get("cl"), "fx_rate", None)
        if fx is not None:
            context["subtitle"] = _(
                "Shelf prices at ₩%(rate)s per USD (%(kind)s rate from %(source)s)."
            ) % {"rate": f"{fx.rate:,.2f}", "kind": fx.kind, "source": fx.source}
        return response

    def has_delete_permission(self, request, obj=None):
        # Orders and stock refer to products: staff deactivate them instead.
        return False

    def save_model(self, request, obj, form, change):
        """Already written by ``product_create``/``product_update`` while the form validated."""

    @admin.display(description="")
    def thumbnail(self, obj: Product) -> str:
        url = obj.primary_image_url
        if not url:
            return "—"
        return format_html(
            '<img src="{}" alt="" width="48" height="48" loading="lazy" '
            'referrerpolicy="no-referrer" style="object-fit: contain">',
            url,
        )

    @admin.display(description=_("title"), ordering="title")
    def short_title(self, obj: Product) -> str:
        return Truncator(obj.title).chars(80)

    @admin.display(description=_("category"), ordering="category__path")
    def category_name(self, obj: Product) -> str:
        if obj.category is None:
            return "—"
        return format_html(
            '<span title="{}">{}</span>', obj.category.source_path, obj.category.name
        )

    @admin.display(description=_("shelf price"))
    def shelf_price(self, obj: Product) -> str:
        price = getattr(obj, "admin_shelf_price_krw", None)
        if price is not None:
            return won(price)
        if obj.source_price_usd is None:
            return "—"
        # The change page shows one product: one lookup for the page here too.
        fx = fx_rate_current()
        price = shelf_price_krw(source_price_usd=obj.source_price_usd, fx_rate=fx.rate)
        return _("%(price)s at ₩%(rate)s per USD (%(kind)s rate from %(source)s)") % {
            "price": won(price),
            "rate": f"{fx.rate:,.2f}",
            "kind": fx.kind,
            "source": fx.source,
        }

    @admin.display(description=_("units in Korea"), ordering="domestic_available")
    def domestic_units(self, obj: Product) -> int | str:
        units = getattr(obj, "domestic_available", None)
        return "—" if units is None else units

    @admin.display(description=_("images"))
    def image_preview(self, obj: Product) -> str:
        if not obj.image_urls:
            return "—"
        return format_html_join(
            "",
            '<img src="{}" alt="" width="96" height="96" loading="lazy" '
            'referrerpolicy="no-referrer" style="object-fit: contain; margin-right: 4px">',
            ((url,) for url in obj.image_urls[:6]),
        )

    @admin.display(description=_("source URL"))
    def source_link(self, obj: Product) -> str:
        if not obj.source_url:
            return "—"
        return format_html(
            '<a href="{}" rel="noopener noreferrer" target="_blank">{}</a>',
            obj.source_url,
            obj.source_url,
        )

    def _set_active(self, request: HttpRequest, queryset: QuerySet, *, active: bool) -> None:
        selected = queryset.count()
        changed = products_set_active(
            product_ids=queryset.values_list("pk", flat=True), active=active
        )
        if active:
            message = ngettext(
                "%(changed)d product activated.", "%(changed)d products activated.", changed
            )
        else:
            message = ngettext(
                "%(changed)d product deactivated.", "%(changed)d products deactivated.", changed
            )
        message %= {"changed": changed}
        if selected > changed:
            message += " " + ngettext(
                "%(count)d selected product already was.",
                "%(count)d selected products already were.",
                selected - changed,
            ) % {"count": selected - changed}
        self.message_user(request, message, messages.SUCCESS)

    @admin.action(description=_("Activate selected products"), permissions=["change"])
    def activate_selected(self, request, queryset):
        self._set_active(request, queryset, active=True)

    @admin.action(description=_("Deactivate selected products"), permissions=["change"])
    def deactivate_selected(self, request, queryset):
        self._set_active(request, queryset, active=False)


# --- Categories ---------------------------------------------------------------------------


@admin.register(Category)
class CategoryAdmin(TreeAdmin):
    """The category tree (drag to move, or the position fields on the form)."""

    form = movenodeform_factory(Category)
    list_display = ("name", "source_path", "product_count", "typical_weight_kg")
    search_fields = ("name", "source_path")
    # The tree is listed in path order; the admin's default "-pk" would scramble it.
    ordering = ("path",)

    def get_queryset(self, request):
        in_subtree = (
            Product.objects.filter(category__path__startswith=OuterRef("path"))
            .order_by()
            .annotate(count=Func(F("pk"), function="COUNT"))
            .values("count")
        )
        return (
            super()
            .get_queryset(request)
            .annotate(
                subtree_products=Coalesce(Subquery(in_subtree), 0, output_field=IntegerField())
            )
        )

    @admin.display(description=_("products (incl. subcategories)"))
    def product_count(self, obj: Category) -> int:
        return obj.subtree_products

    # Shopper menus cache the top-level categories: refresh them after any change.
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
        transaction.on_commit(category_cache_clear)

    def delete_model(self, request, obj):
        super().delete_model(request, obj)
        transaction.on_commit(category_cache_clear)

    def delete_queryset(self, request, queryset):
        super().delete_queryset(request, queryset)
        transaction.on_commit(category_cache_clear)

    def move_node(self, request):
        response = super().move_node(request)
        transaction.on_commit(category_cache_clear)
        return response


# --- Customs ------------------------------------------------------------------------------


@admin.register(CustomsClass)
class CustomsClassAdmin(admin.ModelAdmin):
    list_display = (
        "code",
        "name",
        "name_ko",
        "duty_percent",
        "vat_applies",
        "list_clearance",
        "max_quantity_per_order",
        "max_quantity_per_product",
        "typical_weight_kg",
    )
    list_filter = ("vat_applies", "list_clearance")
    search_fields = ("code", "name", "name_ko")
    fieldsets = (
        (None, {"fields": ("code", "name", "name_ko")}),
        (_("Duty and VAT"), {"fields": ("duty_rate", "vat_applies", "list_clearance")}),
        (
            _("Personal-use limits"),
            {"fields": ("max_quantity_per_order", "max_quantity_per_product")},
        ),
        (_("Shipping"), {"fields": ("typical_weight_kg",)}),
    )

    def get_readonly_fields(self, request, obj=None):
        # Rules and the importer's fallback ("other") refer to classes by code.
        return ("code",) if obj is not None else ()

    def has_delete_permission(self, request, obj=None):
        # Products are protected by their class and "other" is the importer's fallback.
        return False

    @admin.display(description=_("duty"), ordering="duty_rate")
    def duty_percent(self, obj: CustomsClass) -> str:
        return f"{(obj.duty_rate * 100).normalize():f}%"


@admin.register(CustomsClassRule)
class CustomsClassRuleAdmin(admin.ModelAdmin):
    """Which customs class a source category path maps to: the first rule by priority (then
    the longest pattern) whose words occur in the path wins; no match means "other"."""

    list_display = ("pattern", "customs_class", "priority")
    list_display_links = ("pattern",)
    list_editable = ("customs_class", "priority")
    list_filter = ("customs_class",)
    list_select_related = ("customs_class",)
    search_fields = ("pattern", "customs_class__name", "customs_class__code")
    ordering = ("priority", "pattern")

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        field = super().formfield_for_foreignkey(db_field, request, **kwargs)
        if db_field.name == "customs_class" and field is not None:
            # Every row of the editable list has this select: read the classes once, not
            # once per row.
            field.choices = list(field.choices)
        return field

    def changelist_view(self, request, extra_context=None):
        """The list, plus the answer of the "test a path" box (``?test_path=...``): the
        class the importer's mapping gives that path under the rules as saved."""
        context = dict(extra_context or {})
        if "test_path" in request.GET:
            # Not a filter of the list: take it out before the changelist reads the query.
            request.GET = request.GET.copy()
            path = request.GET.pop("test_path")[-1].strip()
            context["test_path"] = path
            if path:
                context["test_path_class"] = customs_class_for_path(path=path)
        return super().changelist_view(request, context)


# --- Exchange rates -----------------------------------------------------------------------


class ManualExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ("kind", "rate", "effective_at", "source")

    def clean_effective_at(self):
        effective_at = self.cleaned_data["effective_at"]
        if effective_at > timezone.now():
            raise forms.ValidationError(
                _("A rate cannot take effect in the future: the newest rate is always current.")
            )
        return effective_at

    def clean_rate(self):
        rate = self.cleaned_data["rate"]
        if rate is not None and rate <= Decimal(0):
            raise forms.ValidationError(_("Enter a rate above zero."))
        return rate


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    """Published rates are history: listed newest first, never edited or deleted. Staff may
    add a manual rate, which becomes current when it is the newest of its kind."""

    form = ManualExchangeRateForm
    list_display = ("effective_at", "kind", "rate", "base_currency", "quote_currency", "source")
    list_filter = ("kind", "source")
    date_hierarchy = "effective_at"
    ordering = ("-effective_at", "-id")

    def get_changeform_initial_data(self, request):
        return {
            "kind": ExchangeRate.Kind.SELLING,
            "effective_at": timezone.now(),
            "source": f"manual ({request.user.get_username()})",
        }

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        if change:  # history is never edited (the change permission is refused anyway)
            raise PermissionDenied
        super().save_model(request, obj, form, change)
        # The current rate is cached: make the new one visible right after the commit.
        transaction.on_commit(fx_cache_clear)
