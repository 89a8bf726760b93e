"""The full-text document stored per product (``Product.search_vector``, a generated
column). Ranking a search computed ``to_tsvector`` again for every match (41.8 ms for
"watch" over 107,000 products, 2,947 matches; 13.6 ms from the stored column:
docs/performance.md). Its GIN index comes in 0008 (built concurrently).

Adding a stored generated column rewrites the product table under an exclusive lock:
13 s for 107,000 rows on the benchmark machine (docs/operations.md). On SQLite (no text
search) the column is the plain text.
"""

import django.contrib.postgres.search
from django.db import migrations, models

import catalog.models


class Migration(migrations.Migration):
    dependencies = [("catalog", "0006_vat_help_text")]

    operations = [
        migrations.AddField(
            model_name="product",
            name="search_vector",
            field=models.GeneratedField(
                db_persist=True,
                expression=catalog.models.ProductSearchDocument(),
                output_field=django.contrib.postgres.search.SearchVectorField(),
            ),
        ),
    ]
