# Mirrors the README's install: pip install -e . and run `qatysu run`.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 QATYSU_DB=/data/qatysu.db
WORKDIR /app
COPY pyproject.toml README.md babel.cfg ./
COPY bot ./bot
COPY locales ./locales
RUN pip install --no-cache-dir -e . \
    && useradd --create-home --uid 10001 qatysu \
    && mkdir -p /data && chown qatysu /data
USER qatysu
VOLUME ["/data"]
EXPOSE 8080
CMD ["qatysu", "run"]
