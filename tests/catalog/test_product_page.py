"""The product page's render path (issue: product page misses): the product and trail
queries compiled once per process (``storefront.prepared.PreparedQuery``) and the values the
template prints worked out in Python (``catalog_tags.product_page_text``). Each value is
checked against what the template's tags and filters printed before, in both languages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.http import Http404
from django.template import Context, engines
from django.utils import translation
from django.utils.html import conditional_escape

from catalog import selectors
from catalog.models import ExchangeRate, Product
from catalog.templatetags.catalog_tags import product_page_text
from fulfillment import selectors as stock_selectors
from tests.factories import (
    CategoryFactory,
    CustomsClassFactory,
    ExchangeRateFactory,
    ProductFactory,
    StockFactory,
)

pytestmark = pytest.mark.django_db

# What catalog/product.html (and includes/rating.html) printed through tags and filters
# before the values came from product_page_text: each must print the same.
BEFORE = {
    "price": "{% load catalog_tags %}{% shelf_price product fx_rate as p %}{{ p|won }}",
    "list_price": (
        "{% load catalog_tags %}{% list_price product fx_rate as p %}{% if p %}{{ p|won }}"
        "{% endif %}"
    ),
    "trail": (
        '{% for category in trail %}<li><a href="{{ category.get_absolute_url }}">'
        "{{ category.name }}</a></li>{% endfor %}"
    ),
    "thumbs": (
        "{% load i18n %}{% for url in images %}{{ url }}|{% blocktranslate with "
        "number=forloop.counter total=images|length %}Image {{ number }} of {{ total }}"
        "{% endblocktranslate %};{% endfor %}"
    ),
    "rating": (
        "{% load i18n humanize %}{% if product.rating is not None %}{% blocktranslate trimmed "
        "count counter=product.review_count with rating=product.rating "
        "reviews=product.review_count|intcomma %}\n  {{ rating }} out of 5 ({{ reviews }} "
        "review)\n  {% plural %}\n  {{ rating }} out of 5 ({{ reviews }} reviews)\n  "
        "{% endblocktranslate %}{% endif %}"
    ),
    "dates": (
        "{{ promise.earliest|date:'Y-m-d' }}|{{ promise.earliest|date:delivery_date_format }}|"
        "{{ promise.latest|date:'Y-m-d' }}|{{ promise.latest|date:delivery_date_format }}"
    ),
    "import_fees_note": """{% load i18n catalog_tags %}{% if import_fees %}{% with assessment=import_fees.assessment %}{% if assessment.duty_free %}{% blocktranslate trimmed with value=assessment.goods_value_usd|usd limit=assessment.duty_free_limit_usd|usd %}
        None for one unit: its price ({{ value }}) is within the {{ limit }} duty-free limit, so no duty or VAT is due.
      {% endblocktranslate %}{% elif assessment.import_fees_krw %}{% blocktranslate trimmed with fees=assessment.import_fees_krw|won duty=assessment.duty_krw|won vat=assessment.vat_krw|won value=assessment.goods_value_usd|usd limit=assessment.duty_free_limit_usd|usd %}
        About {{ fees }} for one unit (duty {{ duty }} + VAT {{ vat }}): its price ({{ value }}) is over the {{ limit }} duty-free limit, so the whole value plus international freight is taxed. You pay it with your order.
      {% endblocktranslate %}{% else %}{% blocktranslate trimmed with value=assessment.goods_value_usd|usd limit=assessment.duty_free_limit_usd|usd %}
        None: its price ({{ value }}) is over the {{ limit }} duty-free limit, but no duty or VAT applies to this kind of item.
      {% endblocktranslate %}{% endif %}{% endwith %}{% endif %}""",  # noqa: E501
    "import_fees_weight_note": """{% load i18n catalog_tags %}{% if import_fees.weight_estimated %}{% blocktranslate trimmed with weight=import_fees.weight_kg|kg %}
        The shipping weight (about {{ weight }} kg) is estimated from the category, so the estimate may change.
      {% endblocktranslate %}{% endif %}""",  # noqa: E501
    "weight": "{% load catalog_tags %}{{ product.weight_kg|kg }}",
}


def before(name: str, context: dict) -> str:
    return engines["django"].from_string(BEFORE[name]).template.render(Context(context))


@pytest.fixture
def rates():
    ExchangeRateFactory(kind=ExchangeRate.Kind.SELLING, rate=Decimal("1400"))
    ExchangeRateFactory(kind=ExchangeRate.Kind.CUSTOMS, rate=Decimal("1380"))


def page_values(product: Product, *, domestic: bool = False) -> tuple[dict, object]:
    item = selectors.product_get_for_shopper(asin=product.asin)
    fx, customs_fx = selectors.fx_rates_current()
    now = datetime.datetime(2026, 11, 27, 3, 0, tzinfo=datetime.UTC)  # a Friday in Seoul
    promise = stock_selectors.delivery_promise(domestic_units=1 if domestic else 0, now=now)
    import_fees = (
        None
        if domestic
        else selectors.product_import_fees_estimate(product=item, customs_rate=customs_fx.rate)
    )
    images = list(item.image_urls)
    trail = selectors.category_trail(category=item.category)
    date_format = translation.pgettext("delivery date format", "D, M j")
    context = {
        "product": item,
        "fx_rate": fx.rate,
        "images": images,
        "trail": trail,
        "promise": promise,
        "import_fees": import_fees,
        "delivery_date_format": date_format,
    }
    text = product_page_text(
        product=item,
        images=images,
        trail=trail,
        fx_rate=fx.rate,
        promise=promise,
        import_fees=import_fees,
        date_format=date_format,
    )
    return context, text


def assert_prints_as_before(context: dict, text) -> None:
    assert text.price == before("price", context)
    assert text.list_price == before("list_price", context)
    assert text.trail == before("trail", context)
    thumbs = "".join(f"{conditional_escape(t.url)}|{t.alt};" for t in text.thumbs)
    assert thumbs == before("thumbs", context)
    assert text.rating == before("rating", context)
    dates = f"{text.earliest_iso}|{text.earliest}|{text.latest_iso}|{text.latest}"
    assert dates == before("dates", context)
    assert text.import_fees_note == before("import_fees_note", context)
    assert text.import_fees_weight_note == before("import_fees_weight_note", context)
    assert text.weight == before("weight", context)


PRODUCTS = {
    # Over the limit, duty and VAT due; estimated weight; list price; rating; images.
    "fees due": {
        "source_price_usd": Decimal("250.00"),
        "list_price_usd": Decimal("299.99"),
        "weight_kg": Decimal("0.500"),
        "weight_estimated": True,
        "rating": Decimal("4.6"),
        "review_count": 1234,
        "image_urls": ["https://m.media-amazon.com/a.jpg", "https://m.media-amazon.com/b&c.jpg"],
        "customs": {"code": "other", "duty_rate": Decimal("0.08")},
    },
    # Within the limit; one review; list price not above the price.
    "duty free": {
        "source_price_usd": Decimal("19.99"),
        "list_price_usd": Decimal("19.99"),
        "weight_kg": Decimal("1.250"),
        "rating": Decimal("5.0"),
        "review_count": 1,
        "image_urls": ["https://m.media-amazon.com/only.jpg"],
        "customs": {"code": "supplements", "list_clearance": False},
    },
    # Over the limit but exempt; no rating, no images.
    "exempt": {
        "source_price_usd": Decimal("300"),
        "weight_kg": Decimal("2"),
        "customs": {"code": "books", "duty_rate": Decimal("0"), "vat_applies": False},
    },
}


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("kind", sorted(PRODUCTS))
@pytest.mark.parametrize("domestic", [False, True])
def test_page_text_prints_what_the_template_printed(rates, language, kind, domestic):
    fields = dict(PRODUCTS[kind])
    customs = fields.pop("customs")
    toys = CategoryFactory(name="Toys & <Games>", slug="toys")
    puzzles = CategoryFactory(name='"Puzzles"', slug="puzzles", parent=toys)
    product = ProductFactory(
        category=puzzles, customs_class=CustomsClassFactory(**customs), **fields
    )
    with translation.override(language):
        context, text = page_values(product, domestic=domestic)
        assert_prints_as_before(context, text)
    if not domestic:
        assert text.import_fees_note
    if kind == "fees due":
        assert text.list_price
        assert text.rating
        assert len(text.thumbs) == 2
        assert "&lt;Games&gt;" in text.trail


def test_product_query_gives_what_the_queryset_gives(rates):
    category = CategoryFactory(name="Toys", slug="toys")
    product = ProductFactory(
        asin="B0COMPILED",
        category=category,
        bullet_points=["one", "two"],
        image_urls=["https://m.media-amazon.com/a.jpg"],
        rating=Decimal("4.5"),
        list_price_usd=Decimal("25.00"),
    )
    StockFactory(product=product, on_hand=5, allocated=2)

    found = selectors.product_get_for_shopper(asin="b0compiled")  # any case
    again = selectors.product_get_for_shopper(asin="B0COMPILED")  # the stored statement

    expected = (
        Product.objects.select_related("category", "customs_class")
        .annotate(domestic_available=stock_selectors.domestic_available_subquery())
        .get(pk=product.pk)
    )
    for item in (found, again):
        assert item.pk == expected.pk
        for field in Product._meta.concrete_fields:
            if field.name != "search_vector":
                assert getattr(item, field.attname) == getattr(expected, field.attname)
        assert item.domestic_available == expected.domestic_available == 3
        assert item.bullet_points == ["one", "two"]
        assert item.source_price_usd == Decimal("19.99")
        assert item.category == category
        assert item.category.name == "Toys"
        assert item.customs_class == expected.customs_class
        assert item.customs_class.duty_rate == expected.customs_class.duty_rate
        assert item._state.adding is False


def test_product_query_is_one_query_and_404s_like_before(rates, django_assert_num_queries):
    product = ProductFactory(asin="B0ONEQUERY", category=CategoryFactory(slug="toys"))
    ProductFactory(asin="B0INACTIVE", is_active=False)
    selectors.product_get_for_shopper(asin=product.asin)
    with django_assert_num_queries(1):
        item = selectors.product_get_for_shopper(asin=product.asin)
        assert item.category.slug == "toys"  # selected with it, no query
        assert item.customs_class.code
    for asin in ("B0INACTIVE", "B0UNKNOWN1", "nope"):
        with pytest.raises(Http404):
            selectors.product_get_for_shopper(asin=asin)


def test_category_trail_at_every_depth(django_assert_num_queries):
    root = CategoryFactory(name="A", slug="a")
    middle = CategoryFactory(name="B", slug="b", parent=root)
    leaf = CategoryFactory(name="C", slug="c", parent=middle)
    CategoryFactory(name="Other", slug="other")
    for category, names in ((root, ["A"]), (middle, ["A", "B"]), (leaf, ["A", "B", "C"])):
        for _ in range(2):  # compiled, then the stored statement
            with django_assert_num_queries(1):
                trail = selectors.category_trail(category=category)
            assert [c.name for c in trail] == names
            assert trail[-1] == category
