"""CPU seconds per process tree during a bench's burst (Linux ``/proc``): Odoo, PostgreSQL,
the Xero emulator, the bench itself, the whole machine."""

import os
import resource

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """(parent pid, own CPU seconds, reaped children's CPU seconds) of a process, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rpartition(")")[2].split()
    except OSError:
        return None
    ppid, utime, stime, cutime, cstime = (int(fields[i]) for i in (1, 11, 12, 13, 14))
    return ppid, (utime + stime) / _TICK, (cutime + cstime) / _TICK


def _cmdline(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def cpu_snapshot(odoo_pid, pg_port, xl_pid):
    """CPU seconds so far of the process trees that serve the burst: Odoo (master, HTTP and
    cron workers), PostgreSQL (its postmaster's tree: backends, also the short-lived ones it
    reaped), the Xero emulator, the bench itself (its clients and the Xero proxy), and the
    whole machine (every core, other users' processes included)."""
    stats = {int(d): _stat(d) for d in os.listdir("/proc") if d.isdigit()}
    stats = {pid: st for pid, st in stats.items() if st}
    children = {}
    for pid, (ppid, _own, _reaped) in stats.items():
        children.setdefault(ppid, []).append(pid)

    def tree(root):
        if root not in stats:
            return 0.0
        total, todo = stats[root][2], list(children.get(root, ()))
        total += stats[root][1]
        while todo:
            pid = todo.pop()
            total += stats[pid][1] + stats[pid][2]
            todo.extend(children.get(pid, ()))
        return total

    postmaster = next(  # backends are titled "postgres: user db …", without -p
        (
            pid
            for pid in stats
            if "postgres -D" in _cmdline(pid) and f"-p {pg_port} " in _cmdline(pid)
        ),
        None,
    )
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    busy = (sum(cpu) - cpu[3] - cpu[4]) / _TICK  # all but idle and iowait
    own = resource.getrusage(resource.RUSAGE_SELF)
    return {
        "Odoo": tree(odoo_pid),
        "PostgreSQL": tree(postmaster) if postmaster else 0.0,
        "Xero emulator": tree(xl_pid) if xl_pid else 0.0,
        "bench clients + Xero proxy": own.ru_utime + own.ru_stime,
        "machine": busy,
    }


def cpu_line(before, after, requests):
    d = {k: after[k] - before[k] for k in before}
    ours = sum(v for k, v in d.items() if k != "machine")
    parts = ", ".join(
        f"{k} {d[k]:.1f}s ({d[k] * 1000 / requests:.1f} ms/request)" for k in d if k != "machine"
    )
    return (
        f"CPU during the burst: {parts}; the machine's 2 cores were busy {d['machine']:.1f}s, "
        f"{max(d['machine'] - ours, 0):.1f}s of it other processes"
    )
