"""Render the real page in headless Chromium: it must show the failure and fetch nothing.

Chromium is pointed at a recording proxy on loopback for *all* traffic, so any fetch the page
tried (a font, an image, a stylesheet) would be logged there instead of leaving the machine.
A control page with a deliberate external image proves the proxy really sees such fetches.

Chromium itself phones home even with ``--disable-background-networking`` and
``--disable-component-update`` (an on-demand component update check, network time, an account
check).  Those few browser-internal endpoints are matched exactly in ``_BROWSER_OWN`` and
tolerated; any other request fails the test.  None of it leaves the machine: the recorder
answers 404 itself.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from wheelfleet.report import write_reports

CHROMIUM = Path("/usr/bin/chromium")
REPO = Path(__file__).resolve().parents[2]
ARTIFACT = REPO / "test-artifacts" / "report.png"
GCC_MISSING = "compiler missing in the image: gcc not found"  # the diagnosis in conftest
TIMEOUT_S = 120  # a cold Chromium start on a 2-core CI box takes a few seconds; never hang
_BROWSER_OWN = re.compile(
    r"^(CONNECT (update\.googleapis\.com|accounts\.google\.com|clients2\.google\.com):443"
    r"|POST http://update\.googleapis\.com/service/update2/json\?"
    r"|GET http://clients2\.google\.com/time/1/current\?)"
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="needs Debian chromium: apt-get install -y chromium"
    ),
]


class _Recorder(BaseHTTPRequestHandler):
    """Answers every proxied request with 404 and remembers it; never connects onward."""

    seen: list[str]

    def _record(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_error(404)

    do_GET = do_HEAD = do_POST = do_CONNECT = _record  # noqa: N815 (http.server's naming)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (base signature)
        pass


@pytest.fixture
def proxy() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _chromium(
    page: Path, tmp: Path, proxy_url: str, *mode: str
) -> subprocess.CompletedProcess[str]:
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    command = [
        str(CHROMIUM),
        "--headless",
        "--no-sandbox",  # tests run as root in CI containers
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        # Route everything, loopback included, through the recorder.
        f"--proxy-server={proxy_url}",
        "--proxy-bypass-list=<-loopback>",
        *mode,
        page.as_uri(),
    ]
    # HOME too: Chromium writes crash-report and font-cache state outside the profile.
    env = {**os.environ, "HOME": str(tmp), "XDG_CONFIG_HOME": str(tmp / "xdg")}
    return subprocess.run(
        command, capture_output=True, text=True, timeout=TIMEOUT_S, env=env, check=False
    )


def _png_size(path: Path) -> tuple[int, int]:
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", header[16:24])
    return width, height


def test_page_renders_offline(
    fleet_report: dict[str, Any],
    make_green_report: Any,
    tmp_path: Path,
    proxy: tuple[str, list[str]],
) -> None:
    proxy_url, seen = proxy
    root = tmp_path / "reports"
    for day in (24, 25, 26):
        write_reports(make_green_report(f"2026-11-{day}T02:00:00Z"), root / f"202611{day}T020000Z")
    page = write_reports(fleet_report, root / "20261127T020000Z")["html"]

    dom = _chromium(page, tmp_path, proxy_url, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert "tf2" in dom.stdout and GCC_MISSING in dom.stdout
    assert "Fleet verification FAILED" in dom.stdout
    assert "<script>" not in dom.stdout, "the log's <script> must stay text in the DOM"

    screenshot = tmp_path / "report.png"
    shot = _chromium(
        page, tmp_path, proxy_url, f"--screenshot={screenshot}", "--window-size=1280,1600"
    )
    assert shot.returncode == 0 and screenshot.is_file(), shot.stderr[-2000:]
    assert _png_size(screenshot) == (1280, 1600)
    ARTIFACT.parent.mkdir(exist_ok=True)
    # Keep the artifact out of git without touching the shared top-level .gitignore.
    (ARTIFACT.parent / ".gitignore").write_text("*\n", encoding="utf-8")
    shutil.copyfile(screenshot, ARTIFACT)

    from_page = [request for request in seen if not _BROWSER_OWN.match(request)]
    assert from_page == [], f"the page made network requests: {from_page}"


def test_proxy_would_catch_a_fetch(tmp_path: Path, proxy: tuple[str, list[str]]) -> None:
    """Control: without this, an empty request log could just mean the proxy was bypassed."""
    proxy_url, seen = proxy
    page = tmp_path / "control.html"
    page.write_text(
        '<!DOCTYPE html><img src="http://wheelfleet-canary.invalid/pixel.png">', encoding="utf-8"
    )
    result = _chromium(page, tmp_path, proxy_url, "--dump-dom")
    assert result.returncode == 0, result.stderr[-2000:]
    caught = [request for request in seen if not _BROWSER_OWN.match(request)]
    assert caught == ["GET http://wheelfleet-canary.invalid/pixel.png"], seen
