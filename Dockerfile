# Production image: waitress serving the Flask app; set APPOINTMENTS_DATABASE_URL for PostgreSQL.
# The base image is pinned by digest (refresh: `docker buildx imagetools inspect python:3.11-slim-bookworm`);
# the dependencies come from requirements.lock, hash-checked (`make lock` regenerates it from setup.cfg).
# This image cannot be built on the development machines (no Docker engine there); see README, "Deployment".
FROM python:3.11-slim-bookworm@sha256:2e32f7d302adc1c37428355c1e646897c0c53f4fd60b6a551245fb90ee129f91

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    APPOINTMENTS_HOST=0.0.0.0 \
    APPOINTMENTS_PORT=8080 \
    APPOINTMENTS_DATA_DIR=/var/lib/appointments \
    APPOINTMENTS_LOG_FORMAT=json

WORKDIR /app
COPY requirements.lock ./
RUN pip install --no-cache-dir --require-hashes --no-deps -r requirements.lock
COPY setup.cfg pyproject.toml README.md ./
COPY caldav_bridge ./caldav_bridge
COPY storage_plugin ./storage_plugin
COPY feeds ./feeds
COPY config ./config
COPY sf_emulator ./sf_emulator
RUN pip install --no-cache-dir --no-deps . \
 && useradd --system --uid 10001 --home-dir /var/lib/appointments --create-home appointments

# The data directory (SQLite database, feed fetch log, mail files of the demo): keep it on a volume.
VOLUME ["/var/lib/appointments"]
USER appointments
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('APPOINTMENTS_PORT','8080'), timeout=4)" || exit 1
CMD ["appointment-service", "serve"]
