# The store's image: the same code and settings as `make run`, configured by environment
# (.env.example lists every variable). Two targets:
#   app  (default) runtime requirements only: web (gunicorn), Celery worker and beat, migrate.
#   demo app + the pinned packages of the local stand-ins (Flask for `python -m sandbox`,
#        localstripe and aiohttp for `python -m sandbox.stripe_local`), for the compose
#        `demo` profile. Never deploy it: it carries fake external services.
# docker compose builds both (docker-compose.yml); by hand: docker build --target app .

FROM python:3.11-slim AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1
# An unprivileged user runs every process; it owns only var/ (Celery beat's schedule file).
RUN useradd --create-home --uid 10001 --user-group app
WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt
COPY . .
# Static files are collected into the image (WhiteNoise serves them, WHITENOISE_USE_FINDERS=0);
# settings need no database or secret for this.
RUN python manage.py collectstatic --noinput --verbosity 0 \
    && mkdir -p var \
    && chown app:app var
USER app
EXPOSE 8000
# Ready = database, cache and broker answer (storefront/views.py health_ready). docker compose
# sets a check of its own on the worker and beat services, which run this image too.
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health/ready/', timeout=4)"]
CMD ["gunicorn", "storefront.wsgi", "--bind", "0.0.0.0:8000", "--workers", "3", "--timeout", "60", "--access-logfile", "-"]

FROM base AS demo
USER root
# Only the stand-ins' pins, taken from requirements-dev.txt so the versions stay in one place.
RUN grep -E '^(Flask|localstripe|aiohttp)==' requirements-dev.txt > /tmp/demo-requirements.txt \
    && test "$(wc -l < /tmp/demo-requirements.txt)" -eq 3 \
    && pip install -r /tmp/demo-requirements.txt \
    && rm /tmp/demo-requirements.txt
USER app

# Last stage = the default target of a plain `docker build .`: the production image.
FROM base AS app
