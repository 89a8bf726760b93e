"""Cart writes: add, change, remove and merge lines, under the personal-use customs limits.

Every write locks the cart row first (``select_for_update``), so two concurrent adds to the
same cart run one after the other and the limits are checked against what is really in the
cart. The limits (DOMAIN.md, Customs) are data on ``catalog.CustomsClass``:
``max_quantity_per_order`` counts the units of every product of the class in the cart,
``max_quantity_per_product`` the units of one product (model). Besides them a line holds at
most ``CART_MAX_LINE_QUANTITY`` units and a cart at most ``CART_MAX_LINES`` lines.

Lines of products that became inactive stay in the cart (the cart page flags them); they do
not count towards the limits because they cannot be ordered, and their quantity can only go
down.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext as _

from catalog.models import CustomsClass, Product
from storefront.errors import ApplicationError

from ..models import Cart, CartLine

__all__ = [
    "CartFull",
    "CartLimitExceeded",
    "CartLineNotFound",
    "CartLineQuantityExceeded",
    "CartMergeAdjustment",
    "CartMergeResult",
    "CartProductUnavailable",
    "CartQuantityInvalid",
    "cart_add",
    "cart_delete_if_empty",
    "cart_get_or_create_for_customer",
    "cart_get_or_create_for_session",
    "cart_merge",
    "cart_remove",
    "cart_set_quantity",
]


class CartProductUnavailable(ApplicationError):
    """The product does not exist or is no longer sold."""

    code = "product_unavailable"


class CartLimitExceeded(ApplicationError):
    """A personal-use customs limit (per order or per model) would be exceeded.
    ``allowed`` is the most units of this product the cart could hold now."""

    code = "personal_use_limit"

    def __init__(self, message: str, *, allowed: int) -> None:
        super().__init__(message, fields={"quantity": message})
        self.allowed = allowed


class CartLineQuantityExceeded(ApplicationError):
    """More units in one line than ``CART_MAX_LINE_QUANTITY``."""

    code = "line_quantity_limit"


class CartFull(ApplicationError):
    """The cart already has ``CART_MAX_LINES`` distinct products."""

    code = "cart_full"


class CartQuantityInvalid(ApplicationError):
    code = "invalid_quantity"


class CartLineNotFound(ApplicationError):
    code = "cart_line_not_found"


@dataclass(frozen=True)
class CartMergeAdjustment:
    """A line of the merged (session) cart that could not be carried over in full.
    ``merged`` is the quantity the customer's cart holds now (0: not added)."""

    product_id: int
    title: str
    requested: int
    merged: int
    message: str


@dataclass(frozen=True)
class CartMergeResult:
    cart: Cart
    adjustments: tuple[CartMergeAdjustment, ...]


# --- limits ------------------------------------------------------------------------------


def _class_label(customs_class: CustomsClass) -> str:
    """The customs class as a shopper reads it in a sentence: its Korean name on Korean
    pages when staff gave one, else the English name starting lower-case ("health
    supplements", "small appliances and TVs")."""
    if (get_language() or "").startswith("ko") and customs_class.name_ko:
        return customs_class.name_ko
    name = customs_class.name
    return name[:1].lower() + name[1:]


def _class_units_elsewhere(*, cart: Cart, product: Product) -> int:
    """Units of other active products of the same customs class in the cart."""
    total = (
        CartLine.objects.filter(
            cart=cart,
            product__customs_class_id=product.customs_class_id,
            product__is_active=True,
        )
        .exclude(product_id=product.pk)
        .aggregate(units=Sum("quantity"))["units"]
    )
    return total or 0


def _allowed_quantity(*, product: Product, elsewhere: int) -> int:
    """The most units of ``product`` one cart may hold, given ``elsewhere`` units of its
    customs class in other lines."""
    customs_class = product.customs_class
    allowed = settings.CART_MAX_LINE_QUANTITY
    if customs_class.max_quantity_per_product is not None:
        allowed = min(allowed, customs_class.max_quantity_per_product)
    if customs_class.max_quantity_per_order is not None:
        allowed = min(allowed, customs_class.max_quantity_per_order - elsewhere)
    return max(allowed, 0)


def _check_quantity(*, cart: Cart, product: Product, current: int, wanted: int) -> None:
    """Refuse ``wanted`` units of ``product`` (the cart has ``current``) when it breaks a
    limit. The customs limits are checked first: their message says why."""
    customs_class = product.customs_class
    elsewhere = 0
    if customs_class.max_quantity_per_order is not None:
        elsewhere = _class_units_elsewhere(cart=cart, product=product)
    allowed = _allowed_quantity(product=product, elsewhere=elsewhere)
    label = _class_label(customs_class)

    per_product = customs_class.max_quantity_per_product
    if per_product is not None and wanted > per_product:
        message = ngettext(
            "Customs allows only one unit per %(class)s model in an order for personal use.",
            "Customs allows at most %(limit)s units per %(class)s model in an order for "
            "personal use.",
            per_product,
        ) % {"class": label, "limit": per_product}
        if current:
            message += " " + _("Your cart already has %(count)s.") % {"count": current}
        raise CartLimitExceeded(message, allowed=allowed)

    per_order = customs_class.max_quantity_per_order
    if per_order is not None and elsewhere + wanted > per_order:
        in_cart = elsewhere + current
        message = _(
            "Customs allows at most %(limit)s %(class)s per order for personal use; your cart "
            "already has %(in_cart)s."
        ) % {"limit": per_order, "class": label, "in_cart": in_cart}
        room = per_order - in_cart
        if room > 0:
            message += " " + ngettext(
                "You can add %(count)s more.", "You can add %(count)s more.", room
            ) % {"count": room}
        raise CartLimitExceeded(message, allowed=allowed)

    if wanted > settings.CART_MAX_LINE_QUANTITY:
        message = _("You can buy at most %(limit)s units of one product in an order.") % {
            "limit": settings.CART_MAX_LINE_QUANTITY
        }
        raise CartLineQuantityExceeded(message, fields={"quantity": message})


