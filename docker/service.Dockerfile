# syntax=docker/dockerfile:1
# One image for every service of the fleet; the build arg SERVICE picks which one runs:
#   docker build -f docker/service.Dockerfile --build-arg SERVICE=account -t payment-fleet/account .
# SERVICE is the Python package (and schema) name: gateway, confirm, risk, notification, otp,
# account, audit, ofac, kyc, partner_bank. The listening port comes from $PORT at run time.
# Tag for people, digest for machines: the tag can be re-pointed, the digest cannot.
FROM python:3.11.11-slim-bookworm@sha256:081075da77b2b55c23c088251026fb69a7b2bf92471e491ff5fd75c192fd38e5

ARG SERVICE
RUN test -n "${SERVICE}" || { echo "build arg SERVICE is required, e.g. --build-arg SERVICE=account" >&2; exit 1; }

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SERVICE=${SERVICE} \
    PORT=8000 \
    PYTHONPATH=/app/libs/paykit:/app/services/${SERVICE}

WORKDIR /app

RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid app --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them. Exact versions come from the
# constraints file. The embedded servers of `make run` (requirements/embedded.txt) stay out:
# a container talks to the stack's real Postgres and Redis.
COPY requirements/ requirements/
# rigour and normality (the ofac name normaliser) go in with --no-deps: see requirements/no-deps.txt.
RUN pip install -r requirements/base.txt -c requirements/constraints.txt \
 && pip install --no-deps -r requirements/no-deps.txt -c requirements/constraints.txt

COPY libs/ libs/
COPY services/${SERVICE}/ services/${SERVICE}/
COPY docker/healthcheck.py docker/healthcheck.py

USER app
EXPOSE 8000

HEALTHCHECK --interval=10s --timeout=5s --start-period=40s --retries=6 \
    CMD ["python", "/app/docker/healthcheck.py"]

# exec: uvicorn becomes PID 1 and gets SIGTERM for a graceful shutdown. The keep-alive outlasts
# nginx's upstream keepalive_timeout (60s), so nginx never reuses a connection uvicorn closed.
CMD ["sh", "-c", "exec uvicorn \"${SERVICE}.main:create_app\" --factory --host 0.0.0.0 --port \"${PORT}\" --no-access-log --timeout-keep-alive 75 --timeout-graceful-shutdown 20"]
