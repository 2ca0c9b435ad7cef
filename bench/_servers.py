"""Prefork Odoo servers for the benches that talk to Odoo over HTTP (``scale``, ``backfill``):
one server (``Server``) or several on one database (``Cluster``), and what the benches read of
their processes (which of them hold an export claim, their peak RSS)."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import _harness as h

LOG = h.REPO / ".cache" / "bench-scale-odoo.log"
CLAIM_LOCK = 0x58434C4D  # casemgr_xero.models.xero_export.CLAIM_LOCK


def free_port(lo=18000, hi=18999, avoid=()):
    for port in range(lo, hi + 1):
        if port in avoid:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free port in {lo}-{hi}")


SHIM = (
    "from importlib.metadata import entry_points\n\n\n"
    "def iter_entry_points(group, name=None):\n"
    "    return [e for e in entry_points(group=group) if name in (None, e.name)]\n"
)


def server_env():
    """The environment of every Odoo server a bench starts: ``xero_core`` importable, and a
    ``pkg_resources`` shim first on the path. The prefork master always spawns a gevent
    process; gevent loads its plugins through ``pkg_resources``, which is absent on some
    machines and, where present (``/opt/odoo-venv/*`` here, setuptools 84), raises
    DistributionNotFound for 'zope.interface' though it is installed. Either way that process
    dies and is respawned every second (a whole Odoo import each time, about half a core, and a
    connection to PostgreSQL), eating the CPU the bench measures (docs/NOTES.md)."""
    shim = h.REPO / ".cache" / "bench-shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "pkg_resources.py").write_text(SHIM)
    paths = [str(h.REPO / "xero_core"), str(shim)]
    return dict(os.environ, PYTHONPATH=os.pathsep.join(paths))


class Server:
    """One prefork Odoo server (``args.workers`` HTTP workers, ``args.cron_threads`` cron
    workers) on ``db``, on ports of its own (none of ``avoid``), logging into ``log``."""

    def __init__(self, db, args, avoid=(), log=LOG):
        self.db, self.args, self.log = db, args, log
        self.http_port = free_port(avoid=set(avoid))
        self.gevent_port = free_port(avoid={self.http_port, *avoid})
        self.proc = None
        self.logf = open(log, "a")  # noqa: SIM115 - kept open for the servers' lifetime

    def cmd(self):
        import odoo

        # The prefork master re-executes sys.argv[0] for its gevent process: give it odoo-bin
        # (``python -m odoo`` would hand it odoo/__main__.py, which cannot run as a script).
        # (19.0's odoo is a namespace package: no __file__; its one __path__ entry is the tree)
        odoo_bin = os.path.join(os.path.dirname(list(odoo.__path__)[0]), "odoo-bin")
        launcher = [odoo_bin] if os.path.exists(odoo_bin) else ["-m", "odoo"]
        return [
            sys.executable,
            *launcher,
            "-c",
            h.CONF,
            "-d",
            self.db,
            "--http-interface",
            "127.0.0.1",
            "--http-port",
            str(self.http_port),
            "--gevent-port",
            str(self.gevent_port),
            "--workers",
            str(self.args.workers),
            "--max-cron-threads",
            str(self.args.cron_threads),
            "--log-level",
            "info",
        ]

    def start(self):
        env = server_env()
        self.proc = subprocess.Popen(
            self.cmd(),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=self.logf,
            start_new_session=True,
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(
                    f"http://127.0.0.1:{self.http_port}/web/webclient/version_info", timeout=2
                )
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"Odoo exited with {self.proc.returncode}: see {self.log}"
                    ) from None
                time.sleep(0.5)
        raise RuntimeError(f"Odoo did not answer within 180 s: see {self.log}")

    def children(self):
        """PIDs of the master's worker processes (ours only)."""
        out = []
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/status") as f:
                    ppid = next(int(x.split()[1]) for x in f if x.startswith("PPid:"))
            except (OSError, StopIteration, ValueError):
                continue
            if self.proc and ppid == self.proc.pid:
                out.append(int(d))
        return out

    def stop(self, timeout=150):
        """Graceful stop (SIGTERM to the master: it lets running jobs end), then SIGKILL."""
        if not self.proc or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        # Workers left behind (none expected) belong to our session: end them.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


class Cluster:
    """``args.servers`` prefork servers on one database, each on its own ports with its own
    HTTP and cron workers, sharing nothing but PostgreSQL; the bench talks to them as a load
    balancer would: user i to server i % N, a webhook to the next server that answers."""

    def __init__(self, db, args):
        self.servers, avoid = [], set()
        for _i in range(args.servers):
            server = Server(db, args, avoid=avoid)
            avoid |= {server.http_port, server.gevent_port}
            self.servers.append(server)
        self._next = 0

    def start(self):
        for server in self.servers:
            server.start()

    def stop(self, timeout=150):
        threads = [threading.Thread(target=s.stop, args=(timeout,)) for s in self.servers]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def children(self):
        return [pid for server in self.servers for pid in server.children()]

    def owner(self, pid):
        return next((s for s in self.servers if pid in s.children()), None)

    def url(self, i=None):
        """Server ``i`` % N's URL; without ``i``, the next one in turn (round robin)."""
        if i is None:
            i, self._next = self._next, self._next + 1
        return f"http://127.0.0.1:{self.servers[i % len(self.servers)].http_port}"


def pids_by_client_port(pids):
    """{local TCP port: pid} of the sockets these processes hold (their PostgreSQL
    connections: pg_stat_activity.client_port). application_name does not tell: prefork
    workers inherit the master's connection pool, named after the master's pid."""
    inode_port = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            inode_port[parts[9]] = int(parts[1].rsplit(":", 1)[1], 16)
    out = {}
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inode_port:
                out[inode_port[target[8:-1]]] = pid
    return out


def claim_holders(db_rows, server):
    """PIDs of the server's processes that hold an export claim's liveness lock."""
    ports = db_rows(
        "SELECT DISTINCT a.client_port FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted AND l.classid = %s",
        [CLAIM_LOCK],
    )
    by_port = pids_by_client_port(server.children())
    return sorted({by_port[p] for (p,) in ports if p in by_port})


def vm_hwm_kb(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
