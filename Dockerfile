# syntax=docker/dockerfile:1
# waternet: multi-stage image. Build: docker build -t waternet .
# Run: see deploy/compose.yaml (api, jobs, ingest and simulator services share this image;
# the jobs service serves its health on 8001 and overrides the HEALTHCHECK below).

FROM python:3.11-slim-bookworm AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
RUN apt-get update && apt-get install -y --no-install-recommends build-essential npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml README.md package.json package-lock.json ./
COPY src ./src
COPY simulators ./simulators
COPY alembic ./alembic
COPY alembic.ini ./
COPY sensors ./sensors
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip \
    && /opt/venv/bin/pip install .
# Leaflet for the dispatch map, from npm (never vendored in the repository)
RUN npm ci --omit=dev --no-audit --no-fund

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    WATERNET_STATE_DIR=/var/lib/waternet \
    WATERNET_HTTP_HOST=0.0.0.0 \
    WATERNET_SENSORS_DIR=/app/sensors \
    WATERNET_NODE_MODULES=/app/node_modules
RUN groupadd --system waternet && useradd --system --gid waternet --home /app waternet \
    && mkdir -p /var/lib/waternet && chown waternet:waternet /var/lib/waternet
COPY --from=build /opt/venv /opt/venv
COPY --from=build /src/node_modules /app/node_modules
COPY --from=build /src/sensors /app/sensors
COPY --from=build /src/alembic /app/alembic
WORKDIR /app
USER waternet
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"
CMD ["waternet", "serve"]
