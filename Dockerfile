# syntax=docker/dockerfile:1
# One image for every Streamvane process (worker, dispatch, receiver, serve, tools); the command
# picks. Reproducible: the base is pinned by digest, every Python dependency (build tools
# included) comes from requirements/runtime.lock with its hashes, and nothing else is resolved.
# Bump the base deliberately: `docker buildx imagetools inspect python:3.11-slim-bookworm`.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm@sha256:a36c24f9cbdf4fd0f52d67f0823eeac19c2028c637cecc392d97f980d4fec56b

FROM ${PYTHON_IMAGE} AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY requirements/runtime.lock requirements/runtime.lock
RUN python -m venv /opt/streamvane \
 && /opt/streamvane/bin/pip install --require-hashes -r requirements/runtime.lock
COPY pyproject.toml README.md ./
COPY src ./src
RUN /opt/streamvane/bin/pip install --no-deps --no-build-isolation . \
 && /opt/streamvane/bin/pip uninstall -y pip setuptools wheel

FROM ${PYTHON_IMAGE}
ARG UID=10001
RUN groupadd --gid ${UID} streamvane \
 && useradd --uid ${UID} --gid ${UID} --no-create-home --shell /usr/sbin/nologin streamvane \
 && install -d -o ${UID} -g ${UID} -m 0750 /var/lib/streamvane
COPY --from=build /opt/streamvane /opt/streamvane
COPY profiles /app/profiles
ENV PATH=/opt/streamvane/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    STREAMVANE_DATA_DIR=/var/lib/streamvane
WORKDIR /var/lib/streamvane
USER ${UID}:${UID}
VOLUME ["/var/lib/streamvane"]
# Liveness of whichever process runs with a metrics port (worker: 9100, dispatcher: 9101 in the
# chart and compose); a process without one has nothing to probe and counts as healthy.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=4 \
  CMD ["python", "-c", "import os, sys, urllib.request; p = os.environ.get('STREAMVANE_HEALTH_PORT'); sys.exit(0) if not p else urllib.request.urlopen(f'http://127.0.0.1:{p}/healthz', timeout=4)"]
ENTRYPOINT ["streamvane"]
CMD ["--help"]
