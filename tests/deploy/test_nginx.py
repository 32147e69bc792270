"""deploy/nginx: every service routed with its prefix stripped, the security headers on every
location, the upstreams parametrized and set by compose and k8s; `nginx -t` and a real nginx routing
requests to six stand-in services when nginx is installed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.deploy.manifests import (
    NGINX,
    SERVICES,
    TEMPLATE_VARIABLE,
    Directive,
    compose,
    k8s_container,
    k8s_kind,
    nginx_routes,
    parse_nginx,
    render_templates,
    template_variables,
    walk_nginx,
)
from tests.servers import NGINX_SKIP

NGINX_BIN = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
)
needs_nginx = pytest.mark.skipif(NGINX_BIN is None, reason=NGINX_SKIP)

REQUIRED_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'", "frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"),
    "Strict-Transport-Security": ("max-age=31536000",),
    "X-Content-Type-Options": ("nosniff",),
    "Referrer-Policy": ("strict-origin-when-cross-origin",),
}


def _conf(name: str) -> list[Directive]:
    return parse_nginx((NGINX / name).read_text(encoding="utf-8"))


def _includes(directives: list[Directive]) -> set[str]:
    return {d.args[0] for d in directives if d.name == "include"}


def test_the_parser_reads_blocks_quotes_and_rejects_broken_configs() -> None:
    parsed = parse_nginx('http { location /a/ { add_header X "a; b" always; } } # c { ;')
    assert parsed[0].name == "http"
    location = parsed[0].find("location")[0]
    assert location.args == ["/a/"]
    assert location.find("add_header")[0].args == ["X", "a; b", "always"]
    for broken in ("http {", "http { a b }", "}", "a b"):
        with pytest.raises(ValueError, match=r"unbalanced|unterminated|without"):
            parse_nginx(broken)


def test_every_service_is_routed_to_its_upstream_with_the_prefix_stripped() -> None:
    routes = nginx_routes(_conf("nginx.conf"))
    for service in SERVICES:
        assert routes.get(f"/api/{service}/") == f"http://{service}/", service
    assert set(routes) == {f"/api/{service}/" for service in SERVICES}


def test_the_route_check_catches_a_missing_service() -> None:
    text = (NGINX / "nginx.conf").read_text(encoding="utf-8").replace("proxy_pass http://billing/;", "")
    routes = nginx_routes(parse_nginx(text))
    assert "/api/billing/" not in routes
    assert "/api/contracts/" in routes


def test_every_upstream_is_a_template_variable_set_by_compose_and_k8s() -> None:
    template = (NGINX / "templates" / "upstreams.conf.template").read_text(encoding="utf-8")
    upstreams = parse_nginx(TEMPLATE_VARIABLE.sub(r"@\1@", template))
    by_name = {u.args[0]: u for u in upstreams if u.name == "upstream"}
    assert set(by_name) == set(SERVICES)
    for service in SERVICES:
        assert by_name[service].find("server")[0].args[0] == f"@{service.upper()}_UPSTREAM@"

    variables = template_variables()
    assert variables == {f"{s.upper()}_UPSTREAM" for s in SERVICES} | {"GATEWAY_LISTEN", "WEB_ROOT"}
    compose_env = compose()["services"]["gateway"]["environment"]
    k8s_env = {e["name"]: e["value"] for e in k8s_container(k8s_kind("Deployment")["gateway"])["env"]}
    for env in (compose_env, k8s_env):
        assert variables <= set(env)
        for service in SERVICES:
            assert env[f"{service.upper()}_UPSTREAM"] == f"{service}:8000"
    assert compose()["services"]["gateway"]["build"]["target"] == "gateway"


def test_the_security_headers_are_complete_and_always_sent() -> None:
    headers = {d.args[0]: d.args[1:] for d in _conf("security-headers.conf") if d.name == "add_header"}
    for name, parts in REQUIRED_HEADERS.items():
        value, *flags = headers[name]
        assert flags == ["always"], name
        for part in parts:
            assert part in value, (name, part)


def test_every_location_includes_the_security_headers() -> None:
    """nginx drops inherited add_header in a block with its own: each location must include them."""
    proxy = _conf("proxy.conf")
    assert "security-headers.conf" in _includes(proxy)
    locations = [d for d in walk_nginx(_conf("nginx.conf")) if d.name == "location"]
    assert len(locations) >= len(SERVICES) + 3
    for location in locations:
        assert location.block is not None
        included = _includes(location.block)
        assert included & {"security-headers.conf", "proxy.conf"}, location.args
    server = next(d for d in walk_nginx(_conf("nginx.conf")) if d.name == "server")
    assert server.block is not None
    assert not server.find("add_header"), "server-level add_header would be silently dropped in locations"


def test_the_gateway_passes_a_single_client_address() -> None:
    """identity believes X-Forwarded-For from the gateway only and takes its last entry."""
    headers = {d.args[0]: d.args[1] for d in _conf("proxy.conf") if d.name == "proxy_set_header"}
    assert headers["X-Forwarded-For"] == "$remote_addr"
    trusted = compose()["services"]["identity"]["environment"]["IDENTITY_TRUSTED_PROXIES"]
    address = compose()["services"]["gateway"]["networks"]["strefa"]["ipv4_address"]
    assert json.loads(trusted) == [address]


# --- with a real nginx --------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _prepare() -> Path:
    """A prefix directory laid out like /etc/nginx in the gateway image (readable by nginx's workers)."""
    prefix = Path(tempfile.mkdtemp(prefix="strefa-nginx-"))
    for name in ("nginx.conf", "proxy.conf", "security-headers.conf"):
        shutil.copy(NGINX / name, prefix / name)
    (prefix / "strefa").mkdir()
    (prefix / "run").mkdir()
    web = prefix / "web"
    (web / "assets").mkdir(parents=True)
    (web / "index.html").write_text("<!doctype html><title>Strefa Klienta</title>", encoding="utf-8")
    (web / "assets" / "app-1234.js").write_text("console.log(1)", encoding="utf-8")
    return prefix


def _render(prefix: Path, values: dict[str, str]) -> None:
    render_templates(values, prefix / "strefa")
    for path in [prefix, *prefix.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)


def _values(upstreams: dict[str, int], listen: str, web: str) -> dict[str, str]:
    values = {f"{service.upper()}_UPSTREAM": f"127.0.0.1:{port}" for service, port in upstreams.items()}
    return values | {"GATEWAY_LISTEN": listen, "WEB_ROOT": web}


@needs_nginx
def test_nginx_accepts_the_config() -> None:
    assert NGINX_BIN is not None
    prefix = _prepare()
    try:
        _render(prefix, _values(dict.fromkeys(SERVICES, 9), "127.0.0.1:8000", str(prefix / "web")))
        result = subprocess.run(  # noqa: S603
            [NGINX_BIN, "-t", "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert "test is successful" in result.stderr
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


class _Echo(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = json.dumps(
            {
                "service": self.server.service,  # type: ignore[attr-defined]
                "path": self.path,
                "forwarded_for": self.headers.get("X-Forwarded-For"),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def gateway() -> Iterator[str]:
    """nginx with the real config on 127.0.0.1, in front of six stand-in services."""
    assert NGINX_BIN is not None
    servers: list[ThreadingHTTPServer] = []
    for service in SERVICES:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
        server.service = service  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    port = _free_port()
    prefix = _prepare()
    upstreams = {s: srv.server_address[1] for s, srv in zip(SERVICES, servers, strict=True)}
    _render(prefix, _values(upstreams, f"127.0.0.1:{port}", str(prefix / "web")))
    process = subprocess.Popen(  # noqa: S603
        [NGINX_BIN, "-p", f"{prefix}/", "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"nginx did not start: {process.stderr and process.stderr.read()!r}") from None
                time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=10)
        if process.stderr:
            process.stderr.close()
        for server in servers:
            server.shutdown()
            server.server_close()
        shutil.rmtree(prefix, ignore_errors=True)


def _get(url: str) -> tuple[int, dict[str, str], bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _assert_security_headers(headers: dict[str, str]) -> None:
    for name, parts in REQUIRED_HEADERS.items():
        assert name in headers, name
        for part in parts:
            assert part in headers[name]


@needs_nginx
def test_nginx_routes_each_service_and_serves_the_web_app(gateway: str) -> None:
    for service in SERVICES:
        status, headers, body = _get(f"{gateway}/api/{service}/readyz?probe=1")
        assert status == 200, (service, body)
        seen = json.loads(body)
        assert seen["service"] == service
        assert seen["path"] == "/readyz?probe=1"
        assert seen["forwarded_for"] == "127.0.0.1"
        _assert_security_headers(headers)

    status, headers, body = _get(f"{gateway}/api/nosuch/thing")
    assert status == 404
    assert headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["code"] == "not_found"
    _assert_security_headers(headers)

    status, headers, body = _get(f"{gateway}/umowy/123")
    assert status == 200
    assert b"Strefa Klienta" in body
    assert headers["Cache-Control"] == "no-cache"
    _assert_security_headers(headers)

    status, headers, _ = _get(f"{gateway}/assets/app-1234.js")
    assert status == 200
    assert "immutable" in headers["Cache-Control"]
    _assert_security_headers(headers)

    status, headers, _ = _get(f"{gateway}/assets/missing.js")
    assert status == 404
    _assert_security_headers(headers)
