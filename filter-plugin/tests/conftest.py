"""Fixtures: the real sidecar process (built with `npm run build`) started and stopped per test
module, and a filter instance loaded from the plugin file the way Open WebUI loads it.

MAI_USAGE_TEST_SIDECAR=standin swaps in a small Python stand-in (only for working on the filter
while the sidecar does not build); the default, and CI, use the real sidecar. A missing build
fails the tests — it never skips them."""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PLUGIN = REPO / "filter-plugin" / "mai_usage_filter.py"
SIDECAR_MAIN = REPO / "dist" / "sidecar" / "src" / "main.js"
MODE = os.environ.get("MAI_USAGE_TEST_SIDECAR", "real")

sys.path.insert(0, str(HERE))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def http_json(method: str, url: str, token: str | None = None, body=None, timeout: float = 10.0):
    data = None if body is None else json.dumps(body).encode()
    headers = {"content-type": "application/json"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    req = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            text = response.read().decode()
            return response.status, (json.loads(text) if text else None)
    except urllib.error.HTTPError as exc:
        text = exc.read().decode()
        try:
            return exc.code, json.loads(text)
        except ValueError:
            return exc.code, text


class RealSidecar:
    """The sidecar as a separate Node process on a fixed port, so it can be stopped and started
    again on the same address (the filter's sidecar_url does not change)."""

    def __init__(self, workdir: Path):
        if not SIDECAR_MAIN.exists():
            pytest.fail(f"{SIDECAR_MAIN} is missing: run `npm ci && npm run build` first", pytrace=False)
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.ingest_token = secrets.token_hex(16)
        self.admin_token = secrets.token_hex(16)
        self.process: subprocess.Popen | None = None
        self.log_path = workdir / "sidecar.log"
        self.start()

    def start(self) -> None:
        env = {
            **os.environ,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "DATABASE_PATH": str(self.workdir / "sidecar.db"),
            "DATA_DIR": str(self.workdir / "sidecar-data"),
            "INGEST_TOKEN": self.ingest_token,
            "ADMIN_TOKEN": self.admin_token,
            "OPENWEBUI_URL": "http://127.0.0.1:9",
            "OPENROUTER_API_BASE": "http://127.0.0.1:9/api/v1",
            "NBP_API_BASE": "http://127.0.0.1:9",
            "OPENROUTER_USAGE_SYNC_INTERVAL": "0",
            "LOG_LEVEL": "warn",
        }
        env.pop("DATABASE_URL", None)
        log = open(self.log_path, "ab")
        self.process = subprocess.Popen(["node", str(SIDECAR_MAIN)], cwd=REPO, env=env, stdout=log, stderr=log)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"sidecar exited at start:\n{self.log_path.read_text()[-3000:]}", pytrace=False)
            try:
                if http_json("GET", f"{self.url}/healthz", timeout=1)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        pytest.fail(f"sidecar did not answer /healthz:\n{self.log_path.read_text()[-3000:]}", pytrace=False)

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    # Operator API used to arrange and assert (DESIGN §7).
    def admin(self, method: str, path: str, body=None):
        status, answer = http_json(method, f"{self.url}{path}", self.admin_token, body)
        assert status < 300, f"{method} {path} → {status} {answer}"
        return answer

    def create_client(self, name: str, monthly_limit_usd: float | None = None) -> str:
        body = {"name": name, **({"monthly_limit_usd": monthly_limit_usd} if monthly_limit_usd is not None else {})}
        return str(self.admin("POST", "/api/v1/client-organizations/clients", body)["id"])

    def map_user(self, user_id: str, client_id: str) -> None:
        self.admin("POST", "/api/v1/client-organizations/user-mappings", {"user_id": user_id, "client_org_id": client_id})

    def completions(self, client_id: str) -> list:
        start = time.strftime("%Y-%m-%d", time.gmtime(time.time() - 86400 * 2))
        end = time.strftime("%Y-%m-%d", time.gmtime(time.time() + 86400 * 2))
        answer = self.admin(
            "GET", f"/api/v1/client-organizations/usage/export?format=json&client_id={client_id}&from={start}&to={end}"
        )
        return answer["events"]


class StandinProcess:
    def __init__(self, workdir: Path):
        from standin_sidecar import StandinSidecar

        self.ingest_token = secrets.token_hex(16)
        self.admin_token = "standin"
        self.server = StandinSidecar(self.ingest_token)
        self.url = self.server.url

    def start(self):
        self.server.start()

    def stop(self):
        self.server.stop()

    def create_client(self, name, monthly_limit_usd=None):
        status, answer = http_json("POST", f"{self.url}/api/v1/client-organizations/clients", None,
                                   {"name": name, "monthly_limit_usd": monthly_limit_usd})
        return answer["id"]

    def map_user(self, user_id, client_id):
        http_json("POST", f"{self.url}/api/v1/client-organizations/user-mappings", None,
                  {"user_id": user_id, "client_org_id": client_id})

    def completions(self, client_id):
        return http_json("GET", f"{self.url}/api/v1/client-organizations/usage/export?client_id={client_id}")[1]["events"]


@pytest.fixture(scope="module")
def sidecar(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sidecar")
    process = StandinProcess(workdir) if MODE == "standin" else RealSidecar(workdir)
    yield process
    process.stop()


def load_filter_module(name: str = "mai_usage_filter_under_test"):
    """Loads the plugin file as a fresh module, as Open WebUI execs a Function's source."""
    spec = importlib.util.spec_from_file_location(name, PLUGIN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def plugin():
    return load_filter_module()


@pytest.fixture
def make_filter(plugin, sidecar, tmp_path):
    def make(**valves):
        instance = plugin.Filter()
        settings = {
            "sidecar_url": sidecar.url,
            "ingest_token": sidecar.ingest_token,
            "spool_dir": str(tmp_path / "spool"),
            "replay_interval_seconds": 1.0,
            "limit_cache_seconds": 5.0,
            **valves,
        }
        instance.valves = instance.Valves(**settings)
        return instance

    return make
