"""Request plumbing shared by every page."""

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation
from django.utils.translation.trans_real import parse_accept_lang_header

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
