"""PostgreSQL search indexes: full text on title + brand, trigrams on the title.

Both are expression/operator-class indexes that only PostgreSQL has, so they are created
here rather than in ``Product.Meta``; on SQLite this migration does nothing (search there
falls back to word containment). The document expression must stay identical to
``catalog.selectors.ProductSearchDocument`` or the planner will not use the index.
"""

from django.db import migrations

CREATE = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    "CREATE INDEX IF NOT EXISTS catalog_product_search_document ON catalog_product "
    "USING gin (to_tsvector('english'::regconfig, title || ' ' || brand))",
    "CREATE INDEX IF NOT EXISTS catalog_product_title_trgm ON catalog_product "
    "USING gin (title gin_trgm_ops)",
]
DROP = [
    "DROP INDEX IF EXISTS catalog_product_title_trgm",
    "DROP INDEX IF EXISTS catalog_product_search_document",
]


def _run(statements):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor != "postgresql":
            return
        for statement in statements:
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    dependencies = [("catalog", "0002_seed_customs_classes")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
