"""The catalog's partner API (``/api/v1/products/``): serializers, views and URLs."""
