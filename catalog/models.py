"""Catalog data: categories (a tree), products keyed by ASIN, customs classes and the
mapping from source categories to them, and exchange rates."""

from decimal import Decimal

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Func, Q
from django.db.models.functions import Length
from django.db.models.lookups import Exact
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from treebeard.mp_tree import MP_Node


class CustomsClass(models.Model):
    """A customs tariff group with its duty rate and clearance rules (DOMAIN.md, Customs).

    Seeded from DOMAIN.md and edited by staff; pricing reads the rates from here.
    """

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=100)
    name_ko = models.CharField(max_length=100, blank=True)
    duty_rate = models.DecimalField(
        max_digits=5, decimal_places=4, help_text=_("Duty as a fraction: 0.08 = 8%.")
    )
    vat_applies = models.BooleanField(
        default=True, help_text=_("Import VAT (ten percent) applies.")
    )
    list_clearance = models.BooleanField(
        default=True,
        help_text=_("Eligible for list clearance (USD 200 limit); otherwise USD 150."),
    )
    max_quantity_per_order = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Personal-use limit of units per order.")
    )
    max_quantity_per_product = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Personal-use limit of units per product (model).")
    )
    typical_weight_kg = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        default=Decimal("1.000"),
        help_text=_("Shipping weight assumed when a product has none."),
    )

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "customs classes"
        constraints = [
            models.CheckConstraint(
                condition=Q(duty_rate__gte=0) & Q(duty_rate__lte=1), name="customs_duty_rate_range"
            ),
            models.CheckConstraint(
                condition=Q(typical_weight_kg__gt=0), name="customs_typical_weight_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class CustomsClassRule(models.Model):
    """Maps source category paths to a customs class. A rule matches a level of the path
    ("Toys & Games | Puzzles" has two) when its pattern occurs there as whole words, ignoring
    case; the deepest level some rule matches decides, and within it the rule with the lowest
    priority, then the longest pattern. A path no rule matches is the "other" class."""

    pattern = models.CharField(max_length=200, unique=True)
    customs_class = models.ForeignKey(CustomsClass, on_delete=models.CASCADE, related_name="rules")
    priority = models.PositiveSmallIntegerField(
        default=100, help_text=_("Lower numbers are tried first.")
    )

    class Meta:
        ordering = ["priority", "pattern"]
        constraints = [
            models.CheckConstraint(condition=~Q(pattern=""), name="customs_rule_pattern_not_empty")
        ]

    def __str__(self) -> str:
        return f"{self.pattern} → {self.customs_class.code}"


class Category(MP_Node):
    """A node of the category tree. ``source_path`` is the full path as feeds spell it
    ("Toys & Games | Puzzles"), which is how importers find a category again."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=255, unique=True, allow_unicode=True)
    source_path = models.CharField(max_length=1000, unique=True)
    typical_weight_kg = models.DecimalField(
        max_digits=7,
        decimal_places=3,
        null=True,
        blank=True,
        help_text=_("Overrides the customs class's typical weight for estimates."),
    )

    node_order_by = None

    class Meta:
        verbose_name_plural = "categories"

    def __str__(self) -> str:
        return self.source_path

    def get_absolute_url(self) -> str:
        return reverse("catalog:category", kwargs={"slug": self.slug})


class ProductSearchDocument(Func):
    """``to_tsvector('english', title || ' ' || brand)``: what full-text search matches and
    ranks, stored per product in ``Product.search_vector`` (GIN-indexed on PostgreSQL).
    ``brand`` is never NULL (the column defaults to ""), so the concatenation never is.
    SQLite has no text search: there it is just the text (search there uses word
    containment and never reads the column)."""

    template = "to_tsvector('english'::regconfig, %(expressions)s)"
    arg_joiner = " || ' ' || "
    output_field = SearchVectorField()

    def __init__(self) -> None:
        super().__init__(F("title"), F("brand"))

    def as_sqlite(self, compiler, connection, **extra_context):
        return super().as_sql(compiler, connection, template="(%(expressions)s)", **extra_context)


class Product(models.Model):
    """A product as sold here, keyed by its Amazon ASIN. Prices are the USD source;
    the won price is computed by ``catalog.pricing`` from the current FX rate."""

    class Source(models.TextChoices):
        AMAZON_2023 = "amazon_2023", "Amazon Products Dataset 2023"
        PROMPTCLOUD_2020 = "promptcloud_2020", "PromptCloud Amazon Product Dataset 2020"
        DEMO = "demo", "Global Store demo catalog"
        MANUAL = "manual", "Entered by staff"

    asin = models.CharField("ASIN", max_length=10, unique=True)
    title = models.TextField()
    brand = models.CharField(max_length=200, blank=True, default="")
    description = models.TextField(blank=True, default="")
    bullet_points = models.JSONField(default=list, blank=True)
    image_urls = models.JSONField(default=list, blank=True)
    source_price_usd = models.DecimalField(max_digits=10, decimal_places=2)
    list_price_usd = models.DecimalField(max_digits=10, decimal_places=2, null=True, blank=True)
    weight_kg = models.DecimalField(max_digits=8, decimal_places=3)
    weight_estimated = models.BooleanField(default=False)
    rating = models.DecimalField(max_digits=2, decimal_places=1, null=True, blank=True)
    review_count = models.PositiveIntegerField(default=0)
    bought_last_month = models.PositiveIntegerField(default=0)
    is_best_seller = models.BooleanField(default=False)
    is_active = models.BooleanField(default=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="products"
    )
    customs_class = models.ForeignKey(
        CustomsClass, on_delete=models.PROTECT, related_name="products"
    )
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.MANUAL)
    source_category_path = models.CharField(max_length=1000, blank=True, default="")
    source_url = models.URLField(max_length=1000, blank=True, default="")
    # Fingerprint of the imported fields: an import that would change nothing is "unchanged".
    source_hash = models.CharField(max_length=40, blank=True, default="")
    # The full-text document, kept by the database: searching and ranking read it instead
    # of computing to_tsvector for every match (docs/performance.md).
    search_vector = models.GeneratedField(
        expression=ProductSearchDocument(),
        output_field=SearchVectorField(),
        db_persist=True,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["is_active", "-created_at"], name="product_active_newest"),
            models.Index(fields=["is_active", "source_price_usd"], name="product_active_price"),
            models.Index(fields=["is_active", "-review_count"], name="product_active_popular"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(source_price_usd__gt=0), name="product_price_positive"
            ),
            models.CheckConstraint(
                condition=Q(list_price_usd__isnull=True) | Q(list_price_usd__gt=0),
                name="product_list_price_positive",
            ),
            models.CheckConstraint(condition=Q(weight_kg__gt=0), name="product_weight_positive"),
            models.CheckConstraint(
                condition=Q(rating__isnull=True) | (Q(rating__gte=0) & Q(rating__lte=5)),
                name="product_rating_range",
            ),
            models.CheckConstraint(
                condition=Exact(Length("asin"), 10), name="product_asin_ten_characters"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.asin} {self.title[:60]}"

    def get_absolute_url(self) -> str:
        return reverse("catalog:product", kwargs={"asin": self.asin})

    @property
    def primary_image_url(self) -> str:
        return self.image_urls[0] if self.image_urls else ""


# What describes and prices a product: the importer writes these from feeds and staff may
# edit them (catalog.services.feed_import / catalog.services.products).
PRODUCT_CONTENT_FIELDS = (
    "title",
    "brand",
    "description",
    "bullet_points",
    "image_urls",
    "source_price_usd",
    "list_price_usd",
    "weight_kg",
    "weight_estimated",
    "rating",
    "review_count",
    "bought_last_month",
    "is_best_seller",
    "category_id",
    "customs_class_id",
)


class ExchangeRate(models.Model):
    """A USD→KRW rate as published by the rate source. ``selling`` prices the shelf;
    ``customs`` is the weekly customs rate used for duties (published on Friday, in effect
    Sunday to Saturday). Rows are never edited: a new rate is a new row, and the newest one
    whose ``effective_at`` has come is current."""

    class Kind(models.TextChoices):
        SELLING = "selling", _("Selling rate")
        CUSTOMS = "customs", _("Customs rate")

    base_currency = models.CharField(max_length=3, default="USD")
    quote_currency = models.CharField(max_length=3, default="KRW")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    rate = models.DecimalField(max_digits=12, decimal_places=4)
    effective_at = models.DateTimeField(
        help_text=_(
            "When the rate takes effect: its publication for the selling rate, the first day "
            "of its week for the customs rate."
        )
    )
    source = models.CharField(max_length=100)
    fetched_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-effective_at", "-id"]
        get_latest_by = "effective_at"
        indexes = [models.Index(fields=["kind", "-effective_at"], name="fx_kind_latest")]
        constraints = [
            models.CheckConstraint(condition=Q(rate__gt=0), name="fx_rate_positive"),
            models.UniqueConstraint(
                fields=["base_currency", "quote_currency", "kind", "effective_at"],
                name="fx_rate_once_per_publication",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.base_currency}/{self.quote_currency} {self.kind} {self.rate}"
