"""The client's IP address, the same for every part of the site that counts by address
(the shopper login limiter, django-axes on the admin login).

Without a proxy it is ``REMOTE_ADDR``. Behind load balancers or reverse proxies
(``TRUSTED_PROXY_COUNT`` = how many of them stand in front of the app, each appending the
address it received the request from to ``X-Forwarded-For``), ``REMOTE_ADDR`` is the
nearest proxy's and the client is the entry that many places from the right of
``X-Forwarded-For``: the entries further left were sent by the client and can be forged,
so they are never used. A header with fewer entries than proxies, or an entry that is not
an IP address, means the request did not come through the configured proxies: then
``REMOTE_ADDR`` is used.
"""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest | None) -> str:
    """The address the request came from ("" without a request)."""
    if request is None:
        return ""
    remote = request.META.get("REMOTE_ADDR", "") or ""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies <= 0:
        return remote
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
    forwarded = [part for part in forwarded if part]
    if len(forwarded) < proxies:
        return remote
    candidate = forwarded[-proxies]
    try:
        return str(ipaddress.ip_address(candidate))
    except ValueError:
        return remote
