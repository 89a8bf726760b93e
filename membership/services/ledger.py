"""The append-only points ledger: one function appends an entry with its running balances.

Callers hold the account row lock (``select_for_update``) so entries of one account are
numbered one after another; the database refuses a repeated number, a negative balance and
a hold resolved twice whatever the caller does.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

from ..models import CarrierAccount, PointEntry, PointHold


@dataclass(frozen=True)
class Balances:
    available: int
    held: int


def ledger_balances(*, account_id: int) -> Balances:
    """The account's balances after its latest entry (0/0 before any)."""
    latest = (
        PointEntry.objects.filter(account_id=account_id)
        .order_by("-sequence")
        .values("available_after", "held_after")
        .first()
    )
    if latest is None:
        return Balances(available=0, held=0)
    return Balances(available=latest["available_after"], held=latest["held_after"])


def entry_append(
    *,
    account: CarrierAccount,
    kind: str,
    points: int,
    available_delta: int,
    held_delta: int,
    hold: PointHold | None = None,
    carrier_transaction_id: str | None = None,
    carrier_at: datetime.datetime | None = None,
    idempotency_key: str | None = None,
    note: str = "",
) -> PointEntry:
    """Append one entry to ``account``'s ledger (the caller locked the account row, inside
    its transaction). Raises ``IntegrityError`` when the result would break a ledger rule."""
    latest = (
        PointEntry.objects.filter(account_id=account.pk)
        .order_by("-sequence")
        .values("sequence", "available_after", "held_after")
        .first()
    ) or {"sequence": 0, "available_after": 0, "held_after": 0}
    return PointEntry.objects.create(
        account=account,
        hold=hold,
        sequence=latest["sequence"] + 1,
        kind=kind,
        points=points,
        available_delta=available_delta,
        held_delta=held_delta,
        available_after=latest["available_after"] + available_delta,
        held_after=latest["held_after"] + held_delta,
        carrier_transaction_id=carrier_transaction_id,
        carrier_at=carrier_at,
        idempotency_key=idempotency_key,
        note=note[:200],
    )
