# Mirrors the README's server install ("Keep it running"): `pip install .` of the checkout into
# Python 3.11, then `qatysu run`. The base image is pinned by version and digest: bump both together.
# compose.yaml builds it for `qatysu migrate` and the `qatysu run --webhook` workers on PostgreSQL.
FROM python:3.11.14-slim-bookworm@sha256:65a93d69fa75478d554f4ad27c85c1e69fa184956261b4301ebaf6dbb0a3543d

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 QATYSU_DB=/data/qatysu.db QATYSU_HTTP_HOST=0.0.0.0
WORKDIR /src
COPY pyproject.toml setup.py MANIFEST.in README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
RUN pip install --no-cache-dir . \
    && cd / && rm -rf /src \
    && useradd --create-home --uid 10001 qatysu \
    && mkdir -p /data && chown qatysu /data
USER qatysu
WORKDIR /data
VOLUME ["/data"]
# the HTTP server's port (QATYSU_HTTP_PORT: both webhooks and /health; inside the container it
# listens on 0.0.0.0, above); Telegram alone by long polling needs no port
EXPOSE 8080
# a webhook or WhatsApp: the HTTP server answers; long polling: <QATYSU_DB>.heartbeat is under 90 s old
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["qatysu", "health"]
# `docker stop`: SIGTERM, on which `qatysu run` stops cleanly within 8 s, before Docker's SIGKILL at 10 s
STOPSIGNAL SIGTERM
CMD ["qatysu", "run"]
