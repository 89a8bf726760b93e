"""The Korean shipping address form (address book pages, reused by the checkout).

Validation is the services' own normalisers, field by field, so the form shows exactly the
messages ``orders.services.addresses`` would raise, on the same fields, and
``cleaned_data`` holds the normalised values (E.164 phone, five-digit postal code, trimmed
text) under the services' argument names: ``address_create(customer=..., **form.cleaned_data)``.
"""

from __future__ import annotations

from collections.abc import Callable

from django import forms
from django.utils.translation import gettext_lazy as _

from orders.models import Address
from orders.phones import phone_display, phone_normalize
from orders.services import addresses as address_services
from storefront.errors import ApplicationError


def _through(normalise: Callable[[str], str], value: str) -> str:
    """``normalise(value)``, its ApplicationError turned into the field's ValidationError."""
    try:
        return normalise(value)
    except ApplicationError as exc:
        message = next(iter(exc.fields.values()), exc.message)
        raise forms.ValidationError(message, code=exc.code) from exc


class AddressForm(forms.Form):
    """Recipient, mobile phone, postal code, road-name and detail address, the optional
    English name for customs, and whether to make it the default address."""

    recipient_name = forms.CharField(
        label=_("Recipient"),
        max_length=address_services.RECIPIENT_NAME_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        help_text=_("A Korean mobile number, like 010-1234-5678."),
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}),
    )
    postal_code = forms.CharField(
        label=_("Postal code"),
        max_length=7,
        help_text=_("5 digits, like 06236."),
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "postal-code", "size": 7}
        ),
    )
    road_address = forms.CharField(
        label=_("Road-name address"),
        max_length=address_services.ROAD_ADDRESS_MAX,
        widget=forms.TextInput(attrs={"autocomplete": "address-line1"}),
    )
    detail_address = forms.CharField(
        label=_("Detail address (building, unit)"),
        max_length=address_services.DETAIL_ADDRESS_MAX,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "address-line2"}),
    )
    english_name = forms.CharField(
        label=_("Name in English (optional)"),
        max_length=address_services.ENGLISH_NAME_MAX,
        required=False,
        help_text=_("As in your passport, for customs on items shipped from the US."),
        widget=forms.TextInput(attrs={"autocomplete": "off", "lang": "en"}),
    )
    make_default = forms.BooleanField(label=_("Use as my default address"), required=False)

    @classmethod
    def for_address(cls, address: Address, **kwargs) -> AddressForm:
        """An unbound form showing ``address`` (the phone as Koreans write it)."""
        initial = {
            "recipient_name": address.recipient_name,
            "phone": phone_display(address.phone),
            "postal_code": address.postal_code,
            "road_address": address.road_address,
            "detail_address": address.detail_address,
            "english_name": address.english_name,
            "make_default": address.is_default,
        }
        return cls(initial=initial, **kwargs)

    def clean_recipient_name(self) -> str:
        return _through(_normaliser("recipient_name"), self.cleaned_data["recipient_name"])

    def clean_phone(self) -> str:
        return _through(phone_normalize, self.cleaned_data["phone"])

    def clean_postal_code(self) -> str:
        return _through(address_services.postal_code_normalize, self.cleaned_data["postal_code"])

    def clean_road_address(self) -> str:
        return _through(_normaliser("road_address"), self.cleaned_data["road_address"])

    def clean_detail_address(self) -> str:
        return _through(_normaliser("detail_address"), self.cleaned_data["detail_address"])

    def clean_english_name(self) -> str:
        return _through(address_services.english_name_normalize, self.cleaned_data["english_name"])

    def add_application_error(self, exc: ApplicationError) -> None:
        """Show a service's refusal on the form: each of ``exc.fields`` on its field (or
        on the form when the form has no such field), else ``exc.message`` on the form."""
        if not exc.fields:
            self.add_error(None, exc.message)
        for field, message in exc.fields.items():
            self.add_error(field if field in self.fields else None, message)


def _normaliser(field: str) -> Callable[[str], str]:
    return address_services.NORMALISERS[field]
