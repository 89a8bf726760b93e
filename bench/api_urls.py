"""The site's URLs plus ``/bench/api-minimal/``: a partner-API view that does nothing but
what every API request does (key authentication, the scope check, the per-partner
throttle, JSON rendering), the ceiling for the API pages in ``python -m bench.api``.
Served only under ``bench.api_settings``, never by the real site."""

from django.urls import path
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from storefront.urls import handler404, handler500
from storefront.urls import urlpatterns as site_urlpatterns

__all__ = ["handler404", "handler500", "urlpatterns"]


class MinimalApiView(APIView):
    """The partner API's fixed cost: authentication, permission, throttle, a tiny body."""

    required_scopes = {"GET": "catalog:read"}

    def get(self, request: Request) -> Response:
        return Response({"ok": True})


urlpatterns = [
    path("bench/api-minimal/", MinimalApiView.as_view(), name="bench-api-minimal"),
    *site_urlpatterns,
]
