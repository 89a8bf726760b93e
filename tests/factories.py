"""factory_boy factories for the catalog and stock. Keep them minimal: a test states the
values it depends on."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from catalog.models import Category, CustomsClass, ExchangeRate, Product
from fulfillment.models import Stock, Warehouse
from orders.models import Order


class CustomsClassFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = CustomsClass
        django_get_or_create = ("code",)

    code = "other"
    name = factory.LazyAttribute(lambda o: o.code.replace("_", " ").title())
    duty_rate = Decimal("0.08")
    vat_applies = True
    list_clearance = True
    typical_weight_kg = Decimal("1.000")


class CategoryFactory(factory.django.DjangoModelFactory):
    """A category; pass ``parent=`` for a child node (treebeard builds the tree path)."""

    class Meta:
        model = Category

    parent = None
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.Sequence(lambda n: f"category-{n}")
    source_path = factory.LazyAttribute(
        lambda o: f"{o.parent.source_path} | {o.name}" if o.parent else o.name
    )

    @classmethod
    def _create(cls, model_class, *args, parent: Category | None = None, **kwargs):
        if parent is not None:
            return model_class.objects.add_child(parent, create_kwargs=kwargs)
        return model_class.objects.add_root(create_kwargs=kwargs)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    asin = factory.Sequence(lambda n: f"B{n:09d}")
    title = factory.Sequence(lambda n: f"Test product {n}")
    brand = "Acme"
    source_price_usd = Decimal("19.99")
    weight_kg = Decimal("0.500")
    customs_class = factory.SubFactory(CustomsClassFactory)
    image_urls = factory.LazyFunction(list)
    is_active = True


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate

    kind = ExchangeRate.Kind.SELLING
    rate = Decimal("1400.0000")
    effective_at = factory.LazyFunction(timezone.now)
    source = "test"


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"wh{n}")
    name = factory.LazyAttribute(lambda o: f"Warehouse {o.code}")
    priority = 10
    is_domestic = True


class StockFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Stock

    warehouse = factory.SubFactory(WarehouseFactory)
    product = factory.SubFactory(ProductFactory)
    on_hand = 5
    allocated = 0
    reorder_point = 2
    target_level = 10


# --- Orders -------------------------------------------------------------------------------
# Added by the reservations work (issue 3) for fulfillment tests that need real order rows;
# the orders work may take this factory over. A domestic-only order awaiting payment whose
# total adds up (the database checks it); no lines.


class OrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Order

    number = factory.Sequence(lambda n: f"T{n:08d}")
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")
    status = Order.Status.PENDING_PAYMENT
    items_krw = 30000
    total_krw = factory.LazyAttribute(
        lambda o: (
            o.items_krw
            + o.domestic_shipping_krw
            + o.cross_border_shipping_krw
            + o.duty_krw
            + o.vat_krw
            - o.discount_krw
        )
    )
    domestic_shipping_krw = 0
    cross_border_shipping_krw = 0
    duty_krw = 0
    vat_krw = 0
    discount_krw = 0
    fx_selling_rate = Decimal("1390.0000")
    fx_customs_rate = Decimal("1385.0000")
    price_margin = Decimal("0.1000")
    recipient_name = "홍길동"
    phone = "+821012345678"
    postal_code = "06236"
    road_address = "서울특별시 강남구 테헤란로 152"
    payment_due_at = factory.LazyFunction(lambda: timezone.now() + timedelta(minutes=30))
