"""Shopper pages: carrier membership under ``/account/membership/``.

Not linked: the shopper types their mobile number (``send_code`` →
``carrier_link_start``), the challenge id and E.164 number are kept in the session
(``SESSION_KEY``), then the texted code confirms the link (``confirm`` →
``carrier_link_confirm``); the code can be sent again (``resend``) or another number used
(``restart``). Linked: tier, points usable now and held, the masked number, the last sync
(Seoul time), ``refresh`` (``carrier_account_refresh``) and ``unlink`` (confirmation page,
then ``carrier_unlink``). Below: the tier rules and the shopper's points history.

Signed-in shoppers only; every change is a POST; the views only call services and
selectors, which read by the signed-in customer, so another shopper's data never shows.
Service refusals (``ApplicationError``) become field errors or messages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from storefront.errors import ApplicationError

from .forms import CodeForm, PhoneForm
from .models import TierRule
from .selectors import carrier_account_for_customer, holdable_points, points_history
from .services import accounts as services
from .services.ledger import ledger_balances

# Session: {"challenge_id": "otp_...", "phone": "+8210..."} while a code is awaited.
SESSION_KEY = "membership_link"


def _pending_link(request: HttpRequest) -> dict | None:
    pending = request.session.get(SESSION_KEY)
    if isinstance(pending, dict) and pending.get("challenge_id") and pending.get("phone"):
        return pending
    return None


def _remember_challenge(request: HttpRequest, challenge: services.LinkChallenge) -> None:
    request.session[SESSION_KEY] = {
        "challenge_id": challenge.challenge_id,
        "phone": challenge.phone,
    }


def _page(
    request: HttpRequest,
    *,
    phone_form: PhoneForm | None = None,
    code_form: CodeForm | None = None,
) -> HttpResponse:
    """The membership page for the signed-in shopper (forms passed in keep their errors)."""
    customer_id = request.user.pk
    account = carrier_account_for_customer(customer_id=customer_id)
    context: dict = {
        "account": account,
        "tier_rules": [
            {"rule": rule, "percent": rule.rate * 100}
            for rule in TierRule.objects.filter(is_active=True)
        ],
        "history": points_history(customer_id=customer_id),
    }
    if account is not None:
        request.session.pop(SESSION_KEY, None)
        context["usable_points"] = holdable_points(account_id=account.pk)
        context["held_points"] = ledger_balances(account_id=account.pk).held
    else:
        pending = _pending_link(request)
        if pending is not None and phone_form is None:
            context["pending_phone"] = pending["phone"]
            context["code_form"] = code_form or CodeForm()
        else:
            context["phone_form"] = phone_form or PhoneForm()
    return render(request, "membership/membership.html", context)


@require_safe
@login_required
def membership(request: HttpRequest) -> HttpResponse:
    return _page(request)


@require_POST
@login_required
def send_code(request: HttpRequest) -> HttpResponse:
    """Text a code to the typed number; on a refusal the page shows it with the number kept."""
    form = PhoneForm(request.POST)
    if form.is_valid():
        try:
            challenge = services.carrier_link_start(
                customer_id=request.user.pk, phone=form.cleaned_data["phone"]
            )
        except ApplicationError as exc:
            form.add_application_error(exc)
        else:
            _remember_challenge(request, challenge)
            messages.success(request, _("We texted a 6-digit code to your mobile phone."))
            return redirect("membership:membership")
    return _page(request, phone_form=form)


@require_POST
@login_required
def confirm(request: HttpRequest) -> HttpResponse:
    """Link the membership with the texted code."""
    pending = _pending_link(request)
    if pending is None:
        messages.error(request, _("Enter your mobile number to get a code first."))
        return redirect("membership:membership")
    form = CodeForm(request.POST)
    if form.is_valid():
        try:
            services.carrier_link_confirm(
                customer_id=request.user.pk,
                challenge_id=pending["challenge_id"],
                phone=pending["phone"],
                code=form.cleaned_data["code"],
            )
        except ApplicationError as exc:
            form.add_application_error(exc)
        else:
            request.session.pop(SESSION_KEY, None)
            messages.success(request, _("Your carrier membership is linked."))
            return redirect("membership:membership")
    return _page(request, code_form=form)


@require_POST
@login_required
def resend(request: HttpRequest) -> HttpResponse:
    """Text a new code to the same number (the new challenge replaces the old one)."""
    pending = _pending_link(request)
    if pending is None:
        return redirect("membership:membership")
    try:
        challenge = services.carrier_link_start(customer_id=request.user.pk, phone=pending["phone"])
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        _remember_challenge(request, challenge)
        messages.success(request, _("We texted a new code to your mobile phone."))
    return redirect("membership:membership")


@require_POST
@login_required
def restart(request: HttpRequest) -> HttpResponse:
    """Forget the number the code was sent to and ask for another one."""
    request.session.pop(SESSION_KEY, None)
    return redirect("membership:membership")


@require_POST
@login_required
def refresh(request: HttpRequest) -> HttpResponse:
    """Ask the carrier for the tier and balance now; when it does not answer, say so."""
    account = carrier_account_for_customer(customer_id=request.user.pk)
    if account is None:
        return redirect("membership:membership")
    try:
        services.carrier_account_refresh(account_id=account.pk)
    except ApplicationError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Your points balance was updated."))
    return redirect("membership:membership")


@require_http_methods(["GET", "HEAD", "POST"])
@login_required
def unlink(request: HttpRequest) -> HttpResponse:
    """GET: what unlinking means, and the button; POST: unlink."""
    account = carrier_account_for_customer(customer_id=request.user.pk)
    if account is None:
        return redirect("membership:membership")
    if request.method == "POST":
        services.carrier_unlink(customer_id=request.user.pk)
        messages.success(request, _("Your carrier membership is unlinked."))
        return redirect("membership:membership")
    return render(request, "membership/unlink_confirm.html", {"account": account})
