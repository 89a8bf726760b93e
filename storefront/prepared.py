"""Read queries compiled to SQL once per process (issue 7: order placement and product page
speed).

Turning a ``QuerySet`` with ``select_related``, ``only`` and a subquery into SQL costs more
Python than PostgreSQL spends running it (~0.6 ms for the checkout cart query, which runs
twice per order). A ``PreparedQuery`` builds its queryset once with placeholder ids,
compiles it, and from then on only runs the stored SQL with the real ids and turns the
rows into model instances the way the ORM does (``Model.from_db``, the ``select_related``
objects, the annotations), so callers get the same objects as from the queryset.

Placeholders are integers (ids) or, for the names given as ``text``, strings (an ASIN, a
category path). It falls back to the plain queryset when a placeholder does not appear
exactly once among the compiled parameters. Database converters (an annotation's
``int()``, SQLite's decimals, JSON fields) are applied as the ORM applies them. A query
with ``select_for_update`` still refuses to run outside a transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

# Placeholder values stand for the real values in the compiled parameters; no row has
# them (no id is negative, no text holds a NUL byte).
_PLACEHOLDER_BASE = -7_331_000_001
_TEXT_PLACEHOLDER = "\x00prepared-{n}\x00"


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple
    positions: dict[str, int]
    model: type[Model]
    start: int
    end: int
    init_list: list[str]
    related_populators: list
    annotation_col_map: dict[str, int]
    converters: tuple[tuple[int, tuple, Any], ...]
    for_update: bool


_UNSET = object()


class PreparedQuery:
    """``build(**placeholders)`` returns the queryset (evaluated as a list of model
    instances); ``fetch(**values)`` runs it for the given values. ``names`` are the keyword
    arguments ``build`` takes, each used once in the query: integer ids, or strings for
    the names also listed in ``text``."""

    def __init__(
        self,
        build: Callable[..., QuerySet],
        *names: str,
        text: Iterable[str] = (),
        using: str = DEFAULT_DB_ALIAS,
    ) -> None:
        self._build = build
        self._names = names
        self._text = frozenset(text)
        self._using = using
        self._compiled: Any = _UNSET
        self._lock = threading.Lock()

    def fetch(self, **values: int) -> list[Any]:
        compiled = self._compiled
        if compiled is _UNSET:
            with self._lock:
                if self._compiled is _UNSET:
                    self._compiled = self._compile()
                compiled = self._compiled
        if compiled is None:
            return list(self._build(**values))
        params = list(compiled.params)
        for name, position in compiled.positions.items():
            params[position] = values[name]
        connection = connections[self._using]
        if compiled.for_update and connection.get_autocommit():
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        objects = []
        for row in rows:
            if compiled.converters:
                row = list(row)
                for position, functions, expression in compiled.converters:
                    value = row[position]
                    for function in functions:
                        value = function(value, expression, connection)
                    row[position] = value
            obj = compiled.model.from_db(
                self._using, compiled.init_list, row[compiled.start : compiled.end]
            )
            for populator in compiled.related_populators:
                populator.populate(row, obj)
            for attr_name, position in compiled.annotation_col_map.items():
                setattr(obj, attr_name, row[position])
            objects.append(obj)
        return objects

    def _compile(self) -> _Compiled | None:
        placeholders = {
            name: _TEXT_PLACEHOLDER.format(n=n) if name in self._text else _PLACEHOLDER_BASE - n
            for n, name in enumerate(self._names)
        }
        queryset = self._build(**placeholders)
        compiler = queryset.query.get_compiler(using=self._using)
        sql, params = compiler.as_sql()
        positions = {}
        for name, placeholder in placeholders.items():
            found = [
                n
                for n, param in enumerate(params)
                if type(param) is type(placeholder) and param == placeholder
            ]
            if len(found) != 1:
                return None
            positions[name] = found[0]
        select, klass_info = compiler.select, compiler.klass_info
        if klass_info is None:
            return None
        converters = compiler.get_converters([column for column, *_ in select])
        start, end = klass_info["select_fields"][0], klass_info["select_fields"][-1] + 1
        return _Compiled(
            sql=sql,
            params=tuple(params),
            positions=positions,
            model=klass_info["model"],
            start=start,
            end=end,
            init_list=[column[0].target.attname for column in select[start:end]],
            related_populators=get_related_populators(klass_info, select, self._using),
            annotation_col_map=dict(compiler.annotation_col_map or {}),
            converters=tuple(
                (position, tuple(functions), expression)
                for position, (functions, expression) in converters.items()
            ),
            for_update=bool(queryset.query.select_for_update),
        )
