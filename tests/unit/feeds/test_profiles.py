"""Profile files: the shipped examples are valid; problems name the file, the field and the problem;
secrets are only ever references."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamvane.feeds.loader import ProfileError, load_profile, load_profiles_dir
from streamvane.feeds.secrets import SecretRef, SecretUnavailableError

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles"


def test_shipped_examples_load() -> None:
    profiles = {p.id: p for p in load_profiles_dir(EXAMPLES)}
    assert set(profiles) == {"genesys-wfm-historical", "calabrio-queue-stats", "legacy-xml"}
    assert profiles["genesys-wfm-historical"].grid().length_ms == 15 * 60_000
    assert profiles["legacy-xml"].payload.xsd == "legacy_queue_stats.v1.xsd"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "feed.yaml"
    path.write_text(text)
    return path


def test_problems_name_file_field_and_problem(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id: feed\nversion: 1\ncadence: PT20M\n"
        "endpoint: {url: 'https://127.0.0.1/x/{queue}', auth: {type: bearer, token: {env: T}}}\n",
    )
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert f"{path}: cadence:" in str(err.value)
    assert f"{path}: endpoint.url: Value error, unknown placeholder(s) ['queue']" in str(err.value)


def test_inline_secret_is_refused_without_echoing_it(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "id: feed\nversion: 1\n"
        "endpoint: {url: 'https://127.0.0.1/x', auth: {type: basic, username: u, password: hunter2}}\n",
    )
    with pytest.raises(ProfileError) as err:
        load_profile(path)
    assert "endpoint.auth.basic.password" in str(err.value)
    assert "hunter2" not in str(err.value)


def test_yaml_errors_give_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, "id: feed\nversion: [1\n")
    with pytest.raises(ProfileError, match=r"feed.yaml: line 3 not valid YAML"):
        load_profile(path)


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("id: feed\nversion: 1\n")
    (tmp_path / "b.yaml").write_text("id: feed\nversion: 2\n")
    with pytest.raises(ProfileError, match=r"b.yaml: id: 'feed' is already used by .*a.yaml"):
        load_profiles_dir(tmp_path)


def test_secret_refs_resolve_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SV_TEST_TOKEN", "s3cr3t-value")
    secret = SecretRef(env="SV_TEST_TOKEN").resolve()
    assert secret.reveal() == "s3cr3t-value"
    assert "s3cr3t" not in repr(secret) and "s3cr3t" not in f"{secret}"
    (tmp_path / "pw").write_text("from-file\n")
    assert SecretRef(file=tmp_path / "pw").resolve().reveal() == "from-file"
    with pytest.raises(SecretUnavailableError, match="env:SV_MISSING: not set"):
        SecretRef(env="SV_MISSING").resolve()


@pytest.mark.parametrize(
    ("endpoint", "refused"),
    [
        ("{url: 'http://wfm.example.com/x'}", "url: plain http:// is refused"),
        (
            "{url: 'https://wfm.example.com/x', auth: {type: oauth2, "
            "token_url: 'http://login.example.com/t', client_id: c, client_secret: {env: S}}}",
            "auth.token_url: plain http:// is refused",
        ),
        ("{url: 'https://wfm.example.com/x', tls: {min_version: '1.1'}}", "min_version"),
    ],
)
def test_plain_http_and_old_tls_are_refused_unless_the_profile_says_so(
    tmp_path: Path, endpoint: str, refused: str
) -> None:
    path = write(tmp_path, f"id: feed\nversion: 1\nendpoint: {endpoint}\n")
    with pytest.raises(ProfileError, match=refused):
        load_profile(path)
    local = "{url: 'http://127.0.0.1/x', allow_insecure_http: true}"
    allowed = write(tmp_path, f"id: feed\nversion: 1\nendpoint: {local}\n")
    assert load_profile(allowed).endpoint is not None
