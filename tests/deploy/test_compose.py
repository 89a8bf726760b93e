"""docker-compose.yml, the Dockerfile and `make run` (Procfile.dev, Makefile) describe the
same processes, commands and settings, so they cannot drift apart: a process added to or
dropped from one side, a changed command, a setting the code does not read or
.env.example does not document, or a service without a health check fails here.

Docker itself is not run (no daemon in CI); these are checks of what the files say."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.urls import reverse

ROOT = Path(settings.BASE_DIR)
# The stand-in processes only `--profile demo` starts.
DEMO_PROCESSES = {"sandbox", "stripe"}
# Interpolated by compose for the db image only; not a setting of the store.
COMPOSE_ONLY_VARIABLES = {"POSTGRES_PASSWORD"}


# --- Reading the files ------------------------------------------------------------------------


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def services() -> dict[str, dict]:
    return compose()["services"]


def procfile() -> dict[str, list[str]]:
    """Procfile.dev as {process: argv}, the venv prefix dropped (`.venv/bin/celery` → celery)."""
    processes = {}
    for line in (ROOT / "Procfile.dev").read_text().splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, command = line.split(":", 1)
        processes[name.strip()] = argv(command)
    return processes


def argv(command: str | list[str]) -> list[str]:
    words = shlex.split(command) if isinstance(command, str) else list(command)
    return [words[0].removeprefix(".venv/bin/"), *words[1:]]


def option(words: list[str], name: str) -> str:
    return words[words.index(name) + 1]


def interpolate(text: str) -> str:
    """Compose's ``${VAR:-default}`` with nothing set in the environment: the defaults, as
    `docker compose up` with no .env sees them (nested defaults resolved)."""
    out, i = [], 0
    while i < len(text):
        if text.startswith("$$", i):
            out.append("$")
            i += 2
        elif text.startswith("${", i):
            depth, j = 1, i + 2
            while depth:
                if text.startswith("${", j):
                    depth, j = depth + 1, j + 2
                else:
                    depth -= text[j] == "}"
                    j += 1
            body = text[i + 2 : j - 1]
            name, sep, default = re.match(r"([A-Z0-9_]+)(:?[-?]?)(.*)", body, re.S).groups()
            out.append(interpolate(default) if sep in (":-", "-") else f"<{name}>")
            i = j
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def interpolated_names(text: str) -> set[str]:
    return set(re.findall(r"\$\{([A-Z0-9_]+)", text))


def settings_env_names() -> set[str]:
    """Every variable storefront/settings.py reads (env(...), env.int(...), env_decimal(...))."""
    source = (ROOT / "storefront" / "settings.py").read_text()
    return set(re.findall(r"""\benv(?:\.\w+|_decimal)?\(\s*["']([A-Z0-9_]+)["']""", source))


def env_example() -> dict[str, str]:
    lines = (ROOT / ".env.example").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if re.match(r"[A-Z0-9_]+=", line))


def app_services() -> dict[str, dict]:
    """Services running the store's own code (built from the Dockerfile)."""
    return {name: svc for name, svc in services().items() if "build" in svc}


def long_running(svc: dict) -> bool:
    return svc.get("restart") != "no"


def app_environment(name: str) -> dict[str, str]:
    return {key: interpolate(str(value)) for key, value in services()[name]["environment"].items()}


# --- The reading helpers themselves -----------------------------------------------------------


def test_interpolate_resolves_nested_defaults_and_marks_required_variables():
    assert interpolate("${A:-${B:-http://x:1}/p}") == "http://x:1/p"
    assert interpolate("${A:?set A} $$HOSTNAME") == "<A> $HOSTNAME"
    assert interpolated_names("${A:-${B_C:-x}}") == {"A", "B_C"}


# --- Processes and commands -------------------------------------------------------------------


def test_compose_runs_exactly_the_processes_of_make_run():
    running = {name for name, svc in app_services().items() if long_running(svc)}
    assert running == set(procfile())


def test_the_demo_profile_holds_exactly_the_stand_ins():
    demo = {name for name, svc in services().items() if "demo" in svc.get("profiles", [])}
    assert demo == DEMO_PROCESSES
    assert all(not svc.get("profiles") for name, svc in services().items() if name not in demo)


def test_migrate_is_the_one_shot_make_run_runs_before_starting():
    one_shots = {name for name, svc in app_services().items() if not long_running(svc)}
    assert one_shots == {"migrate"}
    make_run = (ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    assert "$(PY) manage.py migrate --noinput" in make_run
    assert argv(services()["migrate"]["command"]) == ["python", "manage.py", "migrate", "--noinput"]
    for name in procfile().keys() - DEMO_PROCESSES:
        assert services()[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


def test_web_serves_the_same_wsgi_application():
    dev, prod = procfile()["web"], argv(services()["web"]["command"])
    assert dev[:3] == ["python", "manage.py", "runserver"]  # runserver loads WSGI_APPLICATION
    module, _, attribute = settings.WSGI_APPLICATION.rpartition(".")
    assert prod[0] == "gunicorn"
    assert prod[1] in (module, f"{module}:{attribute}")
    assert attribute == "application"  # gunicorn's default when only the module is named
    assert option(prod, "--bind").endswith(":" + dev[3].rsplit(":", 1)[1])  # same port


@pytest.mark.parametrize("process", ["worker", "beat"])
def test_celery_processes_run_the_same_app_and_command(process):
    dev, prod = procfile()[process], argv(services()[process]["command"])
    assert dev[:4] == prod[:4] == ["celery", "--app", "storefront", process]
    assert option(dev, "--loglevel") == option(prod, "--loglevel")


def test_the_sandbox_runs_the_same_module_on_the_same_port():
    dev, prod = procfile()["sandbox"], argv(services()["sandbox"]["command"])
    assert dev[:3] == prod[:3] == ["python", "-m", "sandbox"]
    assert option(dev, "--port") == option(prod, "--port")


def test_localstripe_runs_the_same_module_and_posts_to_the_same_webhook():
    dev = procfile()["stripe"]
    prod = argv(interpolate(services()["stripe"]["command"]))
    assert dev[:3] == prod[:3] == ["python", "-m", "sandbox.stripe_local"]
    assert option(dev, "--port") == option(prod, "--port")
    webhook = reverse("orders:stripe-webhook")
    assert option(dev, "--webhook-url") == f"http://127.0.0.1:8000{webhook}"
    assert option(prod, "--webhook-url") == f"http://web:8000{webhook}"
    # Both sign with the secret web checks against.
    assert option(dev, "--webhook-secret") == settings.STRIPE_WEBHOOK_SECRET
    assert option(prod, "--webhook-secret") == app_environment("web")["STRIPE_WEBHOOK_SECRET"]
    assert option(prod, "--webhook-secret") == option(dev, "--webhook-secret")


def test_exactly_one_beat():
    beat = services()["beat"]
    assert beat.get("deploy", {}).get("replicas", 1) == 1
    assert "scale" not in beat


# --- Settings -------------------------------------------------------------------------------


def test_every_setting_compose_sets_is_read_by_settings_and_documented():
    known, documented = settings_env_names(), env_example()
    for name in app_services():
        for variable in services()[name].get("environment", {}):
            assert variable in known, f"{name}: {variable} is not read by settings.py"
            assert variable in documented, f"{name}: {variable} is not in .env.example"


def test_every_interpolated_variable_is_a_setting_or_compose_only():
    text = (ROOT / "docker-compose.yml").read_text()
    unknown = interpolated_names(text) - settings_env_names() - COMPOSE_ONLY_VARIABLES
    assert unknown == set()


def test_app_services_read_env_example_then_the_local_env():
    for name, svc in app_services().items():
        if "demo" in svc.get("profiles", []):
            continue
        files = [entry["path"] if isinstance(entry, dict) else entry for entry in svc["env_file"]]
        assert files == [".env.example", ".env"], name


@pytest.mark.parametrize("process", ["web", "worker", "beat", "migrate"])
def test_app_processes_reach_the_demo_services_by_make_runs_setting_names(process):
    env = app_environment(process)
    sandbox_port = option(procfile()["sandbox"], "--port")
    stripe_port = option(procfile()["stripe"], "--port")
    assert env["SANDBOX_URL"] == f"http://sandbox:{sandbox_port}"
    assert env["STRIPE_API_BASE"] == f"http://stripe:{stripe_port}"
    # Each stand-in URL settings.py derives from SANDBOX_URL is derived the same way here.
    source = (ROOT / "storefront" / "settings.py").read_text()
    derived = dict(re.findall(r'env\("([A-Z_]+)", default=f"\{SANDBOX_URL\}(/[\w/]+)"\)', source))
    assert derived  # the pattern still matches settings.py
    for variable, path in derived.items():
        if variable in env:
            assert env[variable] == env["SANDBOX_URL"] + path, variable


# --- Health checks and the image --------------------------------------------------------------


def test_every_long_running_service_has_a_health_check():
    for name, svc in services().items():
        check = svc.get("healthcheck", {})
        if long_running(svc):
            assert check.get("test"), name
            assert not check.get("disable"), name
        else:  # a one-shot exits; the others wait for its success instead
            assert check.get("disable") is True, name


def test_web_is_checked_on_readiness_and_the_worker_on_its_own_node():
    web = " ".join(services()["web"]["healthcheck"]["test"])
    assert reverse("health-ready") in web
    worker = services()["worker"]
    assert option(argv(worker["command"]), "--hostname") == "worker@%h"
    assert "inspect ping --destination worker@$$HOSTNAME" in " ".join(worker["healthcheck"]["test"])


def test_the_dockerfile_has_the_targets_compose_builds_and_runs_unprivileged():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\w+)$", dockerfile, re.M))
    targets = {svc["build"]["target"] for svc in app_services().values()}
    assert targets == {"app", "demo"}
    assert targets <= stages
    assert dockerfile.rstrip().splitlines()[-1] == "FROM base AS app"  # the default target
    users = re.findall(r"^USER (\S+)$", dockerfile, re.M)
    assert users
    assert users[-1] == "app"
    assert "collectstatic --noinput" in dockerfile
    assert re.search(r"^HEALTHCHECK .*/health/ready/", dockerfile, re.M | re.S)
    # The demo image installs the stand-ins' pins from requirements-dev.txt.
    pins = (ROOT / "requirements-dev.txt").read_text()
    for package in ("Flask", "localstripe", "aiohttp"):
        assert re.search(rf"^{package}==", pins, re.M), package


# --- A shopper request gives up on slow services before gunicorn kills it ---------------------


def _client_budget(*, timeout: float, retries: int, pause) -> float:
    """The longest a client call can take: every attempt to its timeout, plus the pauses."""
    return (retries + 1) * timeout + sum(pause(n) for n in range(1, retries + 1))


def checkout_worst_wait_seconds() -> float:
    """``POST /checkout/`` calls, one after another and each at worst: the customs check
    (PCCC), the carrier hold and, when that fails, its void, then Stripe's PaymentIntent."""
    from stripe._http_client import HTTPClient

    from membership import carrier_client
    from orders import customs_client

    customs = _client_budget(
        timeout=settings.CUSTOMS_CHECK_TIMEOUT_SECONDS,
        retries=settings.CUSTOMS_CHECK_RETRIES,
        pause=lambda n: customs_client.RETRY_BACKOFF_SECONDS * 2 ** (n - 1),
    )
    carrier = _client_budget(
        timeout=settings.CARRIER_POINTS_TIMEOUT_SECONDS,
        retries=settings.CARRIER_POINTS_RETRIES,
        pause=lambda n: carrier_client.RETRY_BACKOFF_SECONDS * 2 ** (n - 1),
    )
    stripe = _client_budget(
        timeout=settings.STRIPE_TIMEOUT_SECONDS,
        retries=settings.STRIPE_MAX_RETRIES,
        # stripe-python: min(0.5 s × 2^(n-1), 5 s), jittered down, never below 0.5 s.
        pause=lambda n: max(
            HTTPClient.INITIAL_DELAY,
            min(HTTPClient.INITIAL_DELAY * 2 ** (n - 1), HTTPClient.MAX_DELAY),
        ),
    )
    return customs + 2 * carrier + stripe


def test_checkout_gives_up_on_hanging_services_before_gunicorn_kills_the_worker():
    """With every service hanging, checkout must still answer with its message: the
    clients' timeouts and retries (the settings' defaults) end before gunicorn's worker
    timeout, in compose and in the image alike."""
    web = argv(services()["web"]["command"])
    dockerfile_cmd = re.search(r"^CMD (\[.*\])$", (ROOT / "Dockerfile").read_text(), re.M)
    image = json.loads(dockerfile_cmd[1])
    for command in (web, image):
        assert command[0] == "gunicorn"
        worker_timeout = float(option(command, "--timeout"))
        assert checkout_worst_wait_seconds() < worker_timeout - 5, (
            checkout_worst_wait_seconds(),
            worker_timeout,
        )
