"""Site URLs. Shopper pages are translated by the active language (Korean by default,
switched with the i18n set_language view), not by URL prefix, so product links stay stable."""

from django.contrib import admin
from django.urls import include, path

from . import views
from .admin_login import LOGIN_TEMPLATE, OptionalOtpAdminAuthenticationForm

# Staff with a TOTP device enter a token at the admin login (storefront/admin_login.py).
admin.site.login_form = OptionalOtpAdminAuthenticationForm
admin.site.login_template = LOGIN_TEMPLATE

urlpatterns = [
    path("", views.home, name="home"),
    path("health/live/", views.health_live, name="health-live"),
    path("health/ready/", views.health_ready, name="health-ready"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", include("storefront.api.urls")),
    path("account/membership/", include("membership.urls")),
    path("account/", include("storefront.accounts.urls")),
    path("", include("orders.urls")),
    path("", include("catalog.urls")),
]

handler404 = "storefront.views.page_not_found"
handler500 = "storefront.views.server_error"