def _check_positive(quantity: int) -> None:
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        message = _("Choose a quantity of at least 1.")
        raise CartQuantityInvalid(message, fields={"quantity": message})


def _lock(cart: Cart) -> Cart:
    """Lock the cart row for the transaction; every write to its lines goes through it."""
    return Cart.objects.select_for_update().get(pk=cart.pk)


def _touch(cart: Cart) -> None:
    cart.save(update_fields=["updated_at"])


def _active_product(product_id: int) -> Product:
    product = (
        Product.objects.select_related("customs_class")
        .filter(pk=product_id, is_active=True)
        .first()
    )
    if product is None:
        raise CartProductUnavailable(_("Sorry, this product is no longer available."))
    return product


def _line_for(cart: Cart, product_id: int) -> CartLine | None:
    return (
        CartLine.objects.select_related("product__customs_class")
        .filter(cart=cart, product_id=product_id)
        .first()
    )


# --- services ----------------------------------------------------------------------------


def cart_get_or_create_for_customer(*, customer) -> Cart:
    """The signed-in shopper's cart, created on first use (one per shopper: the unique
    customer column makes a concurrent first use return the same cart)."""
    with transaction.atomic():
        cart, _created = Cart.objects.get_or_create(customer=customer)
        return cart


def cart_get_or_create_for_session(*, session_key: str) -> Cart:
    """The anonymous cart of a browser session, created on first use (one per session
    key, by the unique column)."""
    if not session_key:
        raise ValueError("an anonymous cart needs a session key")
    with transaction.atomic():
        cart, _created = Cart.objects.get_or_create(session_key=session_key, customer=None)
        return cart


def cart_add(*, cart: Cart, product_id: int, quantity: int = 1) -> CartLine:
    """Add ``quantity`` units of a product (to its line, or as a new line) and return the line.

    Refuses, changing nothing: an unknown or inactive product (``CartProductUnavailable``),
    a quantity under 1 (``CartQuantityInvalid``), a personal-use customs limit
    (``CartLimitExceeded``, saying why), more than ``CART_MAX_LINE_QUANTITY`` in the line
    (``CartLineQuantityExceeded``) or a new line beyond ``CART_MAX_LINES`` (``CartFull``).
    """
    _check_positive(quantity)
    with transaction.atomic():
        cart = _lock(cart)
        product = _active_product(product_id)
        line = _line_for(cart, product.pk)
        current = line.quantity if line else 0
        if line is None and cart.lines.count() >= settings.CART_MAX_LINES:
            raise CartFull(
                _("Your cart can hold %(limit)s different products. Remove one to add another.")
                % {"limit": settings.CART_MAX_LINES}
            )
        _check_quantity(cart=cart, product=product, current=current, wanted=current + quantity)
        if line is None:
            line = CartLine.objects.create(cart=cart, product=product, quantity=quantity)
        else:
            line.quantity = current + quantity
            line.save(update_fields=["quantity"])
        _touch(cart)
        return line


def cart_set_quantity(*, cart: Cart, product_id: int, quantity: int) -> CartLine | None:
    """Set the quantity of a product already in the cart; 0 removes the line (returns
    ``None``). Lowering a quantity is always allowed, even for a product no longer sold or
    over a limit staff tightened since; raising it is checked like ``cart_add``.
    Raises ``CartLineNotFound`` when the product is not in the cart."""
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
        message = _("Choose a quantity of 0 or more.")
        raise CartQuantityInvalid(message, fields={"quantity": message})
    with transaction.atomic():
        cart = _lock(cart)
        line = _line_for(cart, product_id)
        if line is None:
            raise CartLineNotFound(_("This product is not in your cart any more."))
        if quantity == 0:
            line.delete()
            _touch(cart)
            return None
        if quantity == line.quantity:
            return line
        if quantity > line.quantity:
            if not line.product.is_active:
                raise CartProductUnavailable(_("Sorry, this product is no longer available."))
            _check_quantity(cart=cart, product=line.product, current=line.quantity, wanted=quantity)
        line.quantity = quantity
        line.save(update_fields=["quantity"])
        _touch(cart)
        return line


