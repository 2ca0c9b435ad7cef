"""Run the xero-local emulator as a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import atexit
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def find_binary() -> str:
    """XERO_LOCAL_BIN, <repo>/.cache/venv-xero-local/bin/xero-local,
    /opt/xero-local-venv/bin/xero-local, or xero-local on PATH."""
    tried = []
    env = os.environ.get("XERO_LOCAL_BIN")
    if env:
        if os.path.isfile(env) and os.access(env, os.X_OK):
            return env
        raise FileNotFoundError(f"XERO_LOCAL_BIN={env!r} is not an executable file")
    for cand in (
        _REPO_ROOT / ".cache" / "venv-xero-local" / "bin" / "xero-local",
        Path("/opt/xero-local-venv/bin/xero-local"),
    ):
        tried.append(str(cand))
        if cand.is_file() and os.access(cand, os.X_OK):
            return str(cand)
    on_path = shutil.which("xero-local")
    if on_path:
        return on_path
    tried.append("xero-local on PATH")
    raise FileNotFoundError(
        "The xero-local emulator (PyPI package 'localstack-xero') was not found. Looked at: "
        + ", ".join(tried)
        + ". Install it in its own virtualenv (it needs Werkzeug>=3) and/or set XERO_LOCAL_BIN."
    )


def _http(method: str, url: str, timeout: float = 5.0):
    req = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
        return json.loads(raw) if raw else None


class XeroLocal:
    """``with XeroLocal() as xl: xl.url`` — a private xero-local process."""

    def __init__(self, binary: str | None = None, start_timeout: float = 20.0):
        self.binary = binary or find_binary()
        self.start_timeout = start_timeout
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self._log = None

    @property
    def url(self) -> str:
        if self.port is None:
            raise RuntimeError("xero-local is not started")
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> XeroLocal:
        if self.proc is not None:
            return self
        last_err = None
        for _attempt in range(3):
            self.port = free_port()
            env = dict(os.environ, XERO_HOST="127.0.0.1", XERO_PORT=str(self.port))
            self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
                prefix="xero-local-", suffix=".log", delete=False
            )
            self.proc = subprocess.Popen(
                [self.binary],
                env=env,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + self.start_timeout
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    break
                try:
                    if (_http("GET", self.url + "/_xero/health", 1.0) or {}).get("status") == "ok":
                        return self
                except OSError as exc:
                    last_err = exc
                time.sleep(0.05)
            self.stop()
            last_err = last_err or RuntimeError("exited early")
        raise RuntimeError(f"xero-local did not become healthy: {last_err!r}")

    def log_text(self) -> str:
        if not self._log:
            return ""
        try:
            return Path(self._log.name).read_text(errors="replace")
        except OSError:
            return ""

    def reset(self) -> None:
        _http("POST", self.url + "/_xero/reset")

    def state(self) -> dict:
        return _http("GET", self.url + "/_xero/state")

    def tenant_id(self) -> str:
        """The default tenant (changes on every reset)."""
        return self.state()["tenant"]["tenantId"]

    def invoices(self) -> list[dict]:
        return self.state()["invoices"]

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        if self._log is not None:
            try:
                self._log.close()
                os.unlink(self._log.name)
            except OSError:
                pass
            self._log = None

    def __enter__(self) -> XeroLocal:  # noqa: PYI034
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


_shared: XeroLocal | None = None
_shared_lock = threading.Lock()


def shared_xero_local() -> XeroLocal:
    """One started instance per process (stopped at exit)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.proc is None or _shared.proc.poll() is not None:
            _shared = XeroLocal().start()
            atexit.register(_shared.stop)
        return _shared
