"""`make compose-check`: docker-compose.yml as `docker compose` would read it, offline.

compose-go (the library docker compose uses; built from dev/compose/config) validates the file
against the compose specification and resolves interpolation, extension fields and merge keys.
On the resolved project this checks what a stack needs to come up on its own:
1. every long-running service has a healthcheck, and waits for its dependencies to be healthy;
2. state lives on named volumes; profiles are mounted read-only;
3. services reach each other by service name (nothing binds or points at 127.0.0.1);
4. each Streamvane service's settings (its environment, its mounted profiles) load, and every
   secret its profiles reference is in its environment.

Usage: python dev/compose/check.py COMPOSE_CONFIG_BINARY
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

REPO = Path(__file__).resolve().parents[2]
ONE_SHOT = {"simulator"}
PLACEHOLDER = "compose-check-placeholder"


def resolved(binary: str) -> dict[str, Any]:
    env = {**os.environ, "STREAMVANE_DEMO_BASIC_PASSWORD": PLACEHOLDER}
    done = subprocess.run(
        [binary, str(REPO / "docker-compose.yml")], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"compose-check: compose-go refused docker-compose.yml:\n{done.stderr}")
    project: dict[str, Any] = json.loads(done.stdout)
    return project


def check_service(name: str, service: dict[str, Any], names: set[str], volumes: set[str]) -> str:
    health = service.get("healthcheck") or {}
    if name not in ONE_SHOT:
        assert health.get("test") and not health.get("disable"), f"{name}: no healthcheck"
    for dependency, how in (service.get("depends_on") or {}).items():
        assert dependency in names, f"{name}: depends on unknown {dependency}"
        assert how.get("condition") == "service_healthy", f"{name}: starts before {dependency} is healthy"
    command = " ".join(service.get("command") or [])
    assert "127.0.0.1" not in command and "localhost" not in command, f"{name}: binds loopback: {command}"
    for mount in service.get("volumes") or []:
        if mount["type"] == "volume":
            assert mount["source"] in volumes, f"{name}: volume {mount['source']} is not declared"
        elif mount["target"].startswith("/etc/streamvane"):
            assert mount.get("read_only"), f"{name}: {mount['target']} must be read-only"
    if "build" not in service:
        return "external image"
    return check_settings(name, service, names)


def check_settings(name: str, service: dict[str, Any], names: set[str]) -> str:
    from streamvane.settings import Settings

    env = {k: v for k, v in (service.get("environment") or {}).items() if v is not None}
    mounts = {m["target"]: m["source"] for m in service.get("volumes") or [] if m["type"] == "bind"}
    profiles_dir = env.get("STREAMVANE_PROFILES_DIR")
    if profiles_dir:
        assert profiles_dir in mounts, f"{name}: {profiles_dir} is not mounted"
        env["STREAMVANE_PROFILES_DIR"] = mounts[profiles_dir]
    saved = dict(os.environ)
    try:
        os.environ.clear()
        os.environ.update(env)
        settings = Settings()
        for profile in settings.profiles:
            host = urlparse(profile.endpoint.url).hostname
            assert host in names, f"{name}: profile {profile.id} delivers to {host}, not a service"
            auth = profile.endpoint.auth
            for ref in (getattr(auth, "password", None), getattr(auth, "token", None)):
                if ref is not None and ref.env:
                    assert ref.env in env, f"{name}: profile {profile.id} needs {ref.env}"
    finally:
        os.environ.clear()
        os.environ.update(saved)
    broker = settings.kafka.bootstrap_servers.split(":")[0]
    assert broker in names, f"{name}: Kafka at {broker}, not a service"
    return f"settings load, {len(settings.profiles)} profiles, Kafka {settings.kafka.bootstrap_servers}"


def main(binary: str) -> int:
    project = resolved(binary)
    services: dict[str, Any] = project["services"]
    names, volumes = set(services), set(project.get("volumes") or {})
    for name in sorted(services):
        print(f"compose-check: {name}: {check_service(name, services[name], names, volumes)}")
    assert PLACEHOLDER not in (REPO / "docker-compose.yml").read_text()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
