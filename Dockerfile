# The Quantum Portal: one image for the serving replicas (`portal serve`) and for the job
# that builds and publishes the sites (`portal build --publish`). See
# docs/reference/deploying.md; deploy/kubernetes/ runs it.
#
#   docker build -t quantum-portal .
#   docker run -p 8000:8000 -e PORTAL_OIDC_ISSUER=... quantum-portal
#
# Without single sign-on (PORTAL_OIDC_ISSUER and the settings beside it) `portal serve`
# refuses to listen beyond loopback, so the container does not start: a production
# deployment needs PORTAL_OIDC_ISSUER.

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
# npm fetches Mermaid once (portal assets fetch), so the sites' diagrams load from the
# portal itself; it stays in this stage. (Unpinned: Debian's point releases replace
# the exact version, and only `npm pack` of a pinned Mermaid runs with it.)
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends npm \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# The package first: a change to docs/ or catalog/ does not reinstall the dependencies.
COPY pyproject.toml README.md ./
COPY portal ./portal
RUN python -m venv /opt/venv \
    && /opt/venv/bin/pip install ".[postgres,redis,azure-blob]"
COPY . .
RUN /opt/venv/bin/portal assets fetch --root /app

FROM python:3.11-slim
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PORTAL_ROOT=/app \
    PORTAL_DATA_DIR=/var/lib/portal \
    PORTAL_SITE_DIR=/var/lib/portal/site \
    PORTAL_LOG_FORMAT=json \
    PORTAL_HOST=0.0.0.0 \
    PORTAL_PORT=8000
RUN groupadd --system --gid 10001 portal \
    && useradd --system --uid 10001 --gid portal --home-dir /var/lib/portal --create-home \
        --shell /usr/sbin/nologin portal
COPY --from=build /opt/venv /opt/venv
# The repository (catalog, docs, mkdocs.yml, plugins) is read-only to the portal; only the
# build cache under .cache/ and the data folder are its own.
COPY --from=build /app /app
RUN mkdir -p /app/.cache && chown -R portal:portal /app/.cache
USER 10001:10001
WORKDIR /app
EXPOSE 8000
# PORTAL_HOST and PORTAL_PORT say where it listens. With PORTAL_SITE_STORE=azure the
# replicas serve the published builds and build nothing; with the local store, serve
# builds the sites into the data folder first.
CMD ["portal", "serve"]
