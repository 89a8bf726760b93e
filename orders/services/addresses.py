"""A shopper's saved Korean shipping addresses (DOMAIN.md, Address and phone).

Every write normalises what the shopper typed the same way the address form does (the form
calls the normalisers below), so a service caller and a form see the same messages on the
same fields: phone via ``orders.phones.phone_normalize`` (E.164), postal code to exactly
five digits, text trimmed with runs of spaces collapsed. A shopper has at most one default
address (a partial unique constraint); the first address becomes the default, and switching
the default happens inside one transaction, old default off first, so the constraint never
trips. Writes for one shopper are serialised by locking the shopper's user row.
"""

from __future__ import annotations

import re

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils.translation import gettext

from orders.models import Address
from orders.phones import PhoneInvalid, phone_normalize
from storefront.errors import ApplicationError

# Shoppers type "06236", "062-36" or "062 36"; only the digits count.
_POSTAL_DECORATION = re.compile(r"[\s\-.]")
_POSTAL_CODE_RE = re.compile(r"^[0-9]{5}$")
# A name as on a passport: Latin letters, spaces, and . ' - between them.
_ENGLISH_NAME_RE = re.compile(r"^[A-Za-z][A-Za-z .'\-]*$")

RECIPIENT_NAME_MAX = Address._meta.get_field("recipient_name").max_length
ENGLISH_NAME_MAX = Address._meta.get_field("english_name").max_length
ROAD_ADDRESS_MAX = Address._meta.get_field("road_address").max_length
DETAIL_ADDRESS_MAX = Address._meta.get_field("detail_address").max_length


class PostalCodeInvalid(ApplicationError):
    """The postal code is not five digits."""

    code = "postal_code_invalid"


class AddressInvalid(ApplicationError):
    """A text field of the address is missing, too long or (English name) not in Latin
    letters."""

    code = "address_invalid"


def _field_error(error_class: type[ApplicationError], field: str, message: str) -> ApplicationError:
    return error_class(message, fields={field: message})


def postal_code_normalize(raw: str) -> str:
    """The five-digit Korean postal code in what a shopper typed (spaces, hyphens and dots
    ignored). Raises ``PostalCodeInvalid`` (field ``postal_code``) otherwise."""
    value = _POSTAL_DECORATION.sub("", raw or "")
    if not _POSTAL_CODE_RE.fullmatch(value):
        message = gettext("A postal code is 5 digits, like 06236.")
        raise _field_error(PostalCodeInvalid, "postal_code", message)
    return value


def text_normalize(raw: str, *, field: str, max_length: int, required: bool) -> str:
    """Trimmed text with runs of whitespace (newlines included) collapsed to one space.
    Raises ``AddressInvalid`` on ``field`` when required and empty, or longer than
    ``max_length``."""
    value = " ".join((raw or "").split())
    if required and not value:
        raise _field_error(AddressInvalid, field, gettext("This field is required."))
    if len(value) > max_length:
        message = gettext("Use at most %(limit)d characters.") % {"limit": max_length}
        raise _field_error(AddressInvalid, field, message)
    return value


def english_name_normalize(raw: str) -> str:
    """The optional English name (as on a passport): trimmed, Latin letters, spaces and
    ``. ' -`` only. Raises ``AddressInvalid`` (field ``english_name``) otherwise."""
    value = text_normalize(raw, field="english_name", max_length=ENGLISH_NAME_MAX, required=False)
    if value and not _ENGLISH_NAME_RE.fullmatch(value):
        message = gettext("Write the name in English letters, as in your passport (HONG GILDONG).")
        raise _field_error(AddressInvalid, "english_name", message)
    return value


# The normaliser of each address field; AddressForm validates its fields with the same ones.
NORMALISERS = {
    "recipient_name": lambda v: text_normalize(
        v, field="recipient_name", max_length=RECIPIENT_NAME_MAX, required=True
    ),
    "english_name": english_name_normalize,
    "phone": phone_normalize,
    "postal_code": postal_code_normalize,
    "road_address": lambda v: text_normalize(
        v, field="road_address", max_length=ROAD_ADDRESS_MAX, required=True
    ),
    "detail_address": lambda v: text_normalize(
        v, field="detail_address", max_length=DETAIL_ADDRESS_MAX, required=False
    ),
}


