"""The feed layouts the importer knows, recognised by their header, and how one record of
each becomes a ``ProductRow`` (or a ``RowRejected`` with the reason).

- ``amazon_2023``: "Amazon Products Dataset 2023" products
  (``asin,title,imgUrl,productURL,stars,reviews,price,listPrice,category_id,isBestSeller,
  boughtInLastMonth``); ``price`` 0 means unknown, ``category_id`` refers to the companion
  categories file.
- ``amazon_2023_categories``: that companion (``id,category_name``).
- ``promptcloud_2020``: "PromptCloud Amazon Product Dataset 2020" (28 columns; ASIN in the
  product URL, prices as the page printed them, weights in pounds or ounces).

Columns are found by name (case and surrounding spaces ignored), so column order and extra
columns do not matter.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from . import parsing
from .departments import category_path_for_name, path_normalize
from .errors import RowRejected

# Product.source values (catalog.models.Product.Source), kept as plain strings so this
# package stays free of the ORM.
SOURCE_AMAZON_2023 = "amazon_2023"
SOURCE_PROMPTCLOUD_2020 = "promptcloud_2020"

# Model column lengths the parsed values must fit (catalog.models).
BRAND_MAX_LENGTH = 200
CATEGORY_PATH_MAX_LENGTH = 1000
URL_MAX_LENGTH = 1000


@dataclass(frozen=True, slots=True)
class ProductRow:
    """One product as a feed describes it, already cleaned and checked. ``weight_kg`` is
    ``None`` when the feed gives none (the importer estimates it); ``category_path`` is the
    full " | " path or ""."""

    asin: str
    title: str
    price_usd: Decimal
    list_price_usd: Decimal | None = None
    brand: str = ""
    description: str = ""
    bullet_points: tuple[str, ...] = ()
    image_urls: tuple[str, ...] = ()
    weight_kg: Decimal | None = None
    rating: Decimal | None = None
    review_count: int = 0
    bought_last_month: int = 0
    is_best_seller: bool = False
    category_path: str = ""
    source_url: str = ""


@dataclass(frozen=True)
class Layout:
    """A feed layout: its name, the columns that identify it and the product source it
    records (``None`` for a file that holds no products)."""

    key: str
    label: str
    columns: tuple[str, ...]
    source: str | None

    @property
    def holds_products(self) -> bool:
        return self.source is not None

    def missing_columns(self, header: list[str]) -> list[str]:
        present = {name.strip().casefold() for name in header}
        return [column for column in self.columns if column.casefold() not in present]


AMAZON_2023 = Layout(
    key="amazon_2023",
    label="Amazon Products Dataset 2023 (products)",
    columns=(
        "asin",
        "title",
        "imgUrl",
        "productURL",
        "stars",
        "reviews",
        "price",
        "listPrice",
        "category_id",
        "isBestSeller",
        "boughtInLastMonth",
    ),
    source=SOURCE_AMAZON_2023,
)
AMAZON_2023_CATEGORIES = Layout(
    key="amazon_2023_categories",
    label="Amazon Products Dataset 2023 (categories: id,category_name)",
    columns=("id", "category_name"),
    source=None,
)
PROMPTCLOUD_2020 = Layout(
    key="promptcloud_2020",
    label="PromptCloud Amazon Product Dataset 2020",
    columns=(
        "Uniq Id",
        "Product Name",
        "Brand Name",
        "Asin",
        "Category",
        "List Price",
        "Selling Price",
        "About Product",
        "Product Specification",
        "Technical Details",
        "Shipping Weight",
        "Image",
        "Product Url",
        "Product Description",
    ),
    source=SOURCE_PROMPTCLOUD_2020,
)
LAYOUTS = (AMAZON_2023, PROMPTCLOUD_2020, AMAZON_2023_CATEGORIES)


def layout_detect(header: list[str]) -> Layout | None:
    """The layout whose identifying columns the header has, or ``None``."""
    for layout in LAYOUTS:
        if not layout.missing_columns(header):
            return layout
    return None


def layout_mismatch(header: list[str]) -> str:
    """Why a header matches no layout, naming the closest one's missing columns."""
    shown = ",".join(header)
    shown = shown if len(shown) <= 120 else shown[:119] + "…"
    closest = min(LAYOUTS, key=lambda layout: len(layout.missing_columns(header)))
    missing = closest.missing_columns(header)
    if len(missing) < len(closest.columns) / 2:
        return (
            f"unknown layout: the header looks like {closest.label} but lacks the "
            f"column(s) {', '.join(missing)}"
        )
    known = "; ".join(layout.label for layout in LAYOUTS)
    return f"unknown layout: the header {shown!r} matches none of: {known}"


