"""Checkout forms: which address, the customs declaration (PCCC and consents), and the total
the shopper confirmed. Validation of the PCCC's meaning belongs to the services; the form
only carries the values and shows the services' messages on the right fields."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

NEW_ADDRESS = "new"


class CheckoutForm(forms.Form):
    address = forms.ChoiceField(
        label=_("Ship to"), widget=forms.RadioSelect, required=True, choices=()
    )
    save_address = forms.BooleanField(
        label=_("Save this address for next time"), required=False, initial=True
    )
    # What the page showed: the total before points, and the points discount offered.
    expected_total_krw = forms.IntegerField(widget=forms.HiddenInput, min_value=0)
    expected_discount_krw = forms.IntegerField(
        widget=forms.HiddenInput, min_value=0, required=False
    )
    use_points = forms.BooleanField(label=_("Use my membership points"), required=False)

    def __init__(self, *args, addresses=(), **kwargs):
        super().__init__(*args, **kwargs)
        from .. import phones

        choices = [
            (
                str(address.pk),
                f"{address.recipient_name} · {phones.phone_display(address.phone)} · "
                f"({address.postal_code}) {address.road_address} {address.detail_address}".strip(),
            )
            for address in addresses
        ]
        choices.append((NEW_ADDRESS, _("A new address")))
        self.fields["address"].choices = choices
        if not self.is_bound:
            default = next((a for a in addresses if a.is_default), None)
            self.initial.setdefault("address", str(default.pk) if default else NEW_ADDRESS)


class CustomsForm(forms.Form):
    """Shown only when part of the order ships from the US (DOMAIN.md, PCCC)."""

    use_saved_pccc = forms.BooleanField(label=_("Use my saved PCCC"), required=False)
    pccc = forms.CharField(
        label=_("Personal customs clearance code (PCCC)"),
        max_length=20,
        required=False,
        help_text=_("P followed by 12 digits. Issued free of charge by the Korea Customs Service."),
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "placeholder": "P123456789012"}
        ),
    )
    consent_collection = forms.BooleanField(
        label=_(
            "I agree that Global Store collects and uses my PCCC to clear this order through "
            "customs, and keeps it encrypted for 5 years as the Customs Act requires."
        ),
        required=False,
    )
    consent_transfer = forms.BooleanField(
        label=_(
            "I agree that my PCCC, name, phone and address are given to the customs broker, "
            "the carrier and Amazon for this order only."
        ),
        required=False,
    )

    def __init__(self, *args, saved_last4: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.saved_last4 = saved_last4
        if not saved_last4:
            del self.fields["use_saved_pccc"]
        elif not self.is_bound:
            self.initial["use_saved_pccc"] = True
