"""Contract step of the stored search document (0007/0008): drop the expression index of
0003 (``catalog_product_search_document``). Since the release that added
``Product.search_vector``, no code searches with ``to_tsvector(title || ' ' || brand)``,
so the index only cost every product write a second ``to_tsvector``. Dropped
``CONCURRENTLY`` (hence ``atomic = False``): nothing waits. Reversing builds it again,
concurrently too. PostgreSQL only; on SQLite this does nothing.
"""

from django.db import migrations

DROP = "DROP INDEX CONCURRENTLY IF EXISTS catalog_product_search_document"
CREATE = (
    "CREATE INDEX CONCURRENTLY IF NOT EXISTS catalog_product_search_document "
    "ON catalog_product USING gin (to_tsvector('english'::regconfig, title || ' ' || brand))"
)


def _run(statement: str):
    def apply(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(statement)

    return apply


class Migration(migrations.Migration):
    atomic = False
    dependencies = [("catalog", "0008_product_search_vector_index")]

    operations = [migrations.RunPython(_run(DROP), _run(CREATE))]