def column_index(header: list[str]) -> dict[str, int]:
    """Column name (case-folded) → position; the first of duplicated names wins."""
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        index.setdefault(name.strip().casefold(), position)
    return index


RowParser = Callable[[list[str]], ProductRow]


def _getter(header: list[str]) -> Callable[[list[str], str], str]:
    index = column_index(header)

    def get(fields: list[str], column: str) -> str:
        return fields[index[column.casefold()]]

    return get


def _title(text: str) -> str:
    title = " ".join(text.split())
    if not title:
        raise RowRejected("missing title")
    return title


def _list_price(
    text: str, price: Decimal, *, parse: Callable[[str], Decimal | None]
) -> Decimal | None:
    """A list ("was") price worth showing: above the price; otherwise none. An unreadable
    list price only loses the strike-through, never the product."""
    try:
        list_price = parse(text)
    except RowRejected:
        return None
    if list_price is None or list_price <= price:
        return None
    return list_price


def _category_path(path: str) -> str:
    if len(path) > CATEGORY_PATH_MAX_LENGTH:
        raise RowRejected(
            f"category path longer than {CATEGORY_PATH_MAX_LENGTH:,} characters "
            f"({parsing.short(path)})"
        )
    return path


# -- Amazon Products Dataset 2023 -------------------------------------------------------


def categories_entry(header: list[str]) -> Callable[[list[str]], tuple[str, str]]:
    """Parser of a categories-file record → ``(category id, full category path)``."""
    get = _getter(header)

    def parse(fields: list[str]) -> tuple[str, str]:
        category_id = category_id_normalize(get(fields, "id"))
        if not category_id:
            raise RowRejected("missing category id")
        name = get(fields, "category_name")
        if not name.strip():
            raise RowRejected(f"missing category_name for category id {category_id}")
        return category_id, _category_path(category_path_for_name(name))

    return parse


def category_id_normalize(text: str) -> str:
    """ "261", " 261 " and "261.0" are the same category id."""
    text = text.strip()
    if re.fullmatch(r"\d+\.0*", text):
        text = text.split(".", 1)[0]
    return text.lstrip("0") or ("0" if text else "")


def amazon_2023_row(header: list[str], *, categories: Mapping[str, str]) -> RowParser:
    """Parser of a 2023 products record. ``categories`` maps category ids to full paths;
    an id it lacks leaves the product without a category."""
    get = _getter(header)

    def parse(fields: list[str]) -> ProductRow:
        asin = parsing.asin_clean(get(fields, "asin"))
        title = _title(get(fields, "title"))
        price_text = get(fields, "price").strip()
        price = parsing.price_plain(price_text)
        if price is None:
            raise RowRejected("missing price")
        if price <= 0:
            raise RowRejected(f"price is {price_text} (0 means unknown in this feed)")
        image = parsing.url(get(fields, "imgUrl"), max_length=URL_MAX_LENGTH)
        return ProductRow(
            asin=asin,
            title=title,
            price_usd=price,
            # listPrice 0 means "no list price" in this dataset.
            list_price_usd=_list_price(get(fields, "listPrice"), price, parse=parsing.price_plain),
            image_urls=(image,) if image else (),
            rating=parsing.rating(get(fields, "stars")),
            review_count=parsing.count(get(fields, "reviews")),
            bought_last_month=parsing.count(get(fields, "boughtInLastMonth")),
            is_best_seller=parsing.flag(get(fields, "isBestSeller")),
            category_path=categories.get(category_id_normalize(get(fields, "category_id")), ""),
            source_url=parsing.url(get(fields, "productURL"), max_length=URL_MAX_LENGTH),
        )

    return parse


# -- PromptCloud Amazon Product Dataset 2020 --------------------------------------------

