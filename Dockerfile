# A small production image: uvicorn serving app.main:app on $PORT as an unprivileged user.
# It needs DATABASE_URL (or SUPABASE_URL + SUPABASE_SERVICE_ROLE_KEY) and CRON_SECRET at run time;
# the embedded PostgreSQL is a development convenience and is not installed here.
# Python 3.11 (the version the test suite runs on) on Debian 12. tests/test_deploy_files.py checks
# this file and replays its build steps; see the README, "Deploying".

# Build stage: the runtime dependencies (not the dev or embedded extras) into a venv of their own.
# All of them ship manylinux wheels, so no compiler is needed; pip and its caches stay here.
FROM python:3.11.14-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    VIRTUAL_ENV=/opt/venv
WORKDIR /build
COPY pyproject.toml ./
# Only [project].dependencies from pyproject.toml: this layer is rebuilt when they change, not
# when the code does. pip compiles the .pyc files here, so the read-only runtime never has to.
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" > requirements.txt \
    && python -m venv --without-pip "$VIRTUAL_ENV" \
    && pip --python "$VIRTUAL_ENV/bin/python" install --requirement requirements.txt

# Runtime stage: the venv, the code and the migrations (for `python -m app.cli migrate`); no
# tests, no demo seed, no build tools. The code runs from /srv (PYTHONPATH), where
# app/db/migrations.py finds ../supabase/migrations.
FROM python:3.11.14-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/srv \
    APP_ENV=production \
    PORT=8000
RUN groupadd --system --gid 10001 anchor \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
       --shell /usr/sbin/nologin anchor
COPY --from=build /opt/venv /opt/venv
WORKDIR /srv
COPY app ./app
COPY supabase/migrations ./supabase/migrations
RUN python -m compileall -q app

# Numeric, so an orchestrator can tell it is not root (Kubernetes runAsNonRoot).
USER 10001:10001
EXPOSE 8000
# The slim image has no curl: ask /health with the standard library (503 while the database is
# unreachable, so the container reports unhealthy then).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/health' % os.environ.get('PORT', '8000'), timeout=4)"]
# JSON logs with request ids; uvicorn's access log stays off (it would print query strings).
CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0"]
