"""The partner API: ``/api/v1/`` (each app's ``api`` URLs), the OpenAPI schema at
``/api/schema/`` and the human docs at ``/api/docs/`` (docs/api.md)."""

from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.permissions import AllowAny

app_name = "api"

v1 = [
    path("", include("catalog.api.urls")),
    path("", include("orders.api.urls")),
]

PUBLIC = {"authentication_classes": [], "permission_classes": [AllowAny], "throttle_classes": []}

urlpatterns = [
    path("v1/", include((v1, "v1"))),
    # Public: the schema and the docs need no key (and count against no partner's limit).
    path("schema/", SpectacularAPIView.as_view(**PUBLIC), name="schema"),
    path("docs/", SpectacularSwaggerView.as_view(url_name="api:schema", **PUBLIC), name="docs"),
]
