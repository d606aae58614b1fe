# A small production image: uvicorn serving app.main:app as a non-root user.
# It needs DATABASE_URL or SUPABASE_URL (+ SUPABASE_SERVICE_ROLE_KEY); the embedded server is a
# development convenience and is not installed here.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APP_ENV=production \
    PORT=8000

WORKDIR /srv
COPY pyproject.toml README.md ./
COPY app ./app
COPY supabase ./supabase
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /srv --shell /usr/sbin/nologin anchor

USER anchor
EXPOSE 8000
# JSON logs with request ids; uvicorn's access log stays off (it would print query strings).
CMD ["python", "-m", "app.cli", "serve", "--host", "0.0.0.0"]
