"""Shopper pages: the address book under ``/account/addresses/`` (list, add, edit, delete,
make default). Signed-in shoppers only; another shopper's address id is a 404; every change
is a POST. Add and edit accept a safe ``next`` to go back to (the checkout uses it)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import URLPattern, path, reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from orders.forms.addresses import AddressForm
from orders.selectors import addresses as selectors
from orders.services import addresses as services
from storefront.errors import ApplicationError


def _next_url(request: HttpRequest) -> str:
    """The ``next`` the page was asked to return to, when it is on this site; else ''."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""


def _back(request: HttpRequest) -> HttpResponseRedirect:
    return redirect(_next_url(request) or reverse("orders:addresses"))


@require_safe
@login_required
def address_list(request: HttpRequest) -> HttpResponse:
    addresses = selectors.addresses_for_customer(customer=request.user)
    return render(request, "orders/addresses.html", {"addresses": addresses})


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def address_add(request: HttpRequest) -> HttpResponse:
    form = AddressForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.address_create(customer=request.user, **form.cleaned_data)
        except ApplicationError as exc:
            form.add_application_error(exc)
        else:
            messages.success(request, _("The address was saved."))
            return _back(request)
    context = {"form": form, "address": None, "next": _next_url(request)}
    return render(request, "orders/address_form.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def address_edit(request: HttpRequest, address_id: int) -> HttpResponse:
    address = selectors.address_get_for_customer(customer=request.user, address_id=address_id)
    if request.method == "POST":
        form = AddressForm(request.POST)
        if form.is_valid():
            try:
                services.address_update(address=address, **form.cleaned_data)
            except ApplicationError as exc:
                form.add_application_error(exc)
            else:
                messages.success(request, _("The address was saved."))
                return _back(request)
    else:
        form = AddressForm.for_address(address)
    context = {"form": form, "address": address, "next": _next_url(request)}
    return render(request, "orders/address_form.html", context)


@require_POST
@login_required
def address_delete(request: HttpRequest, address_id: int) -> HttpResponse:
    address = selectors.address_get_for_customer(customer=request.user, address_id=address_id)
    services.address_delete(address=address)
    messages.success(request, _("The address was deleted."))
    return _back(request)


@require_POST
@login_required
def address_default(request: HttpRequest, address_id: int) -> HttpResponse:
    address = selectors.address_get_for_customer(customer=request.user, address_id=address_id)
    services.address_set_default(address=address)
    messages.success(request, _("This is now your default address."))
    return _back(request)


urlpatterns: list[URLPattern] = [
    path("account/addresses/", address_list, name="addresses"),
    path("account/addresses/add/", address_add, name="address-add"),
    path("account/addresses/<int:address_id>/edit/", address_edit, name="address-edit"),
    path("account/addresses/<int:address_id>/delete/", address_delete, name="address-delete"),
    path("account/addresses/<int:address_id>/default/", address_default, name="address-default"),
]
