"""A managed Kafka demands TLS and SASL: the worker, the dispatcher and the tools reach the broker
only through its SASL_SSL listener (SCRAM-SHA-512 over TLS, the dev CA), and compute and deliver
exactly what they do in plaintext. Refused credentials or an untrusted broker fail at once, with
the reason, and without the secret."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from streamvane.kpi.intervals import Granularity, IntervalGrid, format_instant
from streamvane.records.feed_record import FeedRecord
from streamvane.simulator.contact_center import queue_directory, simulate
from streamvane.simulator.events import delivery
from streamvane.simulator.spec import SimulationSpec
from tests.support import kafka
from tests.support.dispatcher import DispatchRun
from tests.support.expectations import record_cells
from tests.support.http_servers import JwtTokenServer, ScriptedEndpoint, ok
from tests.support.worker import WorkerRun

pytestmark = pytest.mark.integration

SPEC = SimulationSpec(agents=12, hours=1.0, seed=31, reorder_ms=30_000, duplicate_rate=0.03)
TICK_MS = SPEC.end_ms + 2 * 3_600_000
DIMENSIONS = [{"queue_id": qid, "media_type": q.media_type} for qid, q in queue_directory(SPEC).items()]


@pytest.fixture(scope="module")
def secure(kafka_bootstrap: str) -> kafka.SecureListener:
    return kafka.secure_listener()


@pytest.fixture
def endpoint() -> Iterator[ScriptedEndpoint]:
    server = ScriptedEndpoint(ok).start()
    yield server
    server.close()


def profiles(url: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "wfm-utc-15",
            "version": 1,
            "cadence": "PT15M",
            "time_zone": "UTC",
            "dimensions": DIMENSIONS,
            "correction_horizon_ms": 3 * 3_600_000,
            "endpoint": {
                "url": url + "/feeds/{profile}/{interval_start}",
                "timeout_ms": 2000,
                "allow_insecure_http": True,
            },
        }
    ]


def covered(records: list[FeedRecord]) -> bool:
    grid = IntervalGrid(Granularity.PT15M, "UTC")
    last = grid.start_of(TICK_MS - 60_000 - 16 * 60_000) - grid.length_ms
    return any(r.interval_start_ms >= last for r in records)


def compute_hour(run: WorkerRun, lines: list[bytes]) -> dict[int, Any]:
    run.start()
    run.produce_events(lines)
    run.wait_ingested()
    run.close_backfill(TICK_MS)
    records = run.read_records(covered)
    return {r.interval_start_ms: record_cells(r) for r in records}


def test_a_simulated_hour_over_sasl_ssl_scram_equals_the_plaintext_run_and_is_delivered(
    kafka_bootstrap: str, secure: kafka.SecureListener, endpoint: ScriptedEndpoint, tmp_path: Path
) -> None:
    lines = [line for _, line in delivery(SPEC, simulate(SPEC))]
    feed_start = format_instant(SPEC.start_ms - 3_600_000)
    computed: dict[str, dict[int, Any]] = {}
    for mode in ("plaintext", "sasl_ssl"):
        (tmp_path / mode).mkdir()
        run = WorkerRun(kafka_bootstrap, tmp_path / mode, profiles(endpoint.url), feed_start=feed_start)
        if mode == "sasl_ssl":
            run.env.update(secure.env())  # the worker and close-backfill see only the SASL_SSL listener
        try:
            computed[mode] = compute_hour(run, lines)
            if mode == "plaintext":
                continue
            assert f"worker: Kafka SASL_SSL/SCRAM-SHA-512 {secure.bootstrap}" in run.log.read_text()
            ingest = kafka.described_lag(secure.bootstrap, f"{run.app_id}-ingest", secure.client_properties)
            assert ingest == {(run.topics["events"], p): 0 for p in range(run.partitions)}, ingest
            dispatch = DispatchRun(kafka_bootstrap, tmp_path, profiles(endpoint.url))
            dispatch.env.update(secure.env())
            dispatch.env["STREAMVANE_TOPICS__FEED_RECORDS"] = run.topics["feed_records"]
            dispatch.start()
            try:
                outcomes = dispatch.wait_outcomes(len(computed[mode]), timeout=120)
                assert {o["result"] for o in outcomes} == {"delivered"}
                delivered = {r.path for r in endpoint.received if r.status == 200}
                assert len(delivered) == len(computed[mode])
                group = dispatch.env["STREAMVANE_DISPATCHER__GROUP_ID"]
                deadline = time.monotonic() + 30
                while (lag := kafka.described_lag(secure.bootstrap, group, secure.client_properties)) != {
                    (run.topics["feed_records"], 0): 0
                } and time.monotonic() < deadline:
                    time.sleep(1)
                assert lag == {(run.topics["feed_records"], 0): 0}, lag
            finally:
                dispatch.cleanup()
        finally:
            run.cleanup()
    assert computed["sasl_ssl"] == computed["plaintext"]
    assert any(computed["plaintext"].values()), "the hour had traffic"


def streamvane(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "streamvane", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize("command", [["worker"], ["dispatch"], ["dlq", "list"]])
def test_a_wrong_password_fails_within_10_seconds_naming_the_reason_not_the_password(
    secure: kafka.SecureListener, tmp_path: Path, command: list[str]
) -> None:
    wrong = "not-the-password-7c1e9b"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(secure.env(password_env="SV_KAFKA_PASSWORD"), SV_KAFKA_PASSWORD=wrong)
    env["STREAMVANE_DATA_DIR"] = str(tmp_path)
    started = time.monotonic()
    done = streamvane(env, *command, timeout=30)
    took = time.monotonic() - started
    assert done.returncode == 2, done.stderr
    assert took < 10, took
    assert "refused the connection" in done.stderr and "SASL authentication" in done.stderr, done.stderr
    assert "invalid credentials" in done.stderr
    assert wrong not in done.stderr + done.stdout


def test_a_broker_certificate_from_an_unknown_ca_is_refused_at_start(
    secure: kafka.SecureListener, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(secure.env())
    del env["STREAMVANE_KAFKA__SECURITY__CA_FILE"]  # the system trust store does not know the dev CA
    done = streamvane(env, "dlq", "list", timeout=30)
    assert done.returncode == 2
    assert "certificate verify failed" in done.stderr, done.stderr


def test_a_missing_ca_file_is_named_before_anything_connects(
    secure: kafka.SecureListener, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(secure.env(), STREAMVANE_KAFKA__SECURITY__CA_FILE=str(tmp_path / "missing-ca.pem"))
    done = streamvane(env, "worker", timeout=30)
    assert done.returncode == 2
    assert f"kafka.security.ca_file: {tmp_path / 'missing-ca.pem'} does not exist" in done.stderr, done.stderr


def test_oauthbearer_tokens_from_an_oidc_endpoint_serve_faust_and_confluent_kafka_alike(
    kafka_bootstrap: str, secure: kafka.SecureListener, tmp_path: Path
) -> None:
    """OAUTHBEARER: librdkafka fetches its own token (``sasl.oauthbearer.method=oidc``), Faust's
    aiokafka clients get theirs from our provider; both with the client-credentials grant."""
    tokens = JwtTokenServer("oidc-secret-41d2", client_id="streamvane")
    run = uuid.uuid4().hex[:12]
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMVANE_")}
    env.update(
        STREAMVANE_KAFKA__BOOTSTRAP_SERVERS=secure.bootstrap,
        STREAMVANE_KAFKA__SECURITY__PROTOCOL="SASL_SSL",
        STREAMVANE_KAFKA__SECURITY__SASL_MECHANISM="OAUTHBEARER",
        STREAMVANE_KAFKA__SECURITY__CA_FILE=str(secure.ca_file),
        STREAMVANE_KAFKA__SECURITY__OAUTH__TYPE="oauth2",
        STREAMVANE_KAFKA__SECURITY__OAUTH__TOKEN_URL=tokens.url + "/token",
        STREAMVANE_KAFKA__SECURITY__OAUTH__CLIENT_ID="streamvane",
        STREAMVANE_KAFKA__SECURITY__OAUTH__CLIENT_SECRET__ENV="SV_OIDC_SECRET",
        SV_OIDC_SECRET="oidc-secret-41d2",
        STREAMVANE_WORKER__APP_ID=f"sv-oauth-{run}",
        STREAMVANE_DATA_DIR=str(tmp_path / "state"),
        **{f"STREAMVANE_TOPICS__{t.upper()}": f"test.{t}.oauth-{run}" for t in TOPICS},
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        listed = streamvane(env, "dlq", "list", timeout=60)
        assert listed.returncode == 0 and "dlq: 0 entries" in listed.stderr, listed.stderr
        assert tokens.requests >= 1, "librdkafka asked the token endpoint"
        log = tmp_path / "worker.log"
        with log.open("wb") as out:
            worker = subprocess.Popen(
                [sys.executable, "-m", "streamvane", "worker"], env=env, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 90
        while "[^Worker]: Ready" not in log.read_text() and time.monotonic() < deadline:
            assert worker.poll() is None, log.read_text()[-3000:]
            time.sleep(0.5)
        text = log.read_text()
        assert "[^Worker]: Ready" in text, text[-3000:]
        assert "Authenticated via OAUTHBEARER" in text, "Faust's aiokafka clients authenticated"
        assert "oidc-secret-41d2" not in text
        env["SV_OIDC_SECRET"] = "a-wrong-client-secret"
        refused = streamvane(env, "dlq", "list", timeout=60)
        assert refused.returncode == 2, refused.stderr
        assert "refused the connection: Failed to acquire SASL OAUTHBEARER token" in refused.stderr
        assert "a-wrong-client-secret" not in refused.stderr + refused.stdout
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait(timeout=60)
        tokens.close()
        app = env["STREAMVANE_WORKER__APP_ID"]
        internal = [f"{app}-{t}-changelog" for t in ("correlation-state", "assembly-state")]
        kafka.delete_topics(
            kafka_bootstrap,
            [env[f"STREAMVANE_TOPICS__{t.upper()}"] for t in TOPICS]
            + internal
            + [f"{app}-__assignor-__leader"],
        )


TOPICS = ("events", "keyed", "quarantine", "partials", "feed_records", "dead_letter", "dead_letter_state")
