"""Reads of a shopper's saved addresses, ownership built in."""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404

from orders.models import Address


def addresses_for_customer(*, customer: AbstractBaseUser) -> QuerySet[Address]:
    """The shopper's addresses, the default first, then the most recently updated."""
    return Address.objects.filter(customer_id=customer.pk).order_by(
        "-is_default", "-updated_at", "-id"
    )


def address_default_for_customer(*, customer: AbstractBaseUser) -> Address | None:
    """The shopper's default address, or ``None`` when they have saved none."""
    return Address.objects.filter(customer_id=customer.pk, is_default=True).first()


def address_get_for_customer(*, customer: AbstractBaseUser, address_id: int) -> Address:
    """One of the shopper's addresses; ``Http404`` for a missing id or another shopper's
    address (the two are indistinguishable on purpose)."""
    return get_object_or_404(Address, pk=address_id, customer_id=customer.pk)
