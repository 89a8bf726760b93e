"""Domestic stock reservations at checkout: hold units for an order awaiting payment, give
them back when it is cancelled or expires.

The rules (DOMAIN.md, Stock and restock): domestic, active warehouses in priority order,
spilling across warehouses; whatever cannot be held ships cross-border. ``Stock.reserved``
counts the units of active reservations; the database refuses allocated + reserved >
on_hand, so nothing is promised twice.

Concurrency. Every write here locks the ``Stock`` rows it touches with
``select_for_update`` in one fixed order (by primary key), then the ``Reservation`` rows,
so two checkouts wanting the same products in any order wait for each other instead of
deadlocking. Counters move by conditional ``F()`` updates (the row is only changed when the
units are still there), and the check constraint is the last guard behind them. Allocation
at payment (issue 4) takes the same locks in the same order.

Callers pass plain values (an order id, product ids, quantities); this module never
imports ``orders.services``.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from orders.models import Order, OrderStatus
from storefront.errors import ApplicationError
from storefront.prepared import PreparedQuery

from ..models import Reservation, Stock

logger = logging.getLogger(__name__)

ONE_PER_ORDER_STOCK = "reservation_one_per_order_stock"
# Orders whose held units the safety-net sweep may give back: never paid, or cancelled.
UNPAID_STATUSES = (OrderStatus.PENDING_PAYMENT, OrderStatus.CANCELLED)


class ReservationLinesInvalid(ApplicationError):
    """The lines asked for no units or a quantity under 1."""

    code = "reservation_lines_invalid"


class ReservationsReleased(ApplicationError):
    """The order's reservations were released (cancelled or expired): it cannot hold stock
    again; place a new order."""

    code = "reservations_released"


class ReservationConflict(ApplicationError):
    """Another reservation for the same order was written at the same moment."""

    code = "reservation_conflict"


class ReservationInconsistent(ApplicationError):
    """A stock row holds fewer reserved units than its reservations say (data damage)."""

    code = "reservation_inconsistent"


@dataclass(frozen=True)
class ReservationRequest:
    """Units of one product an order wants."""

    product_id: int
    quantity: int


@dataclass(frozen=True)
class ReservedLine:
    """How one product of an order ships: ``domestic`` units held in Korean warehouses,
    ``cross_border`` units to buy from Amazon; together they are ``quantity``."""

    product_id: int
    quantity: int
    domestic: int
    cross_border: int


@dataclass(frozen=True)
class ReservationResult:
    """The split of an order's products, one ``ReservedLine`` per product in the order the
    products were first asked for."""

    lines: tuple[ReservedLine, ...]

    def as_dict(self) -> dict[int, tuple[int, int]]:
        """Product id → (domestic units, cross-border units)."""
        return {line.product_id: (line.domestic, line.cross_border) for line in self.lines}

    def line(self, product_id: int) -> ReservedLine:
        """The split of one product; ``KeyError`` if the order did not ask for it."""
        for line in self.lines:
            if line.product_id == product_id:
                return line
        raise KeyError(product_id)

    @property
    def domestic_units(self) -> int:
        return sum(line.domestic for line in self.lines)

    @property
    def cross_border_units(self) -> int:
        return sum(line.cross_border for line in self.lines)

    @property
    def has_cross_border(self) -> bool:
        return self.cross_border_units > 0


def _wanted(lines: Iterable[ReservationRequest]) -> dict[int, int]:
    """Units per product, first-asked order kept; a product listed twice is added up."""
    wanted: dict[int, int] = {}
    for line in lines:
        if line.quantity < 1:
            raise ReservationLinesInvalid(
                _("Each line needs a quantity of at least 1."), code="reservation_quantity_min_1"
            )
        wanted[line.product_id] = wanted.get(line.product_id, 0) + line.quantity
    if not wanted:
        raise ReservationLinesInvalid(_("There is nothing to reserve."))
    return wanted


def _result(wanted: dict[int, int], domestic: dict[int, int]) -> ReservationResult:
    lines = []
    for product_id, quantity in wanted.items():
        held = min(domestic.get(product_id, 0), quantity)
        lines.append(
            ReservedLine(
                product_id=product_id,
                quantity=quantity,
                domestic=held,
                cross_border=quantity - held,
            )
        )
    return ReservationResult(lines=tuple(lines))


def _domestic_stock_for_update(product_ids: Iterable[int]) -> QuerySet[Stock]:
    return (
        Stock.objects.select_for_update(of=("self",))
        .select_related("warehouse")
        .filter(
            product_id__in=list(product_ids),
            warehouse__is_domestic=True,
            warehouse__is_active=True,
        )
        .order_by("pk")
    )


# The lock query compiled once per process for each number of products up to this many
# (a cart holds a few): compiling it cost more Python than running it.
PREPARED_LOCK_MAX_PRODUCTS = 8
_LOCK_QUERIES = {
    count: PreparedQuery(
        lambda **ids: _domestic_stock_for_update(ids.values()),
        *(f"product_{n}" for n in range(count)),
    )
    for count in range(1, PREPARED_LOCK_MAX_PRODUCTS + 1)
}


def _lock_domestic_stock(*, product_ids: Iterable[int]) -> list[Stock]:
    """The products' stock rows in domestic, active warehouses, locked in primary-key order
    (the one lock order every stock write uses). ``of=("self",)``: the warehouse rows joined
    for the filter are read, not locked."""
    ids = list(dict.fromkeys(product_ids))
    prepared = _LOCK_QUERIES.get(len(ids))
    if prepared is None:
        return list(_domestic_stock_for_update(ids))
    return prepared.fetch(**{f"product_{n}": product_id for n, product_id in enumerate(ids)})


def _stock_rows_take(takes: list[tuple[Stock, int]]) -> set[int]:
    """Add each (row, units) to the row's ``reserved`` where the units are still free (a
    conditional ``F()`` update per row); return the ids of the rows that took them. On
    PostgreSQL one ``UPDATE ... FROM (VALUES ...)`` for all the rows, same condition."""
    if not takes:
        return set()
    connection = transaction.get_connection(Stock.objects.db)
    if connection.vendor != "postgresql":
        return {
            stock.pk
            for stock, units in takes
            if Stock.objects.filter(
                pk=stock.pk, on_hand__gte=F("allocated") + F("reserved") + units
            ).update(reserved=F("reserved") + units)
        }
    quote = connection.ops.quote_name
    table = quote(Stock._meta.db_table)
    pk, on_hand, allocated, reserved = (
        quote(Stock._meta.get_field(name).column)
        for name in ("id", "on_hand", "allocated", "reserved")
    )
    values = ", ".join(["(%s, %s)"] * len(takes))
    # Only quoted model identifiers and placeholders in the text; the values are parameters.
    sql = (
        f"UPDATE {table} AS s SET {reserved} = s.{reserved} + v.units "  # noqa: S608
        f"FROM (VALUES {values}) AS v(id, units) "
        f"WHERE s.{pk} = v.id AND s.{on_hand} >= s.{allocated} + s.{reserved} + v.units "
        f"RETURNING s.{pk}"
    )
    params = [value for stock, units in takes for value in (stock.pk, units)]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return {row[0] for row in cursor.fetchall()}


def _existing_split(*, order_id: int) -> dict[int, int] | None:
    """Units the order already holds per product (active or converted reservations), or
    ``None`` when it has never held any. Raises ``ReservationsReleased`` when everything it
    held was given back."""
    rows = list(
        Reservation.objects.filter(order_id=order_id)
        .values("product_id", "status")
        .annotate(units=Sum("quantity"))
    )
    if not rows:
        return None
    held: dict[int, int] = {}
    for row in rows:
        if row["status"] != Reservation.Status.RELEASED:
            held[row["product_id"]] = held.get(row["product_id"], 0) + row["units"]
    if not held:
        raise ReservationsReleased(
            _("This order's reserved stock was released; please place the order again.")
        )
    return held


def stock_reserve(
    *,
    order_id: int,
    lines: Sequence[ReservationRequest],
    expires_at: datetime.datetime,
    order_is_new: bool = False,
) -> ReservationResult:
    """Hold domestic stock for an order's lines until ``expires_at``; return the split.

    For each product, units come from domestic, active warehouses in priority order
    (lowest first), spilling across warehouses; what cannot be held is cross-border. One
    transaction: the stock rows are locked in primary-key order, each row's ``reserved``
    grows by a conditional update (one statement for all the rows on PostgreSQL), and one
    ``Reservation`` row is written per stock row used. Nothing else changes (no allocation,
    no on-hand change).

    Idempotent: when the order already holds reservations (active, or converted at
    payment) nothing is reserved again and the split they make is returned (the lines are
    expected to be the ones of the first call). An order that held nothing domestic leaves
    no rows, so a repeat call looks again. Raises ``ReservationLinesInvalid`` for an empty
    request or a quantity under 1, ``ReservationsReleased`` when the order's reservations
    were already released, ``ReservationConflict`` if a concurrent call for the same order
    wrote first; nothing is written then.

    ``order_is_new``: the caller created the order in the transaction it calls this in
    (checkout), so the order cannot hold reservations yet and nobody else can reserve for
    it: the look-up of earlier reservations is skipped, and no savepoint is taken (any
    error here rolls back the caller's whole transaction).
    """
    wanted = _wanted(lines)
    try:
        with transaction.atomic(savepoint=not order_is_new):
            stocks = _lock_domestic_stock(product_ids=wanted)
            # Checked after the locks: a concurrent call for the same order that locked
            # first has committed by now, and this read (a new snapshot) sees its rows.
            existing = None if order_is_new else _existing_split(order_id=order_id)
            if existing is not None:
                return _result(wanted, existing)

            by_priority = sorted(stocks, key=lambda s: (s.warehouse.priority, s.warehouse.code))
            remaining = dict(wanted)
            takes: list[tuple[Stock, int]] = []
            for stock in by_priority:
                units = min(stock.available, remaining[stock.product_id])
                if units <= 0:
                    continue
                remaining[stock.product_id] -= units
                takes.append((stock, units))
            # Under the row locks every take succeeds; without them (SQLite) a row whose
            # units went elsewhere holds nothing and those units ship cross-border.
            taken = _stock_rows_take(takes)
            held: dict[int, int] = {}
            reservations: list[Reservation] = []
            for stock, units in takes:
                if stock.pk not in taken:
                    continue
                held[stock.product_id] = held.get(stock.product_id, 0) + units
                reservations.append(
                    Reservation(
                        order_id=order_id,
                        stock_id=stock.pk,
                        product_id=stock.product_id,
                        quantity=units,
                        expires_at=expires_at,
                    )
                )
            Reservation.objects.bulk_create(reservations)
    except IntegrityError as exc:
        if ONE_PER_ORDER_STOCK in str(exc) or "fulfillment_reservation.order_id" in str(exc):
            raise ReservationConflict(
                _("This order is already being reserved; try again.")
            ) from exc
        raise
    return _result(wanted, held)


def _release(*, order_id: int, now: datetime.datetime) -> int:
    """Release the order's active reservations; the caller holds the transaction."""
    stock_ids = list(
        Reservation.objects.filter(order_id=order_id, status=Reservation.Status.ACTIVE)
        .values_list("stock_id", flat=True)
        .distinct()
    )
    if not stock_ids:
        return 0
    list(Stock.objects.select_for_update().filter(pk__in=stock_ids).order_by("pk"))
    # Read again under the locks: a concurrent release of the same order that locked first
    # has committed, and what it released is no longer active here.
    reservations = list(
        Reservation.objects.select_for_update()
        .filter(order_id=order_id, status=Reservation.Status.ACTIVE)
        .order_by("pk")
    )
    released = 0
    for reservation in reservations:
        given_back = Stock.objects.filter(
            pk=reservation.stock_id, reserved__gte=reservation.quantity
        ).update(reserved=F("reserved") - reservation.quantity)
        if not given_back:
            raise ReservationInconsistent(
                _("Stock row %(id)s holds fewer reserved units than its reservations.")
                % {"id": reservation.stock_id}
            )
        released += reservation.quantity
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        status=Reservation.Status.RELEASED, released_at=now
    )
    return released


