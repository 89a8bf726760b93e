"""Template helpers for the orders app's shopper pages (others may add their filters here)."""

from __future__ import annotations

from django import template

from orders import phones

register = template.Library()


@register.filter
def phone(e164: str | None) -> str:
    """A stored E.164 mobile number as Koreans write it: ``+821012345678`` → ``010-1234-5678``."""
    return phones.phone_display(e164 or "")


@register.filter
def phone_masked(e164: str | None) -> str:
    """A stored mobile number with its middle digits hidden: ``010-****-5678``."""
    return phones.phone_mask(e164 or "")


@register.filter
def pccc_masked(last4: str | None) -> str:
    """A PCCC shown only by its last four digits: ``P••••••••1234``."""
    from orders import pccc

    return pccc.pccc_mask(last4 or "")


@register.filter
def payment_error(payment) -> str:
    """Why the payment's last attempt failed, translated when Stripe's code is known."""
    from orders.payment_messages import payment_error_message

    if payment is None:
        return ""
    return payment_error_message(payment.last_error_code, payment.last_error_message)
