"""GIN index on ``Product.search_vector``, built with ``CREATE INDEX CONCURRENTLY`` so
the catalog stays writable while it builds (hence ``atomic = False``). PostgreSQL only;
on SQLite this does nothing.

The expression index of 0003 (``catalog_product_search_document``) is what the code of
the previous release searches with, so it stays until a later release drops it (expand,
deploy, contract: docs/operations.md).
"""

from django.db import migrations

CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_product_search_vector "
    "ON catalog_product USING gin (search_vector)"
)
DROP = "DROP INDEX CONCURRENTLY IF EXISTS catalog_product_search_vector"


def _run(statement: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("catalog", "0007_product_search_vector")]

    operations = [migrations.RunPython(_run(CREATE), _run(DROP))]