TRANSPARENT_PIXEL = "transparent-pixel"
FITS_BOILERPLATE = "make sure this fits by entering your model number."
RETURN_BOILERPLATE = re.compile(r"^go to your orders (and|to) start the return\b", re.IGNORECASE)
WEIGHT_SEGMENT = re.compile(
    r"^[\d.,]+\s*\w+\s*\(view shipping rates and policies\)$", re.IGNORECASE
)
REVIEWS_WIDGET = re.compile(r"show up to \d+ reviews by default\s*", re.IGNORECASE)
# The page's section heading, sometimes after a variant label ("Size:1 Pack Product
# Description Spirograph is back…").
DESCRIPTION_HEADING = re.compile(r"^(?:.{0,80}?\s)?Product Description\s+")
SPEC_ASIN = re.compile(r"\bASIN\s*:\s*([A-Za-z0-9]{10})(?![A-Za-z0-9])")
# Product Specification entries that are shipping or ranking noise, not product facts
# (keys compared without spaces: the feed writes both "Shipping Weight" and "ShippingWeight").
SPEC_NOISE_KEYS = {
    "asin",
    "shippingweight",
    "domesticshipping",
    "internationalshipping",
    "shippingadvisory",
    "shippinginformation",
    "californiaresidents",
    "amazonbestsellersrank",
    "customerreviews",
}


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(item for item in items if item))


def _images(text: str) -> tuple[str, ...]:
    urls = (parsing.url(part, max_length=URL_MAX_LENGTH) for part in text.split("|"))
    return _unique([found for found in urls if TRANSPARENT_PIXEL not in found])


def _bullets(text: str) -> tuple[str, ...]:
    bullets = (" ".join(part.split()) for part in text.split(" | "))
    return _unique([bullet for bullet in bullets if bullet.casefold() != FITS_BOILERPLATE])


def _technical_details(text: str) -> str:
    """The prose in Technical Details without the page furniture it was scraped with
    (return instructions, "(View shipping rates and policies)", the reviews widget)."""
    paragraphs = []
    for part in text.split(" | "):
        part = " ".join(REVIEWS_WIDGET.sub("", part).split())
        part = DESCRIPTION_HEADING.sub("", part, count=1)
        if not part or RETURN_BOILERPLATE.match(part) or WEIGHT_SEGMENT.match(part):
            continue
        paragraphs.append(part)
    return "\n\n".join(_unique(paragraphs))


def _specification(text: str) -> str:
    """Product Specification as "Key: value" lines, shipping and ranking noise dropped."""
    lines = []
    for part in text.split("|"):
        part = " ".join(part.split())
        if not part or part.startswith("#"):
            continue
        key, _, value = part.partition(":")
        if key.replace(" ", "").casefold() in SPEC_NOISE_KEYS:
            continue
        lines.append(f"{key.strip()}: {value.strip()}" if value else part)
    return "\n".join(_unique(lines))


def _asin_2020(get: Callable[[list[str], str], str], fields: list[str]) -> str:
    given = get(fields, "Asin").strip()
    if given:
        return parsing.asin_clean(given)
    found = parsing.asin_find(get(fields, "Product Url"))
    if found is None:
        match = SPEC_ASIN.search(get(fields, "Product Specification"))
        found = match.group(1).upper() if match else None
    if found is None:
        raise RowRejected("missing ASIN (none in Asin, Product Url or Product Specification)")
    return found


def promptcloud_2020_row(header: list[str]) -> RowParser:
    """Parser of a PromptCloud 2020 record."""
    get = _getter(header)

    def parse(fields: list[str]) -> ProductRow:
        asin = _asin_2020(get, fields)
        title = _title(get(fields, "Product Name"))
        price = parsing.price_listing(get(fields, "Selling Price"))
        description = " ".join(get(fields, "Product Description").split())
        if not description:
            description = _technical_details(get(fields, "Technical Details"))
        if not description:
            description = _specification(get(fields, "Product Specification"))
        return ProductRow(
            asin=asin,
            title=title,
            price_usd=price,
            list_price_usd=_list_price(
                get(fields, "List Price"), price, parse=parsing.price_listing
            ),
            brand=parsing.clip(get(fields, "Brand Name"), BRAND_MAX_LENGTH),
            description=description,
            bullet_points=_bullets(get(fields, "About Product")),
            image_urls=_images(get(fields, "Image")),
            weight_kg=parsing.weight_kg(get(fields, "Shipping Weight")),
            category_path=_category_path(path_normalize(get(fields, "Category"))),
            source_url=parsing.url(get(fields, "Product Url"), max_length=URL_MAX_LENGTH),
        )

    return parse
