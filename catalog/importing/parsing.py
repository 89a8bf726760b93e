"""Values as feeds spell them → the values the catalog stores.

Prices and weights must be right or absent: a price that cannot be read raises
``RowRejected`` with the reason (the row is skipped), a weight that cannot be read is
``None`` (the importer estimates it). Every number is checked against what the database
columns can hold, so a bulk write never fails on one odd row.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from .errors import RowRejected

CENT = Decimal("0.01")
GRAM = Decimal("0.001")
TENTH = Decimal("0.1")
# Product.source_price_usd / list_price_usd: max_digits=10, decimal_places=2.
PRICE_MAX = Decimal("99999999.99")
# Product.weight_kg: max_digits=8, decimal_places=3.
WEIGHT_MAX_KG = Decimal("99999.999")
# PositiveIntegerField holds what a signed 32-bit integer does.
COUNT_MAX = 2_147_483_647

KG_PER_UNIT = {
    "pound": Decimal("0.45359237"),
    "ounce": Decimal("0.028349523125"),
    "kilogram": Decimal("1"),
    "gram": Decimal("0.001"),
}
UNIT_NAMES = {
    "pounds": "pound",
    "pound": "pound",
    "lbs": "pound",
    "lb": "pound",
    "ounces": "ounce",
    "ounce": "ounce",
    "oz": "ounce",
    "kilograms": "kilogram",
    "kilogram": "kilogram",
    "kg": "kilogram",
    "grams": "gram",
    "gram": "gram",
    "g": "gram",
}

ASIN_RE = re.compile(r"[A-Z0-9]{10}")
WHITESPACE_RE = re.compile(r"\s")
# A dollar amount as the 2020 feed prints it: "$237.68", "$2,497.50", and the split
# screen-reader form "$ 19 99" or "$ 6 . 94" (dollars and cents separated by spaces).
DOLLAR_AMOUNT_RE = re.compile(
    r"\$\s*(?P<dollars>\d{1,3}(?:,\d{3})+|\d+)"
    r"(?:\s*\.\s*(?P<cents>\d{1,2})(?!\d)|\s+(?P<split_cents>\d{2})(?!\d))?"
)
PLAIN_NUMBER_RE = re.compile(r"^\s*\$?\s*(\d{1,3}(?:,\d{3})+|\d+)?(?:\.(\d+))?\s*$")
WEIGHT_RE = re.compile(
    r"(?P<amount>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|\.\d+)\s*"
    r"(?P<unit>pounds?|lbs?|ounces?|oz|kilograms?|kg|grams?|g)\b",
    re.IGNORECASE,
)


def short(text: str, limit: int = 60) -> str:
    """A value quoted for a skip reason, cut to a readable length."""
    text = " ".join(text.split())
    return repr(text if len(text) <= limit else text[: limit - 1] + "…")


def asin_clean(text: str) -> str:
    """An ASIN in canonical form (10 upper-case letters or digits), or RowRejected."""
    asin = text.strip().upper()
    if not asin:
        raise RowRejected("missing ASIN")
    if not ASIN_RE.fullmatch(asin):
        raise RowRejected(f"invalid ASIN {short(text)} (expected 10 letters or digits)")
    return asin


def asin_find(text: str) -> str | None:
    """The ASIN inside an Amazon product URL (``/dp/XXXXXXXXXX``, ``/gp/product/...``)."""
    match = re.search(r"/(?:dp|gp/product|gp/aw/d)/([A-Za-z0-9]{10})(?![A-Za-z0-9])", text)
    return match.group(1).upper() if match else None


def _checked_price(amount: Decimal, original: str) -> Decimal:
    price = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if price > PRICE_MAX:
        raise RowRejected(f"price {short(original)} is out of range")
    return price


def price_plain(text: str, *, field: str = "price") -> Decimal | None:
    """A plain decimal USD amount ("39.82", "1,299.00", "$12"). ``None`` when blank.
    Raises RowRejected when it is not a number or is negative."""
    text = text.strip()
    if not text:
        return None
    if text.startswith("-"):
        raise RowRejected(f"negative {field} {short(text)}")
    match = PLAIN_NUMBER_RE.match(text)
    if not match or not (match.group(1) or match.group(2)):
        raise RowRejected(f"unparseable {field} {short(text)}")
    try:
        amount = Decimal(f"{(match.group(1) or '0').replace(',', '')}.{match.group(2) or '0'}")
    except InvalidOperation as exc:  # pragma: no cover - the pattern only admits digits
        raise RowRejected(f"unparseable {field} {short(text)}") from exc
    return _checked_price(amount, text)


def _dollar_amount(match: re.Match[str]) -> Decimal:
    dollars = match.group("dollars").replace(",", "")
    cents = match.group("cents") or match.group("split_cents") or "0"
    return Decimal(f"{dollars}.{cents.ljust(2, '0')}")


def price_listing(text: str) -> Decimal:
    """The selling price as the 2020 listing prints it.

    ``$237.68`` → 237.68; a range ``$74.99 - $249.99`` → its lower bound 74.99; the
    duplicated screen-reader form ``$6.94 $ 6 . 94`` → 6.94; ``$ 19 99 $39.95 …`` (sale
    price split into dollars and cents, then the list price and page junk) → 19.99. Raises
    RowRejected for a blank value, text without an amount (``Total price:``) or $0.00."""
    stripped = text.strip()
    if not stripped:
        raise RowRejected("missing price")
    amounts = list(DOLLAR_AMOUNT_RE.finditer(stripped))
    if not amounts:
        if "$" not in stripped:
            try:
                plain = price_plain(stripped)
            except RowRejected:
                plain = None
            if plain is not None:
                return _nonzero(plain, stripped)
        if not any(char.isdigit() for char in stripped):
            raise RowRejected(f"missing price ({short(stripped)} has no amount)")
        raise RowRejected(f"unparseable price {short(stripped)}")
    first = _dollar_amount(amounts[0])
    # "low - high": the shop shows the cheapest variant's price.
    if len(amounts) > 1 and re.match(
        r"\s*[-–]\s*$", stripped[amounts[0].end() : amounts[1].start()]
    ):
        first = min(first, _dollar_amount(amounts[1]))
    return _nonzero(_checked_price(first, stripped), stripped)


def _nonzero(price: Decimal, original: str) -> Decimal:
    if price <= 0:
        raise RowRejected(f"price {short(original)} is not above $0.00")
    return price


def weight_kg(text: str) -> Decimal | None:
    """A shipping weight ("10.7 pounds", "12.8 ounces", "1.2 kg", "350 g") in kg, rounded
    to grams. ``None`` when blank, unreadable, zero or beyond what a parcel weighs."""
    match = WEIGHT_RE.search(text)
    if not match:
        return None
    try:
        amount = Decimal(match.group("amount").replace(",", ""))
    except InvalidOperation:  # pragma: no cover - the pattern only admits digits
        return None
    unit = UNIT_NAMES[match.group("unit").lower()]
    kg = (amount * KG_PER_UNIT[unit]).quantize(GRAM, rounding=ROUND_HALF_UP)
    if amount <= 0 or kg > WEIGHT_MAX_KG:
        return None
    # A few grams still weigh something: never store 0.000 for a real item.
    return max(kg, GRAM)


def rating(text: str) -> Decimal | None:
    """Star rating 1.0–5.0 with one decimal; ``0``, blank or out of range mean no rating
    (Amazon's lowest possible rating is one star, so 0 stands for "not rated")."""
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    if not value.is_finite() or value <= 0 or value > 5:
        return None
    return value.quantize(TENTH, rounding=ROUND_HALF_UP)


def count(text: str) -> int:
    """A non-negative count ("1,234", "50"); blank or unreadable is 0."""
    digits = text.strip().replace(",", "")
    if not digits.isdigit():
        try:
            number = int(Decimal(digits))
        except (InvalidOperation, ValueError, OverflowError):
            return 0
    else:
        number = int(digits)
    return min(max(number, 0), COUNT_MAX)


def flag(text: str) -> bool:
    """A boolean as feeds spell it: True/False, 1/0, yes/no, Y/N."""
    return text.strip().lower() in {"true", "1", "yes", "y", "t"}


def url(text: str, *, max_length: int = 1000) -> str:
    """An http(s) URL that fits the column, or ""."""
    text = text.strip()
    if not text.lower().startswith(("http://", "https://")) or len(text) > max_length:
        return ""
    if WHITESPACE_RE.search(text):
        return ""
    return text


def clip(text: str, max_length: int) -> str:
    """Collapse whitespace and cut to the column's length (a brand longer than the column
    is a scraping accident, not a reason to lose the product)."""
    text = " ".join(text.split())
    return text[:max_length].rstrip()
