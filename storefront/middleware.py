"""Request plumbing shared by every page."""

import re
import uuid
from collections.abc import Callable
from urllib.parse import urlsplit

from csp.constants import NONE as CSP_NONE_VALUE
from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib import auth
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.urls import NoReverseMatch, reverse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

from storefront.admin_login import OTP_REQUIRED_SESSION_KEY
from storefront.logging import request_id_var

API_PREFIX = "/api/"
API_DEFAULT_LANGUAGE = "en"


class KoreanFirstLocaleMiddleware:
    """Korean for everyone until the shopper picks another language.

    Django's LocaleMiddleware would follow the browser's Accept-Language, so a Korean
    shopper on an English-language phone would get English pages. Here only the language
    cookie set by the language switch (``/i18n/setlang/``) counts; otherwise
    ``LANGUAGE_CODE`` (Korean).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response
        self.supported = {code for code, _ in settings.LANGUAGES}

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path_info.startswith(API_PREFIX):
            language = self._api_language(request)
        else:
            chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
            language = chosen if chosen in self.supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = translation.get_language()
        response = self.get_response(request)
        response.headers.setdefault("Content-Language", request.LANGUAGE_CODE)
        return response

    def _api_language(self, request: HttpRequest) -> str:
        """The partner API (and its schema and docs) speaks English to engineers unless the
        request's Accept-Language asks for a language we have."""
        for code, _quality in parse_accept_lang_header(request.headers.get("Accept-Language", "")):
            base = code.split("-")[0].lower()
            if base in self.supported:
                return base
        return API_DEFAULT_LANGUAGE


# A client's X-Request-ID is kept only if it looks like an id (no spaces, quotes or
# newlines that could forge log lines or headers); otherwise a new one is made.
REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,127}")


class RequestIdMiddleware:
    """Every request gets an id: the incoming ``X-Request-ID`` if well-formed (8–128 of
    letters, digits, ``._:-``), else a new UUID. It is ``request.request_id``, on every log
    record written while the request is served (storefront.logging.RequestIdFilter), and
    returned in the response's ``X-Request-ID`` header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _REQUEST_ID_PATTERN.fullmatch(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        token = request_id_var.set(request_id)
        try:
            response = self.get_response(request)
        finally:
            request_id_var.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class StaffOtpRequiredMiddleware:
    """Staff with a confirmed TOTP device reach the admin only after entering a token.

    The admin login asks for it (storefront.admin_login); a session that got in another way
    (the shopper login, or a device added after this session logged in) is logged out and
    sent to the admin login on its first admin page. Staff without a device are untouched.
    Runs after django_otp's OTPMiddleware (``request.user.is_verified``)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            admin_root = reverse("admin:index")
            exempt = (reverse("admin:login"), reverse("admin:logout"))
        except NoReverseMatch:  # a URLconf without the admin (some tests)
            return self.get_response(request)
        if (
            request.path_info.startswith(admin_root)
            and request.path_info not in exempt
            and request.session.get(OTP_REQUIRED_SESSION_KEY)
            and not request.user.is_verified()
        ):
            auth.logout(request)
            return redirect_to_login(request.get_full_path(), exempt[0])
        return self.get_response(request)


# The one page that loads Stripe.js (templates/orders/pay.html).
STRIPE_PAGES = frozenset({"orders:pay"})
STRIPE_DIRECTIVES = ("script-src", "connect-src", "frame-src")
REAL_STRIPE_JS_ORIGIN = "https://js.stripe.com"
REAL_STRIPE_EXTRA_ORIGINS = ("https://api.stripe.com", "https://hooks.stripe.com")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def csp_stripe_origins() -> list[str]:
    """The origins the payment page may load Stripe.js from, frame and call:
    ``CSP_STRIPE_ORIGINS`` if set, else the origin of ``STRIPE_JS_URL`` (plus Stripe's API
    and 3D Secure origins when that is the real https://js.stripe.com)."""
    if settings.CSP_STRIPE_ORIGINS:
        return list(settings.CSP_STRIPE_ORIGINS)
    origin = _origin(settings.STRIPE_JS_URL)
    if origin == REAL_STRIPE_JS_ORIGIN:
        return [origin, *REAL_STRIPE_EXTRA_ORIGINS]
    return [origin]


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware (``settings.CONTENT_SECURITY_POLICY``), plus the Stripe.js
    origins on the payment page only (replacing its ``frame-src 'none'``), read from the
    settings at each request."""

    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponse, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        match = getattr(request, "resolver_match", None)
        if report_only or match is None or match.view_name not in STRIPE_PAGES:
            return parts
        if parts.config is None and parts.replace is None:
            base = settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]
            origins = csp_stripe_origins()
            replace = {
                name: [*(v for v in base.get(name, []) if v != CSP_NONE_VALUE), *origins]
                for name in STRIPE_DIRECTIVES
            }
            parts.replace = replace
        return parts
