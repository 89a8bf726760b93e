"""Login throttling: a small cache-backed limiter against password guessing.

Failed logins are counted per email (``LOGIN_RATE_LIMIT_ATTEMPTS``) and per client IP
(``LOGIN_RATE_LIMIT_IP_ATTEMPTS``) in a window of ``LOGIN_RATE_LIMIT_WINDOW_SECONDS`` that
starts at the first failure. When either count reaches its limit, that email or IP is locked
until the window ends: the login form then refuses without attempting authentication, so
even the right password does not get in (and does not tell a guesser it was right). A
successful login clears the email's count; the IP's count runs out with its window, so one
account the attacker owns cannot reset the IP counter.

The counters live in the default cache (Redis in production, shared by every web process;
local memory on embedded defaults). Emails are hashed in the keys. The IP is
``storefront.client_ip.client_ip``: ``REMOTE_ADDR``, or behind ``TRUSTED_PROXY_COUNT``
proxies the client's address from ``X-Forwarded-For``.
"""

from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from django.http import HttpRequest

from storefront.client_ip import client_ip as client_ip_of

KEY_PREFIX = "accounts:login"


@dataclass(frozen=True)
class Subject:
    """What failed logins are counted against: one email or one client IP."""

    kind: str  # "email" or "ip"
    value: str
    limit: int

    @property
    def count_key(self) -> str:
        digest = hashlib.sha256(self.value.encode()).hexdigest()[:32]
        return f"{KEY_PREFIX}:{self.kind}:{digest}:failures"

    @property
    def lock_key(self) -> str:
        return self.count_key.removesuffix(":failures") + ":locked-until"


def client_ip(request: HttpRequest | None) -> str:
    """The address the request came from (``storefront.client_ip``)."""
    return client_ip_of(request)


def _subjects(*, email: str, ip: str) -> list[Subject]:
    subjects = []
    if email and settings.LOGIN_RATE_LIMIT_ATTEMPTS > 0:
        subjects.append(Subject("email", email.strip().lower(), settings.LOGIN_RATE_LIMIT_ATTEMPTS))
    if ip and settings.LOGIN_RATE_LIMIT_IP_ATTEMPTS > 0:
        subjects.append(Subject("ip", ip, settings.LOGIN_RATE_LIMIT_IP_ATTEMPTS))
    return subjects


def login_locked_seconds(*, email: str, ip: str) -> int:
    """Seconds until a login for ``email`` from ``ip`` may be attempted again; 0 when
    neither is locked."""
    subjects = _subjects(email=email, ip=ip)
    if not subjects:
        return 0
    locks = cache.get_many([subject.lock_key for subject in subjects])
    now = time.time()
    remaining = max((until - now for until in locks.values()), default=0)
    return max(0, math.ceil(remaining))


def login_failed(*, email: str, ip: str) -> int:
    """Count one failed login for ``email`` and ``ip``. Returns the seconds the login is
    now locked for (0 when neither limit has been reached)."""
    window = settings.LOGIN_RATE_LIMIT_WINDOW_SECONDS
    for subject in _subjects(email=email, ip=ip):
        # add() is a no-op when the window is already open, so the window starts at the
        # first failure; incr() is atomic in Redis and in the local-memory cache.
        cache.add(subject.count_key, 0, timeout=window)
        try:
            failures = cache.incr(subject.count_key)
        except ValueError:  # the window closed between add() and incr()
            cache.set(subject.count_key, 1, timeout=window)
            failures = 1
        if failures >= subject.limit:
            cache.set(subject.lock_key, time.time() + window, timeout=window)
    return login_locked_seconds(email=email, ip=ip)


def login_succeeded(*, email: str) -> None:
    """Forget the failed logins counted for ``email`` (after a successful login or a
    password reset). The IP's count is left to expire."""
    for subject in _subjects(email=email, ip=""):
        cache.delete_many([subject.count_key, subject.lock_key])


def minutes_left(seconds: int) -> int:
    """Whole minutes to tell the shopper, rounded up (never 0 while locked)."""
    return max(1, math.ceil(seconds / 60))
