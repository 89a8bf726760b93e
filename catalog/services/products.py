"""Staff edits of products: create a manual product, change one, switch many on or off.

Imports write products through ``feed_import``; everything a person changes goes through
here, so the rules (the model's constraints, which fields staff may touch) hold for the
admin today and the partner API later alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from storefront.errors import ApplicationError

from ..models import PRODUCT_CONTENT_FIELDS, Product

# What a person may set. Imported provenance (source, source_url, source_category_path,
# source_hash) and the timestamps belong to the importer; the ASIN is fixed once created.
STAFF_EDITABLE_FIELDS = frozenset({*PRODUCT_CONTENT_FIELDS, "is_active"})


class ProductInvalid(ApplicationError):
    """The product would break a rule (a constraint, a unique ASIN, a field staff may not set)."""

    code = "product_invalid"


class ProductNotFound(ApplicationError):
    code = "product_not_found"


def _refuse_unknown_fields(fields: Iterable[str], allowed: frozenset[str]) -> None:
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise ProductInvalid(
            _("These product fields cannot be set here: %(fields)s.")
            % {"fields": ", ".join(unknown)},
            code="product_field_not_editable",
            fields=dict.fromkeys(unknown, _("This field cannot be set here.")),
        )


def _validated(product: Product, *, only: Iterable[str] | None = None) -> None:
    """Run the model's own validation (field rules, check and unique constraints) and turn
    a failure into a ``ProductInvalid`` that names the fields.

    With ``only`` (attnames), fields outside it are not validated: an imported value staff
    cannot edit (say a source URL Django's validator dislikes) must not block an edit.
    """
    exclude = None
    if only is not None:
        keep = set(only)
        exclude = [f.name for f in Product._meta.concrete_fields if f.attname not in keep]
    try:
        product.full_clean(exclude=exclude)
    except ValidationError as exc:
        fields = {
            # full_clean reports FKs by field name; callers speak attnames (category_id).
            _attname(name): " ".join(messages)
            for name, messages in exc.message_dict.items()
        }
        raise ProductInvalid(" ".join(exc.messages), fields=fields) from exc


def _attname(name: str) -> str:
    if name in ("category", "customs_class"):
        return f"{name}_id"
    return name


def product_create(*, asin: str, fields: Mapping[str, Any]) -> Product:
    """Create a product entered by staff (``source`` = manual) and return it.

    ``fields`` holds values for ``STAFF_EDITABLE_FIELDS`` (foreign keys as ``category_id``
    and ``customs_class_id``). The ASIN is stored upper-case. Raises ``ProductInvalid``
    (with per-field messages) when a field is not editable, a value breaks a model rule or
    the ASIN exists already; nothing is written then.
    """
    _refuse_unknown_fields(fields, STAFF_EDITABLE_FIELDS)
    product = Product(asin=asin.strip().upper(), source=Product.Source.MANUAL, **fields)
    _validated(product)
    try:
        with transaction.atomic():
            product.save(force_insert=True)
    except IntegrityError as exc:
        # Someone created the same ASIN between validation and insert.
        if not Product.objects.filter(asin=product.asin).exists():
            raise
        raise ProductInvalid(
            _("A product with ASIN %(asin)s exists already.") % {"asin": product.asin},
            code="product_asin_taken",
            fields={"asin": _("This ASIN exists already.")},
        ) from exc
    return product


def product_update(*, product_id: int, changes: Mapping[str, Any]) -> Product:
    """Apply staff changes to one product and return it as stored.

    Only the fields in ``changes`` are written (``save(update_fields=...)``), on a row
    locked for the transaction, so a concurrent edit of other fields is not overwritten.
    An empty ``changes`` writes nothing. Raises ``ProductNotFound`` or ``ProductInvalid``
    (nothing is written then).
    """
    _refuse_unknown_fields(changes, STAFF_EDITABLE_FIELDS)
    with transaction.atomic():
        try:
            product = Product.objects.select_for_update().get(pk=product_id)
        except Product.DoesNotExist as exc:
            raise ProductNotFound(_("Product %(id)s does not exist.") % {"id": product_id}) from exc
        changed = [name for name, value in changes.items() if getattr(product, name) != value]
        if not changed:
            return product
        for name in changed:
            setattr(product, name, changes[name])
        _validated(product, only=changed)
        product.save(update_fields=[*changed, "updated_at"])
    return product


def products_set_active(*, product_ids: Iterable[int] | QuerySet, active: bool) -> int:
    """Activate or deactivate many products in one UPDATE; returns how many changed.

    Products already in the requested state are left alone (and not counted), so the
    number tells staff what actually happened. ``product_ids`` may be a ``values_list``
    queryset, which runs as a subquery instead of shipping every id to the database.
    """
    if not isinstance(product_ids, QuerySet):
        product_ids = list(product_ids)
    with transaction.atomic():
        return (
            Product.objects.filter(pk__in=product_ids)
            .exclude(is_active=active)
            # update() skips auto_now; set it so "recently changed" stays true.
            .update(is_active=active, updated_at=timezone.now())
        )
