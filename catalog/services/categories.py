"""The category tree and the customs mapping, as imports use them.

- ``CategoryTree``: every category by its source path ("Toys & Games | Puzzles"), loaded
  in one query; ``ensure`` creates the missing nodes of many paths at once through
  treebeard's manager API (``load_bulk``), so a whole import's categories cost a handful
  of queries. Slugs are ``slugify(name, allow_unicode=True)``, with ``-2``, ``-3``… when
  taken.
- ``CustomsMapping``: the staff-edited ``CustomsClassRule`` table read once, answering
  "which customs class is this source category path?" for as many paths as asked.
- ``category_get_or_create`` and ``customs_class_for_path``: the same for one path.

How a path maps to a customs class: a rule matches a level of the path when its pattern
occurs there as whole words, ignoring case. The deepest level that some rule matches
decides, so a department name never overrules what its sub-category says; within that
level the rule with the lowest priority number wins, then the longest pattern. So
"Clothing, Shoes & Jewelry | Men | Shoes" is shoes, "Clothing, Shoes & Jewelry | Men |
Clothing | Shirts" is clothing, "Toys & Games | Kids' Electronics" is toys ("Kids'
Electronics" is tried before "Electronics"), and a path no rule matches is "other".
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection, transaction
from django.utils.text import slugify

from storefront.errors import ApplicationError

from ..models import Category, CustomsClass, CustomsClassRule

PATH_SEPARATOR = " | "
FALLBACK_CUSTOMS_CODE = "other"
NAME_MAX_LENGTH = Category._meta.get_field("name").max_length
SLUG_MAX_LENGTH = Category._meta.get_field("slug").max_length
SOURCE_PATH_MAX_LENGTH = Category._meta.get_field("source_path").max_length
# Room for the "-123" that makes a slug unique.
SLUG_BASE_LENGTH = SLUG_MAX_LENGTH - 8


class CustomsSetupMissing(ApplicationError):
    """The customs classes are not there (migrations not run, or "other" deleted)."""

    code = "customs_setup_missing"


class CategoryPathInvalid(ApplicationError):
    code = "category_path_invalid"


def _apostrophes(text: str) -> str:
    # Feeds write both "Kids' Electronics" and "Kids’ Electronics".
    return text.replace("’", "'").replace("‘", "'")


def path_levels(path: str) -> list[str]:
    """The levels of a " | " path, whitespace collapsed, empty levels dropped."""
    levels = (" ".join(level.split()) for level in path.split("|"))
    return [level for level in levels if level]


def path_prefixes(path: str) -> list[str]:
    """``"A | B | C"`` → ``["A", "A | B", "A | B | C"]``."""
    levels = path_levels(path)
    return [PATH_SEPARATOR.join(levels[: depth + 1]) for depth in range(len(levels))]


# -- Customs mapping -------------------------------------------------------------------


@dataclass(frozen=True)
class _Rule:
    rank: int
    pattern: str
    regex: re.Pattern[str]
    customs_class: CustomsClass


@dataclass
class CustomsMapping:
    """The customs rules and the fallback class, read once; answers per path, cached."""

    rules: list[_Rule]
    fallback: CustomsClass
    _by_path: dict[str, CustomsClass] = field(default_factory=dict)

    @classmethod
    def load(cls) -> CustomsMapping:
        """Read the rules (one query) and the "other" class (one query)."""
        try:
            fallback = CustomsClass.objects.get(code=FALLBACK_CUSTOMS_CODE)
        except CustomsClass.DoesNotExist as exc:
            raise CustomsSetupMissing(
                f'The customs class "{FALLBACK_CUSTOMS_CODE}" does not exist; run '
                "`python manage.py migrate` (it is seeded there)."
            ) from exc
        ordered = sorted(
            CustomsClassRule.objects.select_related("customs_class"),
            key=lambda rule: (rule.priority, -len(rule.pattern), rule.pattern),
        )
        rules = []
        for rank, rule in enumerate(ordered):
            pattern = _apostrophes(" ".join(rule.pattern.split()))
            if not pattern:
                continue
            regex = re.compile(rf"(?<!\w){re.escape(pattern)}(?!\w)", re.IGNORECASE)
            rules.append(_Rule(rank, pattern, regex, rule.customs_class))
        return cls(rules=rules, fallback=fallback)

    def class_for_path(self, path: str) -> CustomsClass:
        """The customs class of a source category path (see the module docstring)."""
        found = self._by_path.get(path)
        if found is None:
            found = self._by_path[path] = self._classify(path)
        return found

    def _classify(self, path: str) -> CustomsClass:
        levels = [_apostrophes(level) for level in path_levels(path)]
        # A staff pattern spelling several levels ("Clothing | Shoes") is explicit about
        # where it applies: it is matched on the whole path and tried first.
        whole_path = PATH_SEPARATOR.join(levels)
        spanning = [r for r in self.rules if "|" in r.pattern and r.regex.search(whole_path)]
        if spanning:
            return spanning[0].customs_class
        # The most specific level that any rule recognises decides; within it the rules
        # are tried in order (priority, then the longest pattern).
        for level in reversed(levels):
            for rule in self.rules:
                if "|" not in rule.pattern and rule.regex.search(level):
                    return rule.customs_class
        return self.fallback


def customs_class_for_path(*, path: str) -> CustomsClass:
    """The customs class for one source category path, reading the current rules.

    For many paths, load a ``CustomsMapping`` once and ask it instead."""
    return CustomsMapping.load().class_for_path(path)


# -- Category tree ---------------------------------------------------------------------


class CategoryTree:
    """All categories by source path, loaded once, with missing paths created in bulk.

    Not thread-safe and not shared between runs: build one per import."""

    def __init__(self) -> None:
        self._by_path: dict[str, Category] = {}
        self._slugs: set[str] = set()
        for category in Category.objects.all():
            self._by_path[category.source_path] = category
            self._slugs.add(category.slug)

    def get(self, path: str) -> Category | None:
        return self._by_path.get(PATH_SEPARATOR.join(path_levels(path)))

    def typical_weight_kg(self, path: str) -> Decimal | None:
        """The nearest typical weight staff set on the category or one of its ancestors."""
        for prefix in reversed(path_prefixes(path)):
            category = self._by_path.get(prefix)
            # A weight must be positive (the product's constraint): ignore anything else.
            if category is not None and (category.typical_weight_kg or 0) > 0:
                return category.typical_weight_kg
        return None

    def _unique_slug(self, name: str) -> str:
        base = slugify(name, allow_unicode=True)[:SLUG_BASE_LENGTH].strip("-") or "category"
        slug, suffix = base, 2
        while slug in self._slugs:
            slug, suffix = f"{base}-{suffix}", suffix + 1
        self._slugs.add(slug)
        return slug

    def ensure(self, paths: Iterable[str]) -> int:
        """Create every missing node of the given paths (and of their ancestors).

        New nodes hanging from the same existing parent (or new roots) are created by one
        ``load_bulk`` call: with a backend that returns ids from bulk inserts, the first
        level costs a couple of queries per node and everything below it one insert.
        Returns how many categories were created."""
        missing: dict[str, None] = {}
        for path in paths:
            for prefix in path_prefixes(path):
                if len(prefix) > SOURCE_PATH_MAX_LENGTH:
                    raise CategoryPathInvalid(
                        f"Category path longer than {SOURCE_PATH_MAX_LENGTH} characters: "
                        f"{prefix[:80]}…"
                    )
                if prefix not in self._by_path:
                    missing[prefix] = None
        if not missing:
            return 0

        # Nested load_bulk data per existing parent path ("" = new roots), siblings sorted.
        nodes: dict[str, dict] = {}
        groups: dict[str, list[dict]] = {}
        for prefix in sorted(missing, key=lambda item: (item.count(PATH_SEPARATOR), item)):
            levels = prefix.split(PATH_SEPARATOR)
            parent_path = PATH_SEPARATOR.join(levels[:-1])
            name = levels[-1][:NAME_MAX_LENGTH]
            node = {
                "data": {"name": name, "slug": self._unique_slug(name), "source_path": prefix},
                "children": [],
            }
            nodes[prefix] = node
            if parent_path in nodes:
                nodes[parent_path]["children"].append(node)
            else:
                groups.setdefault(parent_path, []).append(node)

        bulk = bool(connection.features.can_return_rows_from_bulk_insert)
        with transaction.atomic():
            for parent_path, data in groups.items():
                parent = self._by_path[parent_path] if parent_path else None
                Category.objects.load_bulk(data, parent=parent, bulk_create=bulk)
            for category in Category.objects.filter(source_path__in=list(missing)):
                self._by_path[category.source_path] = category
        return len(missing)


def category_get_or_create(*, path: str) -> Category:
    """The category node for a " | " path, creating it and any missing ancestors."""
    if not path_levels(path):
        raise CategoryPathInvalid("A category path needs at least one level.")
    tree = CategoryTree()
    tree.ensure([path])
    category = tree.get(path)
    assert category is not None  # ensure() just created it
    return category
