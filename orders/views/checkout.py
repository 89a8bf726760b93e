"""Checkout page: address, customs declaration (PCCC) when something ships from the US, the
quote, and placing the order. Thin: the services decide; this view shows their answers."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import URLPattern, path
from django.utils.translation import gettext as _
from django.views.decorators.debug import sensitive_post_parameters

from membership.errors import PointsCarrierUnavailable, PointsChanged, PointsNotAvailable
from membership.selectors import points_offer
from storefront.errors import ApplicationError

from ..cart_session import cart_count_refresh, cart_for_request
from ..forms.addresses import AddressForm
from ..forms.checkout import NEW_ADDRESS, CheckoutForm, CustomsForm
from ..models import CustomsProfile
from ..selectors.addresses import addresses_for_customer
from ..services import checkout as checkout_services
from ..services import payments as payment_services
from ..services.addresses import address_create
from ..stripe_client import StripeUnavailable

logger = logging.getLogger(__name__)

ADDRESS_FIELDS = ("recipient_name", "phone", "postal_code", "road_address", "detail_address")
CUSTOMS_FIELDS = ("pccc", "consent_collection", "consent_transfer")


def _apply_errors(exc: ApplicationError, forms_by_field: dict) -> list[str]:
    """Put the service's per-field messages on the form that owns each field; return the
    messages no form field could show."""
    leftovers = []
    for field, message in (exc.fields or {}).items():
        form = forms_by_field.get(field)
        if form is not None and field in form.fields:
            form.add_error(field, message)
        else:
            leftovers.append(message)
    return leftovers


@sensitive_post_parameters("pccc")
@login_required
def checkout(request: HttpRequest) -> HttpResponse:
    cart = cart_for_request(request, create=False)
    if cart is None or not cart.lines.exists():
        messages.info(request, _("Your cart is empty."))
        return redirect("orders:cart")
    try:
        quote = checkout_services.checkout_quote(cart_id=cart.pk)
        offer = points_offer(customer_id=request.user.pk, merchandise_krw=quote.items_krw)
        points_quote = (
            checkout_services.checkout_quote(cart_id=cart.pk, discount_krw=offer.points)
            if offer.points
            else None
        )
    except ApplicationError as exc:
        messages.error(request, exc.message)
        return redirect("orders:cart")

    addresses = list(addresses_for_customer(customer=request.user))
    profile = CustomsProfile.objects.filter(customer=request.user).first()
    saved_last4 = profile.pccc_last4 if profile else ""
    data = request.POST if request.method == "POST" else None
    initial = {
        "expected_total_krw": quote.total_krw,
        "expected_discount_krw": offer.points,
        "use_points": bool(offer.points),
    }
    form = CheckoutForm(data, addresses=addresses, initial=initial)
    address_form = AddressForm(data, prefix="new")
    customs_form = CustomsForm(data, saved_last4=saved_last4)
    general_errors: list[str] = []
    points_error = ""

    if request.method == "POST" and form.is_valid() and customs_form.is_valid():
        use_new = form.cleaned_data["address"] == NEW_ADDRESS
        if use_new and not address_form.is_valid():
            pass  # the address form shows its own errors
        else:
            try:
                shipping = _shipping_address(
                    request, form.cleaned_data["address"], addresses, address_form
                )
                customs = None
                if quote.has_cross_border or customs_form.cleaned_data.get("pccc"):
                    customs = checkout_services.CustomsDeclaration(
                        pccc=customs_form.cleaned_data.get("pccc", ""),
                        use_saved=bool(customs_form.cleaned_data.get("use_saved_pccc")),
                        consent_collection=customs_form.cleaned_data["consent_collection"],
                        consent_transfer=customs_form.cleaned_data["consent_transfer"],
                    )
                shown_discount = form.cleaned_data.get("expected_discount_krw") or 0
                use_points = bool(form.cleaned_data.get("use_points") and shown_discount)
                order = checkout_services.order_place(
                    customer_id=request.user.pk,
                    email=request.user.email,
                    cart_id=cart.pk,
                    address=shipping,
                    customs=customs,
                    expected_total_krw=form.cleaned_data["expected_total_krw"]
                    - (shown_discount if use_points else 0),
                    use_points=use_points,
                    expected_discount_krw=shown_discount if use_points else None,
                )
            except (checkout_services.QuoteChanged, PointsChanged) as exc:
                messages.warning(request, exc.message)
                return redirect("orders:checkout")
            except (PointsCarrierUnavailable, PointsNotAvailable) as exc:
                # Offer the same order without points: the box is unticked for the retry.
                points_error = exc.message
                unticked = request.POST.copy()
                unticked.pop("use_points", None)
                form = CheckoutForm(unticked, addresses=addresses, initial=initial)
                form.is_valid()
            except ApplicationError as exc:
                general_errors = _apply_errors(
                    exc,
                    {
                        **dict.fromkeys(ADDRESS_FIELDS, address_form),
                        **dict.fromkeys(CUSTOMS_FIELDS, customs_form),
                    },
                )
                general_errors.insert(0, exc.message)
            else:
                if use_new and form.cleaned_data.get("save_address"):
                    _address_save_quietly(request, address_form)
                cart_count_refresh(request)
                try:
                    payment_services.payment_intent_ensure(order_id=order.pk)
                except StripeUnavailable:
                    logger.warning("PaymentIntent for %s deferred: Stripe unavailable", order)
                return redirect("orders:pay", number=order.number)

    points_on = bool(points_quote) and (
        form.cleaned_data.get("use_points") if form.is_bound and form.is_valid() else True
    )
    return render(
        request,
        "orders/checkout.html",
        {
            "quote": points_quote if points_on else quote,
            "quote_without_points": quote,
            "points_quote": points_quote,
            "offer": offer,
            "points_error": points_error,
            "form": form,
            "address_form": address_form,
            "customs_form": customs_form,
            "has_addresses": bool(addresses),
            "general_errors": general_errors,
        },
    )


def _shipping_address(
    request: HttpRequest, choice: str, addresses: list, address_form: AddressForm
) -> checkout_services.ShippingAddress:
    if choice == NEW_ADDRESS:
        data = address_form.cleaned_data
        return checkout_services.ShippingAddress(
            recipient_name=data["recipient_name"],
            phone=data["phone"],
            postal_code=data["postal_code"],
            road_address=data["road_address"],
            detail_address=data.get("detail_address", ""),
            english_name=data.get("english_name", ""),
        )
    address = next((a for a in addresses if str(a.pk) == choice), None)
    if address is None:  # not one of this shopper's addresses
        raise ApplicationError(_("Choose one of your addresses."), fields={"address": ""})
    return checkout_services.ShippingAddress(
        recipient_name=address.recipient_name,
        phone=address.phone,
        postal_code=address.postal_code,
        road_address=address.road_address,
        detail_address=address.detail_address,
        english_name=address.english_name,
    )


def _address_save_quietly(request: HttpRequest, address_form: AddressForm) -> None:
    data = address_form.cleaned_data
    try:
        address_create(
            customer=request.user,
            recipient_name=data["recipient_name"],
            phone=data["phone"],
            postal_code=data["postal_code"],
            road_address=data["road_address"],
            detail_address=data.get("detail_address", ""),
            english_name=data.get("english_name", ""),
        )
    except ApplicationError:
        logger.info("checkout address not saved to the address book")


urlpatterns: list[URLPattern] = [
    path("checkout/", checkout, name="checkout"),
]
