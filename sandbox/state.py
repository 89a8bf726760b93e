"""In-memory state of one sandbox app: per service, its data, its injected faults and a
journal of the requests it answered.

Everything lives on the app instance (``app.extensions["sandbox"]``), so two apps never
share state and a test's reset cannot leak into another server.
"""

from __future__ import annotations

import random
import threading
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, fields
from typing import Any, Protocol

from flask import Blueprint, current_app

JOURNAL_SIZE = 1000  # a long `make run` must not grow without bound
MAX_TIMEOUT_SECONDS = 300.0


class ControlError(ValueError):
    """A control request the sandbox cannot apply (answered with 400)."""


class ServiceState(Protocol):
    """The data a service serves; tests change it through ``/_controls/<service>/state``."""

    def as_json(self) -> dict[str, Any]: ...

    def update(self, changes: Mapping[str, Any]) -> None:
        """Apply a partial change; raise ``ControlError`` when it is not understood."""


@dataclass(frozen=True)
class SandboxService:
    """How one stand-in plugs into the sandbox: its blueprint (mounted at ``/<name>``)
    and a factory for its initial state (called again on every reset)."""

    name: str
    blueprint: Blueprint
    initial_state: Callable[[], ServiceState]


@dataclass
class Faults:
    """Faults injected into one service's endpoints (never into /health or /_controls).

    ``latency_ms`` delays every request until reset. The counters each affect that many
    next requests, one counter per request, checked in the order timeout, fail, malformed.
    ``fail_ratio`` (0 to 1) then fails that share of the remaining requests with
    ``fail_status``, drawn from a generator seeded with ``fail_seed`` (reseeded on every
    fault change), so a run is repeatable.
    """

    latency_ms: int = 0
    fail_next: int = 0
    fail_status: int = 500
    timeout_next: int = 0
    timeout_seconds: float = 30.0
    malformed_next: int = 0
    fail_ratio: float = 0.0
    fail_seed: int = 0

    def __post_init__(self) -> None:
        self._random = random.Random(self.fail_seed)

    def draw_fail(self) -> bool:
        """Whether ``fail_ratio`` fails the current request (consumes one draw)."""
        return self.fail_ratio > 0 and self._random.random() < self.fail_ratio

    def update(self, changes: Mapping[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ControlError(f"unknown fault setting(s): {', '.join(sorted(unknown))}")
        for name, value in changes.items():
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ControlError(f"{name} must be a number")
            if value < 0:
                raise ControlError(f"{name} must not be negative")
            if name == "timeout_seconds":
                if not 0 < value <= MAX_TIMEOUT_SECONDS:
                    raise ControlError(f"timeout_seconds must be in (0, {MAX_TIMEOUT_SECONDS}]")
                setattr(self, name, float(value))
                continue
            if name == "fail_ratio":
                if value > 1:
                    raise ControlError("fail_ratio must be between 0 and 1")
                setattr(self, name, float(value))
                continue
            if value != int(value):
                raise ControlError(f"{name} must be a whole number")
            if name == "fail_status" and not 500 <= value <= 599:
                raise ControlError("fail_status must be a 5xx status")
            setattr(self, name, int(value))
        self._random = random.Random(self.fail_seed)


@dataclass(frozen=True)
class FaultPlan:
    """What to do to one incoming request."""

    latency_seconds: float
    action: str | None  # "timeout", "fail", "malformed" or None (answer normally)
    fail_status: int
    timeout_seconds: float
    wake: threading.Event  # set on reset, so a sleeping request never outlives its test


class ServiceRuntime:
    """One service's live state inside one app. Thread-safe: the server is threaded."""

    def __init__(self, service: SandboxService) -> None:
        self.service = service
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self.reset()

    def reset(self) -> None:
        """Back to the initial data, no faults, empty journal; wake sleeping requests."""
        with self._lock:
            self.state = self.service.initial_state()
            self.faults = Faults()
            self.journal: deque[dict[str, Any]] = deque(maxlen=JOURNAL_SIZE)
            self.request_count = 0
            woken, self._wake = self._wake, threading.Event()
        woken.set()

    def admit(self, *, method: str, path: str, query: Mapping[str, str]) -> FaultPlan:
        """Record a request and consume at most one counted fault for it."""
        with self._lock:
            faults = self.faults
            action = None
            if faults.timeout_next:
                faults.timeout_next -= 1
                action = "timeout"
            elif faults.fail_next:
                faults.fail_next -= 1
                action = "fail"
            elif faults.malformed_next:
                faults.malformed_next -= 1
                action = "malformed"
            elif faults.draw_fail():
                action = "fail"
            self.request_count += 1
            self.journal.append(
                {"method": method, "path": path, "query": dict(query), "fault": action}
            )
            return FaultPlan(
                latency_seconds=faults.latency_ms / 1000,
                action=action,
                fail_status=faults.fail_status,
                timeout_seconds=faults.timeout_seconds,
                wake=self._wake,
            )

    def update_faults(self, changes: Mapping[str, Any]) -> None:
        with self._lock:
            candidate = Faults(**asdict(self.faults))
            candidate.update(changes)  # all or nothing: a bad key changes no fault
            self.faults = candidate

    def update_state(self, changes: Mapping[str, Any]) -> None:
        with self._lock:
            self.state.update(changes)

    def state_json(self) -> dict[str, Any]:
        with self._lock:
            return self.state.as_json()

    def as_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "faults": asdict(self.faults),
                "state": self.state.as_json(),
                "request_count": self.request_count,
            }

    def requests_json(self) -> dict[str, Any]:
        with self._lock:
            return {"count": self.request_count, "requests": list(self.journal)}


class Sandbox:
    """All services of one app, by name."""

    def __init__(self, services: list[SandboxService]) -> None:
        self.services = {service.name: ServiceRuntime(service) for service in services}

    def reset(self) -> None:
        for runtime in self.services.values():
            runtime.reset()


def runtime_for(name: str) -> ServiceRuntime:
    """The live state of service ``name`` in the app handling the current request."""
    return current_app.extensions["sandbox"].services[name]