def cart_remove(*, cart: Cart, product_id: int) -> bool:
    """Remove a product's line from the cart. Idempotent: returns whether a line was there."""
    with transaction.atomic():
        cart = _lock(cart)
        deleted, _rows = CartLine.objects.filter(cart=cart, product_id=product_id).delete()
        if deleted:
            _touch(cart)
        return bool(deleted)


def cart_delete_if_empty(*, cart: Cart) -> bool:
    """Delete an anonymous cart that has no lines (an add that was refused right after the
    cart was created leaves nothing behind). A customer's cart is kept."""
    with transaction.atomic():
        locked = Cart.objects.select_for_update().filter(pk=cart.pk, customer__isnull=True).first()
        if locked is None or CartLine.objects.filter(cart_id=cart.pk).exists():
            return False
        locked.delete()
        return True


def cart_merge(*, source: Cart, target: Cart) -> CartMergeResult:
    """Move the lines of ``source`` (a session's cart) into ``target`` (the shopper's cart,
    at sign-in) and delete ``source``.

    Quantities of the same product add up. The merge is never refused as a whole: a line
    the limits do not let through in full is carried over capped (or not at all) and
    reported in ``adjustments`` with a message for the shopper. Products no longer sold are
    dropped and reported. Lines already in ``target`` are never reduced. Both carts are
    locked (in id order, so two merges cannot deadlock).
    """
    if source.pk == target.pk:
        return CartMergeResult(cart=target, adjustments=())
    adjustments: list[CartMergeAdjustment] = []
    with transaction.atomic():
        locked = {
            cart.pk: cart
            for cart in Cart.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
        }
        if target.pk not in locked:
            raise CartLineNotFound(_("Your cart could not be found."))
        target = locked[target.pk]
        if source.pk not in locked:  # merged already (a repeated sign-in)
            return CartMergeResult(cart=target, adjustments=())

        incoming = list(
            CartLine.objects.filter(cart_id=source.pk)
            .select_related("product__customs_class")
            .order_by("added_at", "id")
        )
        existing = {
            line.product_id: line
            for line in CartLine.objects.filter(cart=target).select_related(
                "product__customs_class"
            )
        }
        line_count = len(existing)
        for line in incoming:
            product = line.product
            target_line = existing.get(product.pk)
            current = target_line.quantity if target_line else 0
            if not product.is_active:
                adjustments.append(
                    CartMergeAdjustment(
                        product_id=product.pk,
                        title=product.title,
                        requested=current + line.quantity,
                        merged=current,
                        message=_(
                            "“%(title)s” from your earlier visit is no longer available and "
                            "was not added to your cart."
                        )
                        % {"title": _short(product.title)},
                    )
                )
                continue
            if target_line is None and line_count >= settings.CART_MAX_LINES:
                adjustments.append(
                    CartMergeAdjustment(
                        product_id=product.pk,
                        title=product.title,
                        requested=line.quantity,
                        merged=0,
                        message=_(
                            "“%(title)s” was not added: your cart can hold %(limit)s different "
                            "products."
                        )
                        % {"title": _short(product.title), "limit": settings.CART_MAX_LINES},
                    )
                )
                continue
            wanted = current + line.quantity
            elsewhere = 0
            if product.customs_class.max_quantity_per_order is not None:
                elsewhere = _class_units_elsewhere(cart=target, product=product)
            # Never reduce what the shopper's cart already held.
            merged = max(
                min(wanted, _allowed_quantity(product=product, elsewhere=elsewhere)), current
            )
            if merged < wanted:
                adjustments.append(
                    CartMergeAdjustment(
                        product_id=product.pk,
                        title=product.title,
                        requested=wanted,
                        merged=merged,
                        message=_merge_reason(product=product, wanted=wanted, merged=merged),
                    )
                )
            if merged == current:
                continue
            if target_line is None:
                existing[product.pk] = CartLine.objects.create(
                    cart=target, product=product, quantity=merged
                )
                line_count += 1
            else:
                target_line.quantity = merged
                target_line.save(update_fields=["quantity"])
        Cart.objects.filter(pk=source.pk).delete()
        _touch(target)
    return CartMergeResult(cart=target, adjustments=tuple(adjustments))


def _short(title: str) -> str:
    return title if len(title) <= 60 else title[:59] + "…"


def _merge_reason(*, product: Product, wanted: int, merged: int) -> str:
    """Why a merged line holds fewer units than both carts together."""
    customs_class = product.customs_class
    if (
        customs_class.max_quantity_per_product is not None
        or customs_class.max_quantity_per_order is not None
    ) and merged < min(wanted, settings.CART_MAX_LINE_QUANTITY):
        return _(
            "“%(title)s”: your cart now has %(merged)s of the %(wanted)s you chose, because "
            "customs limits %(class)s for personal use."
        ) % {
            "title": _short(product.title),
            "merged": merged,
            "wanted": wanted,
            "class": _class_label(customs_class),
        }
    return _(
        "“%(title)s”: your cart now has %(merged)s of the %(wanted)s you chose, the most of "
        "one product in an order."
    ) % {"title": _short(product.title), "merged": merged, "wanted": wanted}
