"""Shopper URLs of the membership app (``membership`` namespace), included at
``/account/membership/``."""

from django.urls import URLPattern, path

from . import views

app_name = "membership"

urlpatterns: list[URLPattern] = [
    path("", views.membership, name="membership"),
    path("code/send/", views.send_code, name="send-code"),
    path("code/resend/", views.resend, name="resend"),
    path("code/confirm/", views.confirm, name="confirm"),
    path("code/restart/", views.restart, name="restart"),
    path("refresh/", views.refresh, name="refresh"),
    path("unlink/", views.unlink, name="unlink"),
]
