"""Seed the tier rules from DOMAIN.md (VIP 10% up to ₩50,000, GOLD 10% up to ₩30,000,
SILVER 5% up to ₩10,000; once per member per day). Staff change them in admin afterwards;
this never overwrites a rule that exists."""

from decimal import Decimal

from django.db import migrations

SEED = (
    ("VIP", Decimal("0.100"), 50_000),
    ("GOLD", Decimal("0.100"), 30_000),
    ("SILVER", Decimal("0.050"), 10_000),
)


def seed(apps, schema_editor):
    TierRule = apps.get_model("membership", "TierRule")
    for tier, rate, cap_krw in SEED:
        TierRule.objects.get_or_create(
            tier=tier, defaults={"rate": rate, "cap_krw": cap_krw, "uses_per_day": 1}
        )


class Migration(migrations.Migration):
    dependencies = [("membership", "0001_initial")]

    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