def _normalise(values: dict[str, str]) -> dict[str, str]:
    """Every given field normalised. When several are wrong, the error raised is the first
    one's (its class and code) and carries the messages of all of them in ``fields``."""
    cleaned: dict[str, str] = {}
    first: ApplicationError | None = None
    messages: dict[str, str] = {}
    for name, raw in values.items():
        try:
            cleaned[name] = NORMALISERS[name](raw)
        except (PhoneInvalid, PostalCodeInvalid, AddressInvalid) as exc:
            first = first or exc
            messages.update(exc.fields)
    if first is not None:
        first.fields = messages
        raise first
    return cleaned


def _lock_customer(customer_id: int) -> None:
    # One shopper's address writes run one at a time, so two "first" addresses or two
    # default switches cannot both see "no default yet" (no-op lock on SQLite, whose
    # IMMEDIATE transactions already serialise writers).
    get_user_model().objects.select_for_update().filter(pk=customer_id).values("pk").first()


def _make_default(address: Address) -> None:
    Address.objects.filter(customer_id=address.customer_id, is_default=True).exclude(
        pk=address.pk
    ).update(is_default=False)
    if not address.is_default:
        address.is_default = True
        address.save(update_fields=["is_default", "updated_at"])


def address_create(
    *,
    customer: AbstractBaseUser,
    recipient_name: str,
    phone: str,
    postal_code: str,
    road_address: str,
    detail_address: str = "",
    english_name: str = "",
    make_default: bool = False,
) -> Address:
    """Save a new address for ``customer``, normalised. It becomes the default when asked
    or when it is the shopper's first. Raises ``PhoneInvalid``, ``PostalCodeInvalid`` or
    ``AddressInvalid`` (with ``fields``) and saves nothing when a value is wrong."""
    cleaned = _normalise(
        {
            "recipient_name": recipient_name,
            "english_name": english_name,
            "phone": phone,
            "postal_code": postal_code,
            "road_address": road_address,
            "detail_address": detail_address,
        }
    )
    with transaction.atomic():
        _lock_customer(customer.pk)
        is_first = not Address.objects.filter(customer=customer).exists()
        address = Address.objects.create(customer=customer, is_default=False, **cleaned)
        if make_default or is_first:
            _make_default(address)
    return address


def address_update(
    *,
    address: Address,
    recipient_name: str | None = None,
    phone: str | None = None,
    postal_code: str | None = None,
    road_address: str | None = None,
    detail_address: str | None = None,
    english_name: str | None = None,
    make_default: bool = False,
) -> Address:
    """Change the given fields of ``address`` (``None`` leaves a field as it is), normalised
    like ``address_create``; ``make_default=True`` also makes it the default (``False``
    never takes the default away: another address has to become the default instead).
    Raises like ``address_create`` and changes nothing when a value is wrong."""
    given = {
        "recipient_name": recipient_name,
        "english_name": english_name,
        "phone": phone,
        "postal_code": postal_code,
        "road_address": road_address,
        "detail_address": detail_address,
    }
    cleaned = _normalise({name: value for name, value in given.items() if value is not None})
    with transaction.atomic():
        _lock_customer(address.customer_id)
        changed = [name for name, value in cleaned.items() if getattr(address, name) != value]
        for name in changed:
            setattr(address, name, cleaned[name])
        if changed:
            address.save(update_fields=[*changed, "updated_at"])
        if make_default:
            _make_default(address)
    return address


def address_delete(*, address: Address) -> None:
    """Delete ``address``. When it was the default, the shopper's most recently updated
    remaining address becomes the default, so a shopper with addresses always has one.
    Orders are unaffected: they keep their own copy of the address."""
    with transaction.atomic():
        _lock_customer(address.customer_id)
        customer_id, was_default = address.customer_id, address.is_default
        address.delete()
        if was_default:
            successor = (
                Address.objects.filter(customer_id=customer_id)
                .order_by("-updated_at", "-id")
                .first()
            )
            if successor is not None:
                _make_default(successor)


def address_set_default(*, address: Address) -> Address:
    """Make ``address`` its shopper's default; the previous default stops being one in the
    same transaction. Idempotent."""
    with transaction.atomic():
        _lock_customer(address.customer_id)
        address.refresh_from_db(fields=["is_default"])
        _make_default(address)
    return address
