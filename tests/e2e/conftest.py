"""The portal as a person meets it: the embedded gateway under uvicorn on a free port, with a
temporary data folder, demo data fed through the back office, and the built web app.

The browser is Debian's Chromium (/usr/bin/chromium), driven by playwright-core from web/
(no browser download); axe-core, from web/ too, checks the accessibility of every screen. Without
Chromium the browser tests are skipped, saying why.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.seed import Seeded, seed

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "web"
SCREENSHOTS = Path(__file__).resolve().parent / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
SCRIPT = Path(__file__).resolve().parent / "portal.e2e.mjs"


@dataclass(frozen=True)
class Portal:
    url: str
    backoffice_token: str
    seeded: Seeded
    data_dir: Path
    sandbox_url: str


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _need(condition: bool, reason: str) -> None:
    if not condition:
        pytest.skip(reason)


def _web_dependencies() -> None:
    """web/node_modules as web/package-lock.json says (npm ci when it is missing or older): as `make web`.

    The scenarios take playwright-core and axe-core from there.
    """
    installed = WEB / "node_modules" / ".package-lock.json"
    if installed.is_file() and installed.stat().st_mtime >= (WEB / "package-lock.json").stat().st_mtime:
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("web/node_modules is missing or stale and npm is not here: install Node.js 20.19+, run `make web`")
    subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=WEB, check=True)  # noqa: S603 (fixed argv)
    installed.touch()


def _built_web() -> Path:
    """web/dist, built (npm ci + build) if it is missing or older than a source: the same steps as `make web`."""
    _web_dependencies()
    dist = WEB / "dist"
    index = dist / "index.html"
    sources = [WEB / "index.html", WEB / "package-lock.json", *(WEB / "src").rglob("*"), *(WEB / "public").rglob("*")]
    if index.is_file() and all(path.stat().st_mtime <= index.stat().st_mtime for path in sources if path.is_file()):
        return dist
    npm = shutil.which("npm") or "npm"
    subprocess.run([npm, "run", "build"], cwd=WEB, check=True)  # noqa: S603 (fixed argv)
    return dist


@pytest.fixture(scope="session")
def browser_ready() -> None:
    _need(Path(CHROMIUM).is_file(), f"no Chromium at {CHROMIUM}: `apt-get install chromium` to run the browser tests")
    if shutil.which("node") is None:
        pytest.fail("Chromium is here but node is not: install Node.js 20.19+ (the tests drive Chromium from Node)")


@pytest.fixture(scope="session")
def portal(browser_ready: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    dist = _built_web()
    data_dir = tmp_path_factory.mktemp("portal") / "data"
    port, sandbox_port = _free_port(), _free_port()
    url = f"http://127.0.0.1:{port}"
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = {
        **os.environ,
        "PORTAL_DATA_DIR": str(data_dir),
        "PORTAL_DEV_MODE": "true",
        "PORTAL_WEB_DIST": str(dist),
        "PORTAL_LOG_LEVEL": "WARNING",
        "IDENTITY_PUBLIC_URL": url,
        "PROFILE_PORTAL_URL": url,
        "NOTIFICATIONS_PORTAL_URL": url,
        "PAYMENTS_PUBLIC_URL": url,
        "PAYMENTS_PAYU_URL": sandbox_url,
    }
    log = (data_dir.parent / "portal.log").open("w")
    # The PayU-style gateway sandbox (the payments service's dev gateway), on its own port.
    sandbox = subprocess.Popen(  # noqa: S603 (fixed argv)
        [sys.executable, "-m", "services.gateway_sandbox", "--port", str(sandbox_port)],
        cwd=ROOT,
        env={**os.environ, "SANDBOX_PUBLIC_URL": sandbox_url},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    server = subprocess.Popen(  # noqa: S603 (fixed argv)
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.gateway.embedded:create_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        for probe, process in ((f"{url}/api/identity/readyz", server), (f"{sandbox_url}/healthz", sandbox)):
            while True:
                try:
                    if httpx.get(probe, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{probe} did not come up: see {log.name}")
                time.sleep(0.2)
        token = (data_dir / "secrets" / "backoffice-token").read_text().strip()
        seeded = asyncio.run(seed(url, token))
        yield Portal(url, token, seeded, data_dir, sandbox_url)
    finally:
        for process in (server, sandbox):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
        log.close()


def run_scenario(portal: Portal, name: str) -> dict[str, object]:
    """Runs one scenario of portal.e2e.mjs in a fresh Chromium; its JSON report, or the failure."""
    SCREENSHOTS.mkdir(exist_ok=True)
    # The page as a failure left it: only this run's failure may leave one.
    (SCREENSHOTS / f"FAILED-{name}.png").unlink(missing_ok=True)
    env = {
        **os.environ,
        "PORTAL_URL": portal.url,
        "SANDBOX_URL": portal.sandbox_url,
        "BACKOFFICE_TOKEN": portal.backoffice_token,
        "SEEDED": json.dumps(portal.seeded.as_env()),
        "SCREENSHOTS": str(SCREENSHOTS),
        "CHROMIUM_PATH": CHROMIUM,
        "NODE_PATH": str(WEB / "node_modules"),
    }
    node = shutil.which("node") or "node"
    done = subprocess.run(  # noqa: S603 (fixed argv)
        [node, str(SCRIPT), name], cwd=WEB, env=env, capture_output=True, text=True, timeout=240, check=False
    )
    if done.returncode != 0:
        pytest.fail(f"scenario {name} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}", pytrace=False)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    report: dict[str, object] = json.loads(lines[-1]) if lines else {}
    return report
