"""A page from another origin, in a real headless Chromium, can neither read the status nor
press a key through the local API.

The attack page is served on another port of 127.0.0.1 (another origin, the same
machine: what any web page the user opens can reach). It tries everything a page
can do without the user's help: fetch and XHR reads, an EventSource, a no-cors read,
a JSON POST (which needs a preflight), no-cors and form POSTs with a JSON-looking
body, an ``<img>`` on the event stream. It writes what it got into its DOM, read
back with ``--dump-dom``. The same page from an origin listed in ``allow_origins``
does read the status: proof the page would show a leak.

Chromium comes from Debian's package (``apt-get install chromium``); CI installs it
(.ci/run), elsewhere the test is skipped when it is missing.
"""

from __future__ import annotations

import asyncio
import html
import json
import os
import re
import shutil
import socket
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.api_rig import ApiRig, api_rig
from tests.frames import make_session, make_source

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
IN_CI = os.environ.get("CI") == "true"

pytestmark = pytest.mark.skipif(
    CHROMIUM is None and not IN_CI,
    reason="Chromium is not installed (Debian: apt-get install chromium); CI installs it",
)

SECRET = "Refactor-the-payroll-secret-7f3a"

PAGE = """<!doctype html>
<html><body><pre id="out">pending</pre>
<iframe name="sink" id="sink"></iframe>
<form id="form" target="sink" method="POST" enctype="text/plain" action="__API_URL__/v1/input">
<input name='{"target":"global","x":"' value='"}'></form>
<script>
const API = "__API_URL__";
const results = {};
async function attempt(name, fn) {
  try { results[name] = await fn(); } catch (e) { results[name] = "error:" + e.name; }
}
function text(r) { return r.text().then(t => "read:" + r.status + ":" + t.slice(0, 400)); }
(async () => {
  await attempt("fetch", () => fetch(API + "/v1/status").then(text));
  await attempt("fetch_health", () => fetch(API + "/v1/health").then(text));
  await attempt("fetch_nocors", () => fetch(API + "/v1/status", {mode: "no-cors"})
    .then(r => r.text().then(t => "opaque:" + r.type + ":" + t.length)));
  await attempt("xhr", () => new Promise(done => {
    const x = new XMLHttpRequest();
    x.open("GET", API + "/v1/status");
    x.onload = () => done("read:" + x.status + ":" + x.responseText.slice(0, 400));
    x.onerror = () => done("error:xhr");
    x.send();
  }));
  await attempt("event_source", () => new Promise(done => {
    const es = new EventSource(API + "/v1/status/stream");
    es.addEventListener("status", e => { es.close(); done("read:" + e.data.slice(0, 400)); });
    es.onerror = () => { es.close(); done("error:eventsource"); };
  }));
  await attempt("img", () => new Promise(done => {
    const img = new Image();
    img.onload = () => done("loaded");
    img.onerror = () => done("error:img");
    img.src = API + "/v1/status/stream";
  }));
  const press = JSON.stringify({target: "global"});
  await attempt("post_json", () => fetch(API + "/v1/input", {
    method: "POST", headers: {"Content-Type": "application/json"}, body: press}).then(text));
  await attempt("post_nocors", () => fetch(API + "/v1/input", {
    method: "POST", mode: "no-cors", headers: {"Content-Type": "text/plain"}, body: press})
    .then(r => "opaque:" + r.type));
  await attempt("post_beacon", () => "sent:" + navigator.sendBeacon(API + "/v1/input", press));
  await attempt("form", () => new Promise(done => {
    document.getElementById("sink").onload = () => done("submitted");
    document.getElementById("form").submit();
  }));
  document.getElementById("out").textContent = "RESULTS:" + JSON.stringify(results);
})();
</script></body></html>
"""


@asynccontextmanager
async def page_server(api_url: str) -> AsyncIterator[str]:
    """The attack page on another port of 127.0.0.1: another origin on this machine."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text=PAGE.replace("__API_URL__", api_url), content_type="text/html")

    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{site.port}"
    finally:
        await runner.cleanup()


async def visit(url: str, profile: Path) -> dict[str, Any]:
    """What the page found, from Chromium's DOM once its scripts ran."""
    if CHROMIUM is None:
        pytest.fail("CI=true but Chromium is missing: .ci/run installs it (apt-get chromium)")
    proc = await asyncio.create_subprocess_exec(
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-proxy-server",
        f"--user-data-dir={profile}",
        # Chromium runs the page's timers and waits for its requests within this
        # virtual time, then dumps the DOM.
        "--virtual-time-budget=15000",
        "--dump-dom",
        url,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(90):
            out, err = await proc.communicate()
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
    dom = out.decode(errors="replace")
    found = re.search(r"RESULTS:(\{.*?\})</pre>", dom, re.DOTALL)
    assert found, f"the page did not finish: {dom[-2000:]} {err.decode(errors='replace')[-2000:]}"
    results: dict[str, Any] = json.loads(html.unescape(found.group(1)))
    return results


def publish_secret(rig: ApiRig) -> None:
    rig.publish(
        make_source("pp", "active", [make_session("websocket:a", "thinking", title=SECRET)])
    )


async def test_a_page_from_another_origin_can_neither_read_nor_press(tmp_path: Path) -> None:
    async with api_rig(tmp_path) as rig:
        publish_secret(rig)
        async with page_server(rig.url) as page:
            results = await visit(page + "/", tmp_path / "profile")
        # Every read failed or came back opaque; nothing of the status reached the page.
        assert SECRET not in json.dumps(results)
        for name in ("fetch", "fetch_health", "xhr", "post_json"):
            assert results[name].startswith("error:"), (name, results)
        assert results["event_source"] == "error:eventsource"
        assert results["img"] == "error:img"
        assert results["fetch_nocors"] == "opaque:opaque:0"
        # The writes that a browser does send were refused by the API, not acted on.
        assert rig.source.heard == []
        counts = rig.server.complaints.counts
        assert counts.get("origin", 0) >= 6, counts
        assert set(counts) <= {"origin", "content-type"}, counts


async def test_the_same_page_from_an_allowed_origin_reads_but_cannot_press(
    tmp_path: Path,
) -> None:
    # The page's origin must be known before the API starts: take a port, free it, use it.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    page_origin = f"http://127.0.0.1:{port}"
    async with api_rig(tmp_path, allow_origins=(page_origin,)) as rig:
        publish_secret(rig)

        async def page(request: web.Request) -> web.Response:
            return web.Response(text=PAGE.replace("__API_URL__", rig.url), content_type="text/html")

        app = web.Application()
        app.router.add_get("/", page)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        await site.start()
        try:
            results = await visit(page_origin + "/", tmp_path / "profile")
        finally:
            await runner.cleanup()
        # The harness sees a leak when there is one...
        assert SECRET in results["fetch"], results
        assert results["event_source"].startswith("read:") and SECRET in results["event_source"]
        # ...and presses still need the token the page cannot know.
        assert results["post_json"].startswith("read:401"), results
        assert rig.source.heard == []
