"""What a shopper reads when a card payment fails, in their language.

Stripe's own messages arrive in English through the webhook; its error codes are stable, so
the pages show our translated text for the codes we know and Stripe's text otherwise."""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _

PAYMENT_ERROR_MESSAGES = {
    "card_declined": _("Your card was declined. Try another card, or ask your card company."),
    "generic_decline": _("Your card was declined. Try another card, or ask your card company."),
    "insufficient_funds": _("Your card has insufficient funds or credit for this payment."),
    "expired_card": _("Your card has expired. Try another card."),
    "incorrect_cvc": _("The card's security code (CVC) is not correct."),
    "invalid_cvc": _("The card's security code (CVC) is not correct."),
    "incorrect_number": _("The card number is not correct."),
    "invalid_number": _("The card number is not correct."),
    "invalid_expiry_month": _("The card's expiry month is not valid."),
    "invalid_expiry_year": _("The card's expiry year is not valid."),
    "processing_error": _("The card company could not process the payment. Please try again."),
    "payment_intent_authentication_failure": _(
        "The card's authentication (3-D Secure) did not succeed. Please try again."
    ),
}


def payment_error_message(code: str, fallback: str = "") -> str:
    """The shopper's message for a Stripe error code, or ``fallback`` (Stripe's text)."""
    message = PAYMENT_ERROR_MESSAGES.get(code or "")
    return str(message) if message is not None else fallback


def payment_error_messages() -> dict[str, str]:
    """All known messages in the active language, for the payment page's script."""
    return {code: str(message) for code, message in PAYMENT_ERROR_MESSAGES.items()}
