"""``streamvane profiles validate`` finds the faults real deliveries would hit: each case is a
profile file with one fault, and the report names the file and the fault."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from streamvane.cli import main

EXAMPLES = Path(__file__).resolve().parents[3] / "profiles"


def legacy(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((EXAMPLES / "legacy-xml.yaml").read_text())
    doc.update(changes)
    return doc


def validate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], doc: dict[str, object]
) -> tuple[int, str, Path]:
    path = tmp_path / "feed.yaml"
    path.write_text(yaml.safe_dump(doc))
    code = main(["profiles", "validate", str(tmp_path)])
    return code, capsys.readouterr().err, path


def test_the_shipped_examples_pass(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["profiles", "validate", str(EXAMPLES)]) == 0
    assert capsys.readouterr().out.count("ok ") == 3


def test_more_decimals_than_the_xsd_allows_fail_on_a_busy_sample_once_per_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = legacy()
    doc["fields"] = [f if f["name"] != "SL" else {**f, "decimals": 3} for f in doc["fields"]]
    code, err, path = validate(tmp_path, capsys, doc)
    assert code == 1
    [line] = [line for line in err.splitlines() if "SL" in line]
    assert line.startswith(f"invalid: {path}: payload: legacy_queue_stats.v1.xsd: Element 'SL': [facet")
    assert "The value '66.667' has more fractional digits than are allowed ('1')" in line
    assert "(3 times)" in line, "one line for the three rows, not three lines"


def test_missing_tls_files_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    endpoint = {
        **legacy()["endpoint"],
        "url": "https://127.0.0.1:8443/q",
        "tls": {"client_cert": "/nope/cert.pem", "ca_file": "/nope/ca.pem"},
    }
    code, err, path = validate(tmp_path, capsys, legacy(endpoint=endpoint))
    assert code == 1
    assert f"invalid: {path}: endpoint.tls.client_cert: /nope/cert.pem: no such file" in err
    assert f"invalid: {path}: endpoint.tls.ca_file: /nope/ca.pem: no such file" in err


def test_a_literal_credential_in_a_custom_header_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = {**legacy()["endpoint"], "headers": {"X-Api-Key": "abc123-literal", "X-Tenant": "t1"}}
    code, err, path = validate(tmp_path, capsys, legacy(endpoint=endpoint))
    assert code == 1
    assert f"{path}: endpoint.headers: Value error, headers ['X-Api-Key'] carry credentials" in err
    assert "abc123-literal" not in err
    endpoint["headers"] = {"X-Api-Key": {"env": "WFM_KEY"}, "X-Tenant": "t1"}
    assert validate(tmp_path, capsys, legacy(endpoint=endpoint))[0] == 0


def test_retrying_success_or_every_4xx_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err, _ = validate(tmp_path, capsys, legacy(retry={"retry_statuses": [200, "4xx"]}))
    assert code == 1 and "retry_statuses: 200 is not a failure" in err
    code, err, _ = validate(tmp_path, capsys, legacy(retry={"retry_statuses": ["4xx"]}))
    assert code == 1 and "'4xx' includes 400, 401, 402, 403" in err


def test_an_inline_password_says_how_to_reference_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    endpoint = {
        **legacy()["endpoint"],
        "auth": {"type": "basic", "username": "u", "password": "hunter2-inline"},
    }
    code, err, _ = validate(tmp_path, capsys, legacy(endpoint=endpoint))
    assert code == 1
    assert "inline secrets are refused: give a reference, {env: NAME}" in err and "{file: PATH}" in err
    assert "hunter2-inline" not in err
