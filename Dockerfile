# Production image: waitress serving the Flask app; set APPOINTMENTS_DATABASE_URL for PostgreSQL.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    APPOINTMENTS_HOST=0.0.0.0 \
    APPOINTMENTS_PORT=8080 \
    APPOINTMENTS_DATA_DIR=/var/lib/appointments \
    APPOINTMENTS_LOG_FORMAT=json

WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY caldav_bridge ./caldav_bridge
COPY storage_plugin ./storage_plugin
COPY feeds ./feeds
COPY config ./config
RUN pip install --no-cache-dir '.[postgres]' \
 && useradd --system --uid 10001 --home-dir /var/lib/appointments --create-home appointments

USER appointments
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD python -c "import os,urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('APPOINTMENTS_PORT','8080'), timeout=4)" || exit 1
CMD ["appointment-service", "serve"]
