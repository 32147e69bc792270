"""The gateway serves the built web app at / (index.html for client-side routes) and puts the
security headers on every response, the API's included."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.gateway.embedded import SECURITY_HEADERS, EmbeddedPortal, PortalSettings

INDEX = (
    '<!doctype html><html lang="pl"><body><div id="root"></div>'
    '<script type="module" src="/assets/app-1a2b.js"></script></body></html>'
)


def _dist(folder: Path) -> Path:
    (folder / "assets").mkdir(parents=True)
    (folder / "index.html").write_text(INDEX)
    (folder / "assets" / "app-1a2b.js").write_text("console.log('portal')")
    (folder / "favicon.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    return folder


async def _client(tmp_path: Path, dist: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = PortalSettings(data_dir=tmp_path / "data", dev_mode=True, web_dist=dist)
    embedded = EmbeddedPortal(settings)
    await embedded.start(run_consumers=False)
    try:
        transport = httpx.ASGITransport(app=embedded.app())
        async with httpx.AsyncClient(transport=transport, base_url="http://portal.test") as http:
            yield http
    finally:
        await embedded.stop()


@pytest.fixture
async def web(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for http in _client(tmp_path, _dist(tmp_path / "dist")):
        yield http


def _has_security_headers(response: httpx.Response) -> None:
    for name, value in SECURITY_HEADERS:
        assert response.headers.get(name) == value, name
    csp = response.headers["content-security-policy"]
    for directive in ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"):
        assert directive in csp


async def test_root_and_client_side_routes_serve_index(web: httpx.AsyncClient) -> None:
    for path in (
        "/",
        "/umowy",
        "/umowy/C-2024%2F001/harmonogram",
        "/aktywacja?token=abc",
        "/profil/e-faktura/potwierdzenie",
    ):
        response = await web.get(path)
        assert response.status_code == 200, path
        assert response.text == INDEX
        assert response.headers["content-type"].startswith("text/html")
        assert response.headers["cache-control"] == "no-cache"
        _has_security_headers(response)


async def test_assets_are_served_and_cached_for_good(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/app-1a2b.js")
    assert response.status_code == 200
    assert response.text == "console.log('portal')"
    assert "immutable" in response.headers["cache-control"]
    _has_security_headers(response)
    icon = await web.get("/favicon.svg")
    assert icon.status_code == 200
    assert icon.headers["cache-control"] == "no-cache"


async def test_a_missing_asset_is_404_not_the_index(web: httpx.AsyncClient) -> None:
    response = await web.get("/assets/gone-0000.js")
    assert response.status_code == 404
    assert response.text != INDEX


async def test_unknown_api_paths_stay_api_404s(web: httpx.AsyncClient) -> None:
    for path in ("/api", "/api/nothing/here", "/api/contracts/no-such-route"):
        response = await web.get(path)
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["status"] == 404
        _has_security_headers(response)


async def test_api_responses_carry_the_security_headers(web: httpx.AsyncClient) -> None:
    ok = await web.get("/api/contracts/healthz")
    assert ok.status_code == 200
    _has_security_headers(ok)
    refused = await web.get("/api/contracts/contracts")
    assert refused.status_code == 401
    _has_security_headers(refused)


async def test_no_file_outside_the_app_is_served(web: httpx.AsyncClient, tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("do not serve")
    for path in ("/../secret.txt", "/%2e%2e/secret.txt", "/assets/..%2f..%2fsecret.txt"):
        response = await web.get(path)
        assert "do not serve" not in response.text, path


async def test_without_a_build_the_portal_says_how_to_build_it(tmp_path: Path) -> None:
    async for http in _client(tmp_path, tmp_path / "no-dist"):
        response = await http.get("/")
        assert response.status_code == 503
        assert "make web" in response.text
        _has_security_headers(response)
        assert (await http.get("/api/identity/healthz")).status_code == 200
