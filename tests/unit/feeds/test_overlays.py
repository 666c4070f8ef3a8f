"""Environment overlays: a feed proven in test is the same contract in production; only where
and when it is delivered may differ."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from streamvane.feeds.loader import ProfileError, load_profiles_dir
from streamvane.feeds.overlay import contract_fingerprint
from streamvane.settings import Settings

EXAMPLES = Path(__file__).parents[3] / "profiles"


def test_each_environment_changes_the_endpoint_and_keeps_the_contract() -> None:
    dev, prod = ({p.id: p for p in load_profiles_dir(EXAMPLES, env)} for env in ("dev", "prod"))
    wfm_dev, wfm_prod = dev["genesys-wfm-historical"], prod["genesys-wfm-historical"]
    assert wfm_dev.endpoint is not None and wfm_prod.endpoint is not None
    assert wfm_dev.endpoint.url.startswith("http://127.0.0.1:8787/") and wfm_dev.endpoint.allow_insecure_http
    assert wfm_prod.endpoint.url.startswith("https://wfm.example.com/")
    assert wfm_prod.delivery_deadline_ms == 900_000
    for profile_id in dev:
        a, b = dev[profile_id].model_dump(mode="json"), prod[profile_id].model_dump(mode="json")
        assert contract_fingerprint(a) == contract_fingerprint(b)
        assert a["fields"] == b["fields"] and a["dimensions"] == b["dimensions"]


def test_an_overlay_replaces_a_credential_whole(tmp_path: Path) -> None:
    shutil.copytree(EXAMPLES, tmp_path / "profiles")
    prod = {p.id: p for p in load_profiles_dir(tmp_path / "profiles", "prod")}
    endpoint = prod["calabrio-queue-stats"].endpoint
    assert endpoint is not None
    password = endpoint.auth.password  # type: ignore[union-attr]
    assert (password.env, str(password.file)) == (None, "/etc/streamvane/secrets/calabrio/password")


def test_an_overlay_reaching_into_the_contract_or_naming_no_profile_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, directory)
    (directory / "env" / "prod" / "legacy-xml.yaml").write_text(
        "id: legacy-xml\ncadence: PT15M\nfields: []\n"
    )
    with pytest.raises(ProfileError, match="cadence, fields belong to the contract"):
        load_profiles_dir(directory, "prod")
    (directory / "env" / "prod" / "legacy-xml.yaml").write_text("id: legacy-xml\ngrace_ms: 60000\n")
    (directory / "env" / "prod" / "ghost.yaml").write_text("id: ghost\ngrace_ms: 60000\n")
    with pytest.raises(ProfileError, match="no profile 'ghost'"):
        load_profiles_dir(directory, "prod")
    with pytest.raises(ProfileError, match="not a directory"):
        load_profiles_dir(directory, "staging")


def test_the_settings_load_one_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STREAMVANE_PROFILES_DIR", str(EXAMPLES))
    monkeypatch.setenv("STREAMVANE_PROFILES_ENV", "test")
    settings = Settings()
    endpoint = settings.profile("legacy-xml").endpoint
    assert endpoint is not None and endpoint.url == "https://scheduler-test.example.com/legacy/queue-stats"


def test_the_cli_shows_the_effective_profile_and_the_difference_between_environments() -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "streamvane", "profiles", *args], capture_output=True, text=True
        )

    shown = cli("validate", str(EXAMPLES), "--env", "prod", "--skip-files")
    assert shown.returncode == 0, shown.stderr
    assert "--- # legacy-xml, effective in prod" in shown.stdout
    assert "url: https://scheduler.example.com/legacy/queue-stats" in shown.stdout
    diff = cli("diff", str(EXAMPLES), "--from", "test", "--to", "prod")
    assert diff.returncode == 0, diff.stderr
    assert diff.stdout.count("same contract") == 3
    assert "  grace_ms: 960000 -> 1200000" in diff.stdout
    assert "fields" not in diff.stdout and "dimensions" not in diff.stdout


def test_an_overlay_may_change_how_often_provisional_updates_come(tmp_path: Path) -> None:
    """How often an open interval is pushed is a schedule, like the grace: a dev environment may
    push every minute, and the contract stays the same."""
    directory = tmp_path / "profiles"
    shutil.copytree(EXAMPLES, directory)
    (directory / "env" / "dev" / "calabrio-queue-stats.yaml").write_text(
        "id: calabrio-queue-stats\nprovisional: {every_ms: 60000}\n"
    )
    dev, prod = ({p.id: p for p in load_profiles_dir(directory, env)} for env in ("dev", "prod"))
    assert dev["calabrio-queue-stats"].provisional_every_ms == 60_000
    assert prod["calabrio-queue-stats"].provisional_every_ms == 300_000
    a, b = (env["calabrio-queue-stats"].model_dump(mode="json") for env in (dev, prod))
    assert contract_fingerprint(a) == contract_fingerprint(b)
