"""Catalog writes, one module per concern: ``feed_import`` (feed → products),
``categories`` (tree and customs mapping), ``products`` (staff edits), ``fx`` (rates)."""