def stock_reservations_release(*, order_id: int) -> int:
    """Give back the units an order holds: every active reservation becomes released and
    its stock row's ``reserved`` drops by its quantity; return the units given back.

    Idempotent: released and converted reservations are left alone, so a second call (or
    a concurrent one) returns 0 and changes nothing. Stock rows are locked in primary-key
    order, then the reservations. Raises ``ReservationInconsistent`` (nothing written) if a
    stock row holds fewer reserved units than its reservations say.
    """
    with transaction.atomic():
        return _release(order_id=order_id, now=timezone.now())


def stock_reservations_expire(*, now: datetime.datetime | None = None) -> int:
    """Safety net: release the reservations of unpaid orders (awaiting payment or
    cancelled) still active ``RESERVATION_EXPIRY_GRACE_SECONDS`` after they expired; return
    the units given back.

    The order-expiry task cancels unpaid orders and releases their stock first; this only
    catches what it missed. Each order is released in its own transaction with its row
    locked first, so an order paid in the meantime (status no longer unpaid under the lock)
    keeps its units; a failure on one order does not stop the others.
    """
    now = now or timezone.now()
    cutoff = now - datetime.timedelta(seconds=settings.RESERVATION_EXPIRY_GRACE_SECONDS)
    order_ids = sorted(
        set(
            Reservation.objects.filter(
                status=Reservation.Status.ACTIVE,
                expires_at__lt=cutoff,
                order__status__in=UNPAID_STATUSES,
            ).values_list("order_id", flat=True)
        )
    )
    released = 0
    for order_id in order_ids:
        try:
            with transaction.atomic():
                # The order row first, as the order's own services lock it before stock.
                unpaid = list(
                    Order.objects.select_for_update()
                    .filter(pk=order_id, status__in=UNPAID_STATUSES)
                    .values_list("pk", flat=True)
                )
                if unpaid:
                    released += _release(order_id=order_id, now=now)
        except ReservationInconsistent:
            logger.exception("reservations of order %s could not be released", order_id)
    return released
