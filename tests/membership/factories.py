"""Membership factories: carrier accounts, point holds and ledger entries, and
``member_link`` (a new shopper linked to a sandbox member through the real code flow).
``entry_add`` appends entries with ``membership.services.ledger.entry_append`` under a
transaction with the account row locked, exactly as the services do, so sequence numbers
and running balances are consistent (the database refuses anything else)."""

from __future__ import annotations

import datetime
from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from membership.models import (
    CarrierAccount,
    PointEntry,
    PointHold,
    ReconciliationMismatch,
    ReconciliationRun,
)
from membership.selectors import discount_day
from membership.services.accounts import carrier_link_confirm, carrier_link_start
from membership.services.ledger import entry_append

LINK_CODE = "135790"


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"member{n}@example.com")
    email = factory.LazyAttribute(lambda o: o.username)


class CarrierAccountFactory(factory.django.DjangoModelFactory):
    """A live link to a carrier member (a demo member of the sandbox by default)."""

    class Meta:
        model = CarrierAccount

    customer = factory.SubFactory(CustomerFactory)
    member_ref = "TM1000000002"
    phone = "+821098765432"
    tier = "GOLD"
    carrier_balance = 25000
    synced_at = factory.LazyFunction(timezone.now)


class PointHoldFactory(factory.django.DjangoModelFactory):
    """A hold the carrier confirmed (``held``); pass ``order=`` to tie it to an order."""

    class Meta:
        model = PointHold

    account = factory.SubFactory(CarrierAccountFactory)
    member_ref = factory.LazyAttribute(lambda o: o.account.member_ref)
    order = None
    points = 3000
    status = PointHold.Status.HELD
    idempotency_key = factory.Sequence(lambda n: f"hold-test-{n}")
    carrier_hold_id = factory.Sequence(lambda n: f"hld_test{n:06d}")
    tier = factory.LazyAttribute(lambda o: o.account.tier)
    rate = Decimal("0.100")
    cap_krw = 30000
    merchandise_krw = 30000
    discount_day = factory.LazyFunction(discount_day)
    day_use = factory.Sequence(lambda n: n + 1)
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=24))


def entry_add(
    *,
    account: CarrierAccount,
    kind: str = PointEntry.Kind.SYNC,
    points: int,
    hold: PointHold | None = None,
) -> PointEntry:
    """Append one entry the way the services do: ``sync`` adds ``points`` to available,
    ``hold`` moves them from available to held, ``capture`` takes them off held,
    ``release`` moves them back, ``refund`` adds them to available."""
    deltas = {
        PointEntry.Kind.SYNC: (points, 0),
        PointEntry.Kind.HOLD: (-points, points),
        PointEntry.Kind.CAPTURE: (0, -points),
        PointEntry.Kind.RELEASE: (points, -points),
        PointEntry.Kind.REFUND: (points, 0),
    }
    available_delta, held_delta = deltas[kind]
    with transaction.atomic():
        locked = CarrierAccount.objects.select_for_update().get(pk=account.pk)
        return entry_append(
            account=locked,
            kind=kind,
            points=points,
            available_delta=available_delta,
            held_delta=held_delta,
            hold=hold,
        )


def member_link(*, controls, member_ref: str, customer=None) -> CarrierAccount:
    """Link ``customer`` (a new shopper by default) to the sandbox carrier's member
    ``member_ref`` through send-code → confirm (the carrier service's fixed code is set);
    the ledger then holds the carrier's available balance. ``controls`` is the
    ``carrier_points`` fixture's value."""
    phone = controls.state("carrier")["members"][member_ref]["phone"]
    customer = customer or CustomerFactory()
    controls.state("carrier", fixed_code=LINK_CODE)
    challenge = carrier_link_start(customer_id=customer.pk, phone=phone)
    return carrier_link_confirm(
        customer_id=customer.pk, challenge_id=challenge.challenge_id, phone=phone, code=LINK_CODE
    )


# --- Added for the admin and reconciliation tests -----------------------------------------
# Rows made without the carrier, for pages and query counts. Each account here is a made-up
# member (``CarrierAccountFactory``'s default is a sandbox demo member, one live link only).


_made_up_numbers = iter(range(1, 10**9))


def made_up_account(**fields) -> CarrierAccount:
    """A live link of a made-up member (unique member_ref and phone, unknown to the
    sandbox)."""
    n = next(_made_up_numbers)
    fields.setdefault("member_ref", f"TM9{n:09d}")
    fields.setdefault("phone", f"+821077{n % 100000:05d}")
    return CarrierAccountFactory(**fields)


class PointEntryFactory(factory.django.DjangoModelFactory):
    """The ``hold`` entry of ``hold`` as the first entry of its account (pass ``sequence``
    and the balances for anything else)."""

    class Meta:
        model = PointEntry

    hold = factory.SubFactory(PointHoldFactory, account=factory.LazyFunction(made_up_account))
    account = factory.LazyAttribute(lambda o: o.hold.account)
    sequence = 1
    kind = PointEntry.Kind.HOLD
    points = factory.LazyAttribute(lambda o: o.hold.points)
    available_delta = factory.LazyAttribute(lambda o: -o.points)
    held_delta = factory.LazyAttribute(lambda o: o.points)
    available_after = 0
    held_after = factory.LazyAttribute(lambda o: o.points)
    carrier_transaction_id = factory.Sequence(lambda n: f"txn_test{n:06d}")
    carrier_at = factory.LazyFunction(timezone.now)
    idempotency_key = factory.LazyAttribute(lambda o: o.hold.idempotency_key)


class ReconciliationRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReconciliationRun

    day = factory.LazyFunction(discount_day)
    status = ReconciliationRun.Status.MISMATCHED
    finished_at = factory.LazyFunction(timezone.now)


class ReconciliationMismatchFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ReconciliationMismatch

    run = factory.SubFactory(ReconciliationRunFactory)
    kind = ReconciliationMismatch.Kind.MISSING_LOCALLY
    carrier_transaction_id = factory.Sequence(lambda n: f"txn_extra{n:06d}")
    detail = "carrier hold of 1000 points for TM1000000003 is not in our ledger"
