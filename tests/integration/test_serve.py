"""``streamvane serve`` on the real broker: the read API returns byte for byte the numbers the
endpoint received, answers 304 to an unchanged range and 401 to a wrong token; the status page,
opened in a real headless Chromium, shows delivered and dead-lettered intervals as such; the
probes tell when the view is ready."""

from __future__ import annotations

import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import orjson
from selenium.webdriver.common.by import By

from streamvane.commands.processes import free_port
from tests.support.browser import headless_chromium
from tests.support.dispatcher import DispatchRun, profile, records
from tests.support.http_servers import ScriptedEndpoint, ok

TOKEN = "read-api-token-6d1e0c"


def get(url: str, token: str | None = TOKEN, etag: str | None = None) -> tuple[int, bytes, dict[str, str]]:
    request = urllib.request.Request(url)  # noqa: S310 (http on 127.0.0.1)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if etag is not None:
        request.add_header("If-None-Match", etag)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:  # noqa: S310
            return resp.status, resp.read(), dict(resp.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


def wait_ready(base: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> list[int]:
    seen: list[int] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "serve exited"
        try:
            status = get(base + "/readyz", None)[0]
        except OSError:
            time.sleep(0.1)
            continue
        seen.append(status)
        if status == 200:
            return seen
        time.sleep(0.1)
    raise AssertionError(f"never ready: {seen}")


def test_the_read_api_and_status_page_show_exactly_what_the_endpoint_received(
    kafka_bootstrap: str, tmp_path: Path
) -> None:
    wfm = ScriptedEndpoint(ok).start()
    refusing = ScriptedEndpoint(lambda i: ("status", (400, {}))).start()
    port = free_port()
    run = DispatchRun(
        kafka_bootstrap,
        tmp_path,
        [profile("wfm", wfm.url), profile("refusing", refusing.url)],
        secrets={"SV_READ_TOKEN": TOKEN},
        settings={"serve": {"port": port, "token": {"env": "SV_READ_TOKEN"}}},
    )
    base = f"http://127.0.0.1:{port}"
    serve: subprocess.Popen[bytes] | None = None
    try:
        run.produce([*records("wfm", 3), *records("refusing", 1)])
        run.start()
        run.wait_outcomes(4)
        serve = subprocess.Popen(
            [sys.executable, "-m", "streamvane", "serve"],
            env=run.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        wait_ready(base, serve)

        window = "profile=wfm&from=2026-11-02T08:00:00Z&to=2026-11-02T09:00:00Z"
        assert get(f"{base}/api/v1/intervals?{window}", None)[0] == 401
        assert get(f"{base}/api/v1/intervals?{window}", "wrong-token")[0] == 401
        status, body, headers = get(f"{base}/api/v1/intervals?{window}")
        assert status == 200
        items: list[dict[str, Any]] = orjson.loads(body)["items"]
        received = [r.body for r in wfm.received]
        assert [orjson.dumps(item["document"]) for item in items] == received, (
            "byte for byte what the WFM got"
        )
        assert [item["state"] for item in items] == ["delivered-late"] * 3, (
            "intervals of 2026-11-02, delivered today"
        )
        assert get(f"{base}/api/v1/intervals?{window}", etag=headers["ETag"])[0] == 304
        first, second = (
            orjson.loads(get(f"{base}/api/v1/intervals?{window}&limit=2{extra}")[1]) for extra in ("", "")
        )
        assert first == second and len(first["items"]) == 2 and first["next"] is not None
        rest = orjson.loads(get(f"{base}/api/v1/intervals?{window}&limit=2&after={first['next']}")[1])
        assert [i["intervalStart"] for i in first["items"] + rest["items"]] == [
            i["intervalStart"] for i in items
        ]

        aggregates = orjson.loads(get(f"{base}/api/v1/aggregates?{window}")[1])
        offered = [
            m["stats"]["count"]
            for r in aggregates["results"]
            for d in r["data"]
            for m in d["metrics"]
            if m["metric"] == "nOffered"
        ]
        assert offered == [orjson.loads(b)["rows"][0]["offered"] for b in received]
        assert "/api/v1/intervals" in orjson.loads(get(f"{base}/api/v1/openapi.json")[1])["paths"]

        page = get(f"{base}/status", None)[1].decode()
        assert (
            page.count('class="cell s-delivered-late"') == 3
            and page.count('class="cell s-dead-lettered"') == 1
        )
        assert "<script" not in page and 'http-equiv="refresh"' in page
        cell = get(
            f"{base}/status/cell?profile=refusing&start={records('refusing', 1)[0].interval_start_ms}", None
        )[1]
        assert records("refusing", 1)[0].idempotency_key.encode() in cell and b"rejected" in cell

        with headless_chromium() as browser:
            browser.get(f"{base}/status")
            shown = [c.get_attribute("title") for c in browser.find_elements(By.CSS_SELECTOR, "td.cell")]
            assert sorted(shown) == ["dead-lettered", "delivered-late", "delivered-late", "delivered-late"]
            browser.save_screenshot(str(tmp_path / "status.png"))
            assert (tmp_path / "status.png").stat().st_size > 10_000
            browser.find_element(By.CSS_SELECTOR, "td.s-dead-lettered a").click()
            assert records("refusing", 1)[0].idempotency_key in browser.page_source
    finally:
        if serve is not None:
            serve.terminate()
            serve.wait(10)
        wfm.close()
        refusing.close()
        run.cleanup()
