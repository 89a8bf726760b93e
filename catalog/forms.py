"""Shopper forms: the search and filter form of the category and search pages.

The form never stops a page from rendering: a bad field shows its message on the form and
is left out of the filters, the valid ones still apply (``ProductFilterForm.filters``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django import forms
from django.forms.renderers import DjangoTemplates
from django.utils.html import conditional_escape, escape
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from . import selectors
from .models import Category

MAX_QUERY_LENGTH = 200
# Shoppers type prices as "12,300", "₩12,300" or "12300원"; only the digits matter.
_PRICE_DECORATION = re.compile(r"[\s,₩원]")


@dataclass(frozen=True)
class ProductFilters:
    """The filters a shopper asked for, valid values only."""

    query: str = ""
    category: Category | None = None
    min_price_krw: int | None = None
    max_price_krw: int | None = None
    fast_delivery: bool = False
    sort: str = selectors.DEFAULT_SORT


class WonField(forms.IntegerField):
    """A whole amount in won; ignores thousands separators, ₩ and 원."""

    default_error_messages = {
        "invalid": _("Enter the price in won as a whole number, for example 25000."),
        "min_value": _("The price cannot be negative."),
        "max_value": _("The price is too large."),
    }

    def to_python(self, value):
        if isinstance(value, str):
            value = _PRICE_DECORATION.sub("", value)
        return super().to_python(value)


def _attrs_html(attrs: dict) -> str:
    """``django/forms/widgets/attrs.html``: `` name="value"`` per attribute, a bare name
    for ``True``, nothing for ``False``."""
    return "".join(
        f" {conditional_escape(name)}"
        if value is True
        else f' {conditional_escape(name)}="{escape(value)}"'
        for name, value in attrs.items()
        if value is not False
    )


def _input_html(widget: dict) -> str:
    """``django/forms/widgets/input.html`` (text inputs, the checkbox)."""
    value = widget["value"]
    value_html = "" if value is None else f' value="{escape(value)}"'
    return (
        f'<input type="{conditional_escape(widget["type"])}" '
        f'name="{conditional_escape(widget["name"])}"{value_html}{_attrs_html(widget["attrs"])}>'
    )


def _select_html(widget: dict) -> str | None:
    """``django/forms/widgets/select.html`` with ``select_option.html`` for each option;
    ``None`` for option groups (left to the templates)."""
    options = []
    for group_name, group_choices, _index in widget["optgroups"]:
        if group_name:
            return None
        for option in group_choices:
            if option["template_name"] != "django/forms/widgets/select_option.html":
                return None
            options.append(
                f'\n  <option value="{escape(option["value"])}"'
                f"{_attrs_html(option['attrs'])}>{conditional_escape(option['label'])}"
                "</option>\n"
            )
    return (
        f'<select name="{conditional_escape(widget["name"])}"{_attrs_html(widget["attrs"])}>'
        + "".join(options)
        + "\n</select>"
    )


_WIDGET_HTML = {
    "django/forms/widgets/text.html": _input_html,
    "django/forms/widgets/checkbox.html": _input_html,
    "django/forms/widgets/select.html": _select_html,
}


class FilterFormRenderer(DjangoTemplates):
    """Django's form renderer, except that the filter form's widgets (text inputs, the
    checkbox, flat selects) are built here, character for character what Django's widget
    templates make of the same context (``tests/catalog/test_search_page.py`` compares
    them): through the templates, with an include per attribute list and per option,
    they were about a quarter of a search page's rendering time (docs/performance.md).
    Anything else goes to the templates."""

    def render(self, template_name, context, request=None) -> str:
        # ``Widget._render`` marks the result safe, as it does the templates' output.
        build = _WIDGET_HTML.get(template_name)
        if build is not None and set(context) == {"widget"}:
            html = build(context["widget"])
            if html is not None:
                return html
        return super().render(template_name, context, request)


SORT_CHOICES = [
    ("relevance", pgettext_lazy("sort order", "Best match")),
    ("price_asc", pgettext_lazy("sort order", "Price: low to high")),
    ("price_desc", pgettext_lazy("sort order", "Price: high to low")),
    ("newest", pgettext_lazy("sort order", "Newest")),
    ("rating", pgettext_lazy("sort order", "Customer rating")),
]


class ProductFilterForm(forms.Form):
    """Search query, category, price range in won, fast delivery and sort order.

    ``with_category=False`` (the category page, where the URL names the category) leaves
    the category field out. Category choices are the top-level categories plus the
    selected one."""

    default_renderer = FilterFormRenderer

    q = forms.CharField(
        label=_("Search for"),
        required=False,
        max_length=MAX_QUERY_LENGTH,
        error_messages={
            "max_length": _("The search is too long (at most %(limit_value)d characters).")
        },
    )
    category = forms.CharField(
        label=_("Category"), required=False, widget=forms.Select, max_length=255
    )
    min_price = WonField(
        label=_("Minimum price (₩)"),
        required=False,
        min_value=0,
        max_value=10**12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    max_price = WonField(
        label=_("Maximum price (₩)"),
        required=False,
        min_value=0,
        max_value=10**12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    fast = forms.BooleanField(label=_("Fast delivery only (ships from Korea)"), required=False)
    sort = forms.ChoiceField(
        label=_("Sort by"),
        required=False,
        choices=SORT_CHOICES,
        error_messages={"invalid_choice": _("Unknown sort order: showing the default order.")},
    )

    def __init__(self, *args, with_category: bool = True, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._selected_category: Category | None = None
        if not (self.data.get("q") or "").strip():
            # Without a query "best match" is simply the most reviewed first.
            self.fields["sort"].choices = [
                (
                    value,
                    pgettext_lazy("sort order", "Most popular") if value == "relevance" else label,
                )
                for value, label in SORT_CHOICES
            ]
        if not with_category:
            del self.fields["category"]
        else:
            self.fields["category"].widget.choices = self._category_choices()

    def _category_choices(self) -> list[tuple[str, str]]:
        choices = [("", _("All categories"))]
        choices += [(root.slug, root.name) for root in selectors.category_roots()]
        selected = self.data.get("category") if self.is_bound else None
        if selected and selected not in {slug for slug, _label in choices}:
            self._selected_category = selectors.category_find_by_slug(slug=selected)
            if self._selected_category is not None:
                choices.append((self._selected_category.slug, self._selected_category.name))
        return choices

    def full_clean(self) -> None:
        super().full_clean()
        # Screen readers announce a field's error when its input points at it.
        for name in self.errors:
            if name in self.fields:
                self.fields[name].widget.attrs["aria-describedby"] = f"{self[name].auto_id}_errors"

    def clean_q(self) -> str:
        return " ".join(self.cleaned_data["q"].split())

    def clean_category(self) -> Category | None:
        slug = self.cleaned_data["category"]
        if not slug:
            return None
        # Looked up already while building the choices (a root, or the one extra query).
        category = next((c for c in selectors.category_roots() if c.slug == slug), None)
        if category is None:
            category = self._selected_category
        if category is None:
            raise forms.ValidationError(_("There is no such category: showing all categories."))
        return category

    def clean(self) -> dict:
        cleaned = super().clean()
        low, high = cleaned.get("min_price"), cleaned.get("max_price")
        if low is not None and high is not None and low > high:
            message = _("The minimum price must not be higher than the maximum price.")
            self.add_error("min_price", message)
            self.add_error("max_price", message)
        return cleaned

    def filters(self) -> ProductFilters:
        """The valid filters (invalid fields are left out; their errors stay on the form)."""
        self.is_valid()
        data = self.cleaned_data
        return ProductFilters(
            query=data.get("q") or "",
            category=data.get("category"),
            min_price_krw=data.get("min_price"),
            max_price_krw=data.get("max_price"),
            fast_delivery=bool(data.get("fast")),
            sort=data.get("sort") or selectors.DEFAULT_SORT,
        )

    @property
    def has_active_filters(self) -> bool:
        """A price, fast-delivery or category filter is applied (for a "clear" link)."""
        filters = self.filters()
        return bool(
            filters.category
            or filters.min_price_krw is not None
            or filters.max_price_krw is not None
            or filters.fast_delivery
        )
