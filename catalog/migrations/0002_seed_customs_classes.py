"""Seed the customs classes and the category → class mapping from DOMAIN.md.

Staff edit both in admin afterwards; this only fills an empty table and never overwrites
what staff changed. ``seed_customs`` is also used by the test fixtures that need the seed
after a transactional test flushed the tables.
"""

from decimal import Decimal

from django.db import migrations

# code, name, name_ko, duty rate, VAT applies, list clearance, max per order,
# max per product, typical shipping weight (kg)
CUSTOMS_CLASSES = [
    ("clothing", "Clothing", "의류", "0.13", True, True, None, None, "0.400"),
    ("shoes", "Shoes", "신발", "0.13", True, True, None, None, "1.000"),
    ("bags", "Bags", "가방", "0.08", True, True, None, None, "1.200"),
    ("watches", "Watches", "시계", "0.08", True, True, None, None, "0.300"),
    ("cosmetics", "Cosmetics", "화장품", "0.065", True, True, None, None, "0.300"),
    (
        "functional_cosmetics",
        "Functional cosmetics",
        "기능성 화장품",
        "0.065",
        True,
        False,
        None,
        None,
        "0.250",
    ),
    ("supplements", "Health supplements", "건강기능식품", "0.08", True, False, 6, None, "0.400"),
    ("medicines", "Medicines", "의약품", "0.08", True, False, 6, None, "0.200"),
    ("medical_devices", "Medical devices", "의료기기", "0.08", True, False, None, None, "0.500"),
    (
        "foods",
        "Foods and quarantine goods",
        "식품·검역 대상",
        "0.08",
        True,
        False,
        None,
        None,
        "0.700",
    ),
    (
        "electronics",
        "Small appliances and TVs",
        "소형 가전·TV",
        "0.08",
        True,
        True,
        None,
        1,
        "1.500",
    ),
    (
        "computers",
        "Computers, phones and cameras",
        "컴퓨터·휴대폰·카메라",
        "0",
        True,
        True,
        None,
        1,
        "1.000",
    ),
    ("books", "Books", "도서", "0", False, True, None, None, "0.600"),
    ("toys", "Toys", "완구", "0.08", True, True, None, None, "0.800"),
    ("other", "Other goods", "기타", "0.08", True, True, None, None, "1.000"),
]

# pattern (whole words, case-insensitive, anywhere in the source category path), class,
# priority.
# Specific rules get low numbers so they win over the department-wide ones below them.
CUSTOMS_CLASS_RULES = [
    ("Sunscreen", "functional_cosmetics", 10),
    ("Sun Care", "functional_cosmetics", 10),
    ("Whitening", "functional_cosmetics", 10),
    ("Anti-Aging", "functional_cosmetics", 10),
    ("Vitamins", "supplements", 10),
    ("Supplements", "supplements", 10),
    ("Sports Nutrition", "supplements", 10),
    ("Diet & Sports Nutrition", "supplements", 10),
    ("Health Care Products", "medicines", 20),
    ("Medical Supplies", "medical_devices", 20),
    ("Dental Supplies", "medical_devices", 20),
    ("Vision Products", "medical_devices", 20),
    ("Grocery & Gourmet Food", "foods", 20),
    ("Pet Food", "foods", 20),
    ("Watches", "watches", 30),
    ("Handbags", "bags", 30),
    ("Backpacks", "bags", 30),
    ("Luggage", "bags", 30),
    ("Suitcases", "bags", 30),
    ("Duffel Bags", "bags", 30),
    ("Messenger Bags", "bags", 30),
    ("Tote Bags", "bags", 30),
    ("Garment Bags", "bags", 30),
    ("Laptop Bags", "bags", 30),
    ("Shoes", "shoes", 40),
    ("Clothing", "clothing", 50),
    ("School Uniforms", "clothing", 50),
    ("Costumes", "clothing", 50),
    ("Perfumes & Fragrances", "cosmetics", 50),
    ("Makeup", "cosmetics", 50),
    ("Skin Care", "cosmetics", 50),
    ("Hair Care", "cosmetics", 50),
    ("Foot, Hand & Nail Care", "cosmetics", 50),
    ("Books", "books", 50),
    ("Computers", "computers", 60),
    ("Computer", "computers", 60),
    ("Laptop", "computers", 60),
    ("Tablet", "computers", 60),
    ("Cell Phones", "computers", 60),
    ("Camera & Photo", "computers", 60),
    ("Data Storage", "computers", 60),
    ("eBook Readers", "computers", 60),
    ("Kids' Electronics", "toys", 65),
    ("Televisions", "electronics", 70),
    ("Home Appliances", "electronics", 70),
    ("Vacuum", "electronics", 70),
    ("Headphones", "electronics", 70),
    ("Home Audio", "electronics", 70),
    ("Portable Audio", "electronics", 70),
    ("Video Projectors", "electronics", 70),
    ("Wearable Technology", "electronics", 70),
    ("Smart Home", "electronics", 70),
    ("Video Game Consoles", "electronics", 70),
    ("Car Electronics", "electronics", 70),
    ("Security & Surveillance", "electronics", 70),
    ("Electronics", "electronics", 80),
    ("Toys & Games", "toys", 90),
    ("Toys", "toys", 90),
    ("Beauty & Personal Care", "cosmetics", 95),
]


def seed_customs(apps, schema_editor=None):
    """Create missing classes and rules; never touch rows that already exist."""
    CustomsClass = apps.get_model("catalog", "CustomsClass")
    CustomsClassRule = apps.get_model("catalog", "CustomsClassRule")
    by_code = {}
    for code, name, name_ko, duty, vat, listed, per_order, per_product, weight in CUSTOMS_CLASSES:
        by_code[code], _ = CustomsClass.objects.get_or_create(
            code=code,
            defaults={
                "name": name,
                "name_ko": name_ko,
                "duty_rate": Decimal(duty),
                "vat_applies": vat,
                "list_clearance": listed,
                "max_quantity_per_order": per_order,
                "max_quantity_per_product": per_product,
                "typical_weight_kg": Decimal(weight),
            },
        )
    for pattern, code, priority in CUSTOMS_CLASS_RULES:
        CustomsClassRule.objects.get_or_create(
            pattern=pattern, defaults={"customs_class": by_code[code], "priority": priority}
        )


class Migration(migrations.Migration):
    dependencies = [("catalog", "0001_initial")]

    operations = [migrations.RunPython(seed_customs, migrations.RunPython.noop)]
