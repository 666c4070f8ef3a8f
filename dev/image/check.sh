#!/usr/bin/env bash
# `make image-check`: what the Dockerfile does, without Docker (no daemon and no registry here):
# a fresh venv installs exactly requirements/runtime.lock (hashes required, build tools included),
# then the package without resolving anything, and every command must import and start. Also
# checks the Dockerfile keeps its promises: base pinned by digest, non-root, a HEALTHCHECK.
set -euo pipefail
cd "$(dirname "$0")/../.."
python="${PYTHON:-python3.11}"

grep -Eq '^ARG PYTHON_IMAGE=python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}$' Dockerfile \
  || { echo "image-check: the base image is not pinned by digest" >&2; exit 1; }
grep -Eq '^USER \$\{UID\}' Dockerfile || { echo "image-check: the image must run as the app user" >&2; exit 1; }
grep -q '^HEALTHCHECK ' Dockerfile || { echo "image-check: no HEALTHCHECK" >&2; exit 1; }
grep -q 'install -d -o ${UID} -g ${UID} -m 0750 /var/lib/streamvane' Dockerfile \
  || { echo "image-check: /var/lib/streamvane must belong to the app user" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$python" -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --require-hashes -r requirements/runtime.lock
"$work/venv/bin/pip" install --quiet --no-deps --no-build-isolation .
"$work/venv/bin/pip" check
for command in worker dispatch receiver serve simulate replay dlq reconcile profiles; do
  "$work/venv/bin/streamvane" "$command" --help >/dev/null || { echo "image-check: streamvane $command fails" >&2; exit 1; }
done
"$work/venv/bin/python" - <<'PY'
import importlib, pkgutil, streamvane
for module in pkgutil.walk_packages(streamvane.__path__, "streamvane."):
    if not module.name.endswith(".__main__"):
        importlib.import_module(module.name)
PY
echo "image-check: runtime.lock installs alone (hashes verified); every module imports with runtime dependencies only"
