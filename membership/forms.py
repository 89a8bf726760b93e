"""The shopper's carrier membership forms: the mobile number to text a code to, and the code.

The forms only check what a person can fix before anything is sent (a number was typed, the
code is six digits); whether the number is a Korean mobile and a member is for
``membership.services.accounts`` to say, and ``add_application_error`` puts its refusal on
the field it names."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from storefront.errors import ApplicationError


class _ApplicationErrorMixin:
    def add_application_error(self, exc: ApplicationError) -> None:
        """Show a service's refusal on the form: each of ``exc.fields`` on its field (or
        on the form when the form has no such field), else ``exc.message`` on the form."""
        if not exc.fields:
            self.add_error(None, exc.message)
        for field, message in exc.fields.items():
            self.add_error(field if field in self.fields else None, message)


class PhoneForm(_ApplicationErrorMixin, forms.Form):
    """The carrier membership's mobile number, as the shopper types it (010-1234-5678)."""

    phone = forms.CharField(
        label=_("Mobile phone"),
        max_length=32,
        help_text=_("The Korean mobile number of your carrier membership, like 010-1234-5678."),
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel", "autofocus": True}
        ),
    )


class CodeForm(_ApplicationErrorMixin, forms.Form):
    """The 6-digit code the carrier texted (spaces allowed)."""

    code = forms.CharField(
        label=_("Verification code"),
        max_length=12,
        help_text=_("The 6-digit code in the text message."),
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "size": 8,
            }
        ),
    )

    def clean_code(self) -> str:
        code = "".join(self.cleaned_data["code"].split())
        if not (code.isdigit() and len(code) == 6):
            raise forms.ValidationError(
                _("Enter the 6-digit code from the text message."), code="code_format"
            )
        return code
