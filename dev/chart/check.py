"""`make chart-check`: the Helm chart as a platform team's CI would check it, offline.

For the default values and ``ci/production-values.yaml``:
1. ``helm lint --strict`` (which also applies ``values.schema.json``);
2. ``helm template``, validated against the Kubernetes API schemas (``kubernetes-validate``,
   strict: unknown fields fail; the prometheus-operator CRDs have no bundled schema);
3. the rendered settings and profiles load into Streamvane's own settings model;
4. every pod runs non-root, read-only, without privilege escalation, with all capabilities
   dropped and seccomp RuntimeDefault;
5. no secret reaches a manifest: no Secret objects, every secret-looking environment variable
   comes from a secretKeyRef, and an inline secret in the values is refused by the schema.

Usage: python dev/chart/check.py HELM_BINARY
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import yaml

CHART = Path(__file__).resolve().parents[2] / "helm" / "streamvane"
VALUES = {"default": None, "production": CHART / "ci" / "production-values.yaml"}
SECRETISH = re.compile(r"(?i)(secret|password|passwd|token|credential|api_?key)")


def run(cmd: list[str], expect_ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if expect_ok and done.returncode != 0:
        raise SystemExit(f"chart-check: {' '.join(cmd)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def values_args(values: Path | None) -> list[str]:
    return ["-f", str(values)] if values else []


def pod_specs(docs: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    return [
        (f"{d['kind']}/{d['metadata']['name']}", d["spec"]["template"]["spec"])
        for d in docs
        if d.get("kind") in ("Deployment", "StatefulSet", "DaemonSet", "Job")
    ]


def check_security(docs: list[dict[str, Any]]) -> None:
    for name, spec in pod_specs(docs):
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True, f"{name}: runAsNonRoot"
        assert pod.get("fsGroup"), f"{name}: fsGroup (the state volume must be writable)"
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault", f"{name}: seccomp"
        assert spec.get("automountServiceAccountToken") is False, f"{name}: service account token"
        for container in spec["containers"]:
            ctx = container.get("securityContext", {})
            assert ctx.get("readOnlyRootFilesystem") is True, f"{name}: read-only root"
            assert ctx.get("allowPrivilegeEscalation") is False, f"{name}: privilege escalation"
            assert ctx.get("capabilities", {}).get("drop") == ["ALL"], f"{name}: capabilities"
            for probe in ("readinessProbe", "livenessProbe"):
                assert probe in container, f"{name}: {probe}"
            for mount in container.get("volumeMounts", []):
                if mount["mountPath"].startswith("/etc/streamvane"):
                    assert mount.get("readOnly") is True, f"{name}: {mount['mountPath']} read-only"


def check_no_secrets(docs: list[dict[str, Any]]) -> None:
    kinds = {d["kind"] for d in docs}
    assert "Secret" not in kinds, "the chart renders no Secret: it mounts existing ones"
    for name, spec in pod_specs(docs):
        for container in spec["containers"]:
            for env in container.get("env", []):
                if SECRETISH.search(env["name"]):
                    assert "value" not in env, f"{name}: {env['name']} has a literal value"


def check_settings_load(docs: list[dict[str, Any]]) -> str:
    from streamvane.settings import Settings

    maps = {d["metadata"]["name"].rsplit("-", 1)[-1]: d.get("data") or {} for d in docs if d["kind"] == "ConfigMap"}
    with tempfile.TemporaryDirectory() as tmp:
        settings_file = Path(tmp) / "settings.yaml"
        settings_file.write_text(maps["settings"]["settings.yaml"])
        profiles = Path(tmp) / "profiles"
        profiles.mkdir()
        for file, text in maps["profiles"].items():
            (profiles / file).write_text(text)
        saved = dict(os.environ)
        try:
            os.environ.clear()
            os.environ.update(STREAMVANE_SETTINGS_FILE=str(settings_file), STREAMVANE_PROFILES_DIR=str(profiles))
            settings = Settings()
        finally:
            os.environ.clear()
            os.environ.update(saved)
    return f"{settings.kafka.security.protocol}, {len(settings.profiles)} profiles"


def main(helm: str) -> int:
    for label, values in VALUES.items():
        run([helm, "lint", "--strict", str(CHART), *values_args(values)])
        rendered = run([helm, "template", "sv", str(CHART), *values_args(values)]).stdout
        with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as out:
            out.write(rendered)
        validated = run(["kubernetes-validate", "--strict", "--quiet", out.name], expect_ok=False)
        Path(out.name).unlink()
        if validated.returncode != 0:
            raise SystemExit(f"chart-check: {label}: Kubernetes schema validation failed:\n{validated.stdout}")
        docs = [d for d in yaml.safe_load_all(rendered) if d]
        check_security(docs)
        check_no_secrets(docs)
        loaded = check_settings_load(docs)
        kinds = sorted({d["kind"] for d in docs})
        print(f"chart-check: {label}: lint, {len(docs)} manifests valid ({', '.join(kinds)}); settings load ({loaded})")
    inline = run(
        [helm, "template", "sv", str(CHART), "-f", str(VALUES["production"]),
         "--set", "kafka.security.sasl_password=an-inline-password"],
        expect_ok=False,
    )
    assert inline.returncode != 0 and "sasl_password" in inline.stderr, inline.stderr
    assert "an-inline-password" not in inline.stdout
    print("chart-check: an inline Kafka password in the values is refused by the schema")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
