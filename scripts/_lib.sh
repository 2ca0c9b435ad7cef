# shellcheck shell=bash
# Shared helpers for scripts/test, scripts/demo and bench/run. Source it; do not run it.
#
# Odoo series: 18.0 and 19.0 (ODOO_SERIES_SUPPORTED). Each series has its own project venv,
# .cache/venv-<series>; the series is the first of:
#   ODOO_SERIES         asked for by name (18.0 or 19.0)
#   PYTHON              when it already imports Odoo: that Odoo's series (the venv is then made
#                       with --system-site-packages on it)
#   ODOO_SRC            when set: the series of the Odoo it holds (odoo/release.py of a folder or
#                       archive; ODOO_BRANCH for a git URL)
#   ODOO_BRANCH         when set
#   .cache/venv-*       a venv already built here (the newest series among them), whatever
#                       ODOO_SRC would say
#   19.0                otherwise (Odoo's newest series this addon supports)
#
# Environment knobs (all optional):
#   PYTHON              base interpreter, Python 3.11 or 3.12 (default: python3). Nothing is ever
#                       installed into it.
#   ODOO_SRC            where Odoo comes from when PYTHON has none: a folder holding its sources
#                       (setup.py; used in place), a source archive (.tar.gz/.tgz/.zip), or a git
#                       URL (default https://github.com/odoo/odoo.git, branch ODOO_BRANCH, shallow)
#   XERO_LOCAL_BIN      an existing xero-local executable (skips building its venv)
#   CASEMGR_PG_PORT     PostgreSQL port (default 54329, always on 127.0.0.1)
#   CASEMGR_PG_DATA     data dir of the cluster we start (default /tmp/casemgr-xero-pg-$PORT)
#   CASEMGR_ADDON_DIR   the addon to install/test (default <repo>/casemgr_xero)
#   CASEMGR_SKIP_DEPS=1 no venv, no pip: use PYTHON as it is (hand-managed environment)
#   CASEMGR_TEST_TIMEOUT seconds one test may take before it fails with its stacks (default 600)

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="$REPO/.cache"
PYTHON="${PYTHON:-python3}"
BASE_PYTHON="$PYTHON" # the user's interpreter: read, never installed into
ODOO_SERIES_SUPPORTED=(18.0 19.0)
ODOO_DEFAULT_SERIES=19.0
ODOO_SRC_GIVEN="${ODOO_SRC:-}"
ODOO_BRANCH_GIVEN="${ODOO_BRANCH:-}"
ODOO_SRC="${ODOO_SRC:-https://github.com/odoo/odoo.git}"
ODOO_MISSING_WHY="" # set by ensure_venv when Odoo could not be installed
# this checkout's casemgr_xero_core and casemgr_xero_testing first, whatever else is installed
export PYTHONPATH="$REPO/xero_core:$REPO/xero_testing${PYTHONPATH:+:$PYTHONPATH}"
PG_PORT="${CASEMGR_PG_PORT:-54329}"
PG_HOST=127.0.0.1
PG_DATA="${CASEMGR_PG_DATA:-/tmp/casemgr-xero-pg-$PG_PORT}"
PG_BIN="${CASEMGR_PG_BIN:-}"
ADDON_DIR="${CASEMGR_ADDON_DIR:-$REPO/casemgr_xero}"
ADDON_DIR="${ADDON_DIR%/}"
ADDON_NAME="$(basename "$ADDON_DIR")"
XERO_LOCAL_VERSION="${XERO_LOCAL_VERSION:-0.1.2}"
PG_STARTED_BY_US=0

mkdir -p "$CACHE"

_ts() { date +%H:%M:%S; }
log() { printf '\033[1m[%s] %s\033[0m\n' "$(_ts)" "$*" >&2; }
warn() { printf '\033[33m[%s] WARNING: %s\033[0m\n' "$(_ts)" "$*" >&2; }
die() {
    printf '\033[31m[%s] ERROR: %s\033[0m\n' "$(_ts)" "$*" >&2
    echo "RESULT: FAILED: $*"
    exit 2
}

# ---- timing -----------------------------------------------------------------
declare -a PHASES=()
_phase_t0=0
phase_start() { _phase_name="$1"; _phase_t0=$SECONDS; log "== $1"; }
phase_end() {
    PHASES+=("$_phase_name: $((SECONDS - _phase_t0))s")
}
print_phases() { local p; for p in "${PHASES[@]}"; do echo "  - $p"; done; }

# ---- python / odoo ----------------------------------------------------------
command -v "$PYTHON" >/dev/null 2>&1 || die "'$PYTHON' not found: Python 3.11 is required"

# _py_series PY — the series of the Odoo that PY imports (e.g. 19.0), or nothing.
_py_series() {
    "$1" -c 'import odoo.release as r; print(r.serie)' 2>/dev/null
}

# _tree_series DIR — the series of the Odoo source tree DIR (odoo/release.py), or nothing.
_tree_series() {
    sed -nE 's/^version_info = \(([0-9]+), ([0-9]+),.*/\1.\2/p' "$1/odoo/release.py" 2>/dev/null | head -n 1
}

# _archive_series FILE — the series of an Odoo source archive, read without unpacking it.
_archive_series() {
    "$BASE_PYTHON" - "$1" <<'PY' 2>/dev/null
import re, sys, tarfile, zipfile
src = sys.argv[1]
if src.endswith(".zip"):
    z = zipfile.ZipFile(src)
    names = [n for n in z.namelist() if n.endswith("odoo/release.py") and n.count("/") <= 2]
    text = z.read(min(names, key=len)).decode()
else:
    t = tarfile.open(src)
    names = [m for m in t.getmembers() if m.name.endswith("odoo/release.py") and m.name.count("/") <= 2]
    text = t.extractfile(min(names, key=lambda m: len(m.name))).read().decode()
m = re.search(r"^version_info = \((\d+), (\d+),", text, re.M)
print(f"{m[1]}.{m[2]}")
PY
}

_supported_series() {
    local s
    for s in "${ODOO_SERIES_SUPPORTED[@]}"; do [[ "$s" == "$1" ]] && return 0; done
    return 1
}

# resolve_series — sets ODOO_SERIES (see the top of this file for the order), VENV and
# ODOO_BRANCH. Stops when the series asked for is not one this addon supports.
resolve_series() {
    local why s
    if [[ -n "${ODOO_SERIES:-}" ]]; then
        why="ODOO_SERIES"
    elif s="$(_py_series "$BASE_PYTHON")" && [[ -n "$s" ]]; then
        ODOO_SERIES="$s" why="the Odoo that $BASE_PYTHON imports"
    elif [[ -n "$ODOO_SRC_GIVEN" ]]; then
        why="ODOO_SRC=$ODOO_SRC_GIVEN"
        if [[ -f "$ODOO_SRC_GIVEN/setup.py" ]]; then
            ODOO_SERIES="$(_tree_series "$ODOO_SRC_GIVEN")"
        elif [[ -f "$ODOO_SRC_GIVEN" ]]; then
            ODOO_SERIES="$(_archive_series "$ODOO_SRC_GIVEN")"
        else
            ODOO_SERIES="${ODOO_BRANCH_GIVEN:-$ODOO_DEFAULT_SERIES}"
        fi
        [[ -n "$ODOO_SERIES" ]] || die "ODOO_SRC=$ODOO_SRC_GIVEN holds no odoo/release.py: not Odoo's sources"
    elif [[ -n "$ODOO_BRANCH_GIVEN" ]]; then
        ODOO_SERIES="$ODOO_BRANCH_GIVEN" why="ODOO_BRANCH"
    else
        for s in "${ODOO_SERIES_SUPPORTED[@]}"; do
            [[ -s "$CACHE/venv-$s/.casemgr-stamp" ]] && ODOO_SERIES="$s" why="the venv already built in $CACHE/venv-$s"
        done
        [[ -n "${ODOO_SERIES:-}" ]] || ODOO_SERIES="$ODOO_DEFAULT_SERIES" why="the default"
    fi
    _supported_series "$ODOO_SERIES" ||
        die "Odoo $ODOO_SERIES (from $why) is not a series casemgr_xero supports (${ODOO_SERIES_SUPPORTED[*]})"
    ODOO_MAJOR="${ODOO_SERIES%%.*}"
    ODOO_BRANCH="${ODOO_BRANCH_GIVEN:-$ODOO_SERIES}"
    VENV="$CACHE/venv-$ODOO_SERIES"
    export ODOO_SERIES
    log "Odoo series $ODOO_SERIES (from $why)"
}

have_odoo() {
    [[ "$(_py_series "$PYTHON")" == "$ODOO_SERIES" ]]
}

# Odoo's own addons directories, comma separated. Handles both layouts: a git checkout of
# github.com/odoo/odoo (<src>/addons + <src>/odoo/addons) and a packaged one (all in odoo/addons).
odoo_addons_dirs() {
    "$PYTHON" - <<'EOF'
import os
import odoo
import odoo.addons

dirs = [os.path.realpath(p) for p in odoo.addons.__path__]
# a git checkout of odoo/odoo keeps most addons in <src>/addons; a packaged tree has them all in
# odoo/addons, and a top-level addons/ beside it is then not Odoo's (a stale copy, say)
# (19.0's odoo is a namespace package: no __file__, one __path__ entry)
main = os.path.realpath(os.path.join(list(odoo.__path__)[0], "..", "addons"))
packaged = any(os.path.isdir(os.path.join(d, "web")) for d in dirs)
if os.path.isdir(main) and not packaged:
    dirs.append(main)
seen = []
for d in dirs:
    is_addons = any(os.path.isdir(os.path.join(d, m)) for m in ("base", "web"))
    if is_addons and d not in seen:
        seen.append(d)
print(",".join(seen))
EOF
}

free_port() {
    "$PYTHON" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Odoo's CLI. `python3 -m odoo` works for any pip-installed Odoo (odoo/__main__.py exists in 18.0 and 19.0).
odoo_cli() { "$PYTHON" -m odoo "$@"; }

# ---- the project venv (.cache/venv) ----------------------------------------------
_sha() { sha256sum | cut -c1-16; }

# Debian packages that Odoo's Python requirements need to build (python-ldap, psycopg2, ...).
ODOO_BUILD_DEBS=(libpq-dev libldap2-dev libsasl2-dev libjpeg-dev libffi-dev libssl-dev
    libxml2-dev libxslt1-dev zlib1g-dev)

# ensure_debs STEP PKG... — install missing Debian packages with apt-get when root, else stop
# with the exact command to run.
ensure_debs() {
    local step="$1" missing=() p
    shift
    command -v dpkg-query >/dev/null 2>&1 || return 0 # not Debian/Ubuntu: the user's business
    for p in "$@"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
    done
    ((${#missing[@]})) || return 0
    local line="apt-get install -y --no-install-recommends ${missing[*]}"
    if [[ $EUID -eq 0 && "${CASEMGR_SKIP_DEPS:-0}" != 1 ]] && command -v apt-get >/dev/null; then
        log "$step: $line"
        { DEBIAN_FRONTEND=noninteractive $line ||
            { apt-get update && DEBIAN_FRONTEND=noninteractive $line; }; } \
            >"$CACHE/apt.log" 2>&1 || { tail -n 20 "$CACHE/apt.log" >&2; die "step '$step': $line failed (log: $CACHE/apt.log)"; }
    else
        die "step '$step': missing Debian packages; run as root: sudo $line"
    fi
}

# _odoo_fail STEP MESSAGE — Odoo cannot be had: remembered for the caller (scripts/test runs the
# pure tests and says SKIPPED; demo and bench stop).
_odoo_fail() {
    ODOO_MISSING_WHY="step '$1' failed: $2 (ODOO_SRC=$ODOO_SRC)"
    printf '\033[31m[%s] %s\033[0m\n' "$(_ts)" "Odoo $ODOO_SERIES cannot be installed: $ODOO_MISSING_WHY" >&2
    return 1
}

# _odoo_sources — sets ODOO_SRC_DIR to the folder holding Odoo's sources (its setup.py), getting
# them first when ODOO_SRC is an archive or a git URL (into .cache/odoo-src).
_odoo_sources() {
    local dest="$CACHE/odoo-src-$ODOO_SERIES" src="$ODOO_SRC"
    if [[ -f "$src/setup.py" ]]; then
        ODOO_SRC_DIR="$(cd "$src" && pwd)"
        return 0
    fi
    if [[ -f "$dest/setup.py" && "$(cat "$dest/.casemgr-origin" 2>/dev/null)" == "$src $ODOO_BRANCH" ]]; then
        ODOO_SRC_DIR="$dest"
        return 0
    fi
    rm -rf "$dest" && mkdir -p "$dest"
    case "$src" in
    *.tar.gz | *.tgz | *.tar.bz2 | *.tar.xz | *.tar)
        [[ -f "$src" ]] || { _odoo_fail "Odoo sources" "no such archive"; return 1; }
        log "Odoo sources: unpacking $src into $dest"
        tar -xf "$src" -C "$dest" --strip-components=1 >&2 ||
            { _odoo_fail "Odoo sources" "cannot unpack $src"; return 1; }
        ;;
    *.zip)
        [[ -f "$src" ]] || { _odoo_fail "Odoo sources" "no such archive"; return 1; }
        log "Odoo sources: unpacking $src into $dest"
        "$BASE_PYTHON" - "$src" "$dest" >&2 <<'PY' || { _odoo_fail "Odoo sources" "cannot unpack $src"; return 1; }
import os, shutil, sys, tempfile, zipfile
src, dest = sys.argv[1:3]
tmp = tempfile.mkdtemp(dir=dest)
zipfile.ZipFile(src).extractall(tmp)
(top,) = os.listdir(tmp)
for name in os.listdir(os.path.join(tmp, top)):
    shutil.move(os.path.join(tmp, top, name), dest)
shutil.rmtree(tmp)
PY
        ;;
    *://* | git@*)
        command -v git >/dev/null 2>&1 || { _odoo_fail "Odoo sources" "git is not installed (apt-get install git)"; return 1; }
        log "Odoo sources: git clone --depth 1 --branch $ODOO_BRANCH $src (a few minutes)"
        git clone -q --depth 1 --branch "$ODOO_BRANCH" "$src" "$dest" >"$CACHE/odoo-clone.log" 2>&1 || {
            tail -n 5 "$CACHE/odoo-clone.log" >&2
            _odoo_fail "Odoo sources" "git clone of $src (branch $ODOO_BRANCH) failed (offline? log: $CACHE/odoo-clone.log)"
            return 1
        }
        ;;
    *)
        _odoo_fail "Odoo sources" "not a folder with setup.py, a source archive or a git URL"
        return 1
        ;;
    esac
    [[ -f "$dest/setup.py" ]] || { _odoo_fail "Odoo sources" "no setup.py in what ODOO_SRC gave"; return 1; }
    echo "$src $ODOO_BRANCH" >"$dest/.casemgr-origin"
    ODOO_SRC_DIR="$dest"
}

# _install_odoo_into_venv — Odoo $ODOO_SERIES from ODOO_SRC, its requirements from PyPI.
_install_odoo_into_venv() {
    local src
    ensure_debs "build dependencies of Odoo's requirements" "${ODOO_BUILD_DEBS[@]}"
    _odoo_sources || return 1
    src="$ODOO_SRC_DIR"
    [[ "$(_tree_series "$src")" == "$ODOO_SERIES" ]] ||
        { _odoo_fail "Odoo sources" "$src is not Odoo $ODOO_SERIES (odoo/release.py)"; return 1; }
    # old source distributions among the pins (e.g. vobject, pypdf2) need setuptools < 81, also
    # inside pip's isolated build environments: PIP_CONSTRAINT reaches those.
    local cons="$CACHE/pip-build-constraints.txt"
    echo "setuptools<81" >"$cons"
    log "installing Odoo's Python requirements ($src/requirements.txt) into $VENV (a few minutes)"
    PIP_CONSTRAINT="$cons" "$PYTHON" -m pip install -q --disable-pip-version-check \
        -r "$src/requirements.txt" >"$CACHE/pip-odoo.log" 2>&1 || {
        tail -n 30 "$CACHE/pip-odoo.log" >&2
        _odoo_fail "Odoo's Python requirements" "pip install -r $src/requirements.txt failed (PyPI unreachable? missing headers? log: $CACHE/pip-odoo.log)"
        return 1
    }
    # Odoo itself: a .pth pointing at the sources (what an editable install does, without
    # writing build files into a tree that may be shared or read-only).
    local site
    site="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    echo "$src" >"$site/casemgr-odoo-src.pth"
    have_odoo || { _odoo_fail "Odoo itself" "$PYTHON cannot import Odoo $ODOO_SERIES from $src"; return 1; }
}

# ensure_venv — makes PYTHON the series' project venv interpreter, .cache/venv-<series>
# (building it when needed; one built before is reused, whatever ODOO_SRC says). Without Odoo
# available, ODOO_MISSING_WHY says why and the venv still serves the pure tests.
ensure_venv() {
    [[ -n "${ODOO_SERIES:-}" && -n "${VENV:-}" ]] || resolve_series
    if [[ "${CASEMGR_SKIP_DEPS:-0}" == 1 ]]; then
        have_odoo || ODOO_MISSING_WHY="$PYTHON cannot import Odoo $ODOO_SERIES and CASEMGR_SKIP_DEPS=1"
        return 0
    fi
    local ver mode key
    ver="$("$BASE_PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)"
    case "$ver" in
    3.11 | 3.12) ;;
    *) die "PYTHON=$BASE_PYTHON is Python ${ver:-?}: Odoo $ODOO_SERIES and this project need Python 3.11 or 3.12" ;;
    esac
    if [[ "$(_py_series "$BASE_PYTHON")" == "$ODOO_SERIES" ]]; then
        mode="system-site-packages"
    else
        mode="odoo-from-source"
    fi
    key="v2 $ODOO_SERIES $mode $("$BASE_PYTHON" -c 'import sys; print(sys.base_prefix, sys.version)' | tr '\n' ' ')"
    local stamp="$VENV/.casemgr-stamp" built
    built="$(cat "$stamp" 2>/dev/null)"
    # Reuse the series' venv whatever ODOO_SRC says; only a PYTHON that brings this series' Odoo
    # itself, and is not the one the venv was made on, makes a new one.
    if [[ -x "$VENV/bin/python" && ("$built" == "$key" || ("$mode" != system-site-packages && "$built" == "v2 $ODOO_SERIES "*)) ]] &&
        "$VENV/bin/python" -c 1 2>/dev/null; then
        PYTHON="$VENV/bin/python"
        if have_odoo; then return 0; fi
        warn "the venv $VENV no longer imports Odoo $ODOO_SERIES (its sources moved?): building it again"
        PYTHON="$BASE_PYTHON"
    fi
    rm -rf "$VENV"
    rm -f "$CACHE/deps-$(echo "$VENV/bin/python" | _sha).stamp"
    local vargs=()
    [[ "$mode" == system-site-packages ]] && vargs=(--system-site-packages)
    log "creating the project venv $VENV (Odoo $ODOO_SERIES, $mode; Python $ver from $BASE_PYTHON)"
    "$BASE_PYTHON" -m venv "${vargs[@]}" "$VENV" >"$CACHE/venv.log" 2>&1 || {
        cat "$CACHE/venv.log" >&2
        die "step 'project venv': $BASE_PYTHON -m venv failed (Debian: apt-get install python3-venv)"
    }
    PYTHON="$VENV/bin/python"
    if [[ "$mode" == system-site-packages ]]; then
        # PYTHON may itself be a venv: --system-site-packages then reaches its base interpreter,
        # not PYTHON's own site-packages where Odoo is. Add those (their .pth files included).
        local site
        site="$("$PYTHON" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
        "$BASE_PYTHON" -c 'import site, sys
dirs = [d for d in site.getsitepackages() if d.startswith(sys.prefix)] if sys.prefix != sys.base_prefix else []
print("".join("import site; site.addsitedir(%r)\n" % d for d in dirs), end="")' >"$site/casemgr-base-site.pth"
        have_odoo || die "the venv $VENV made on $BASE_PYTHON does not import Odoo $ODOO_SERIES"
    elif ! _install_odoo_into_venv; then
        return 0 # no stamp: the next run tries again
    fi
    echo "$key" >"$stamp"
}

# ---- dependencies -----------------------------------------------------------

# Pins that Odoo itself needs and pip must never move (whatever versions Odoo installed).
write_constraints() {
    local out="$CACHE/pip-constraints.txt"
    "$PYTHON" - >"$out" <<'EOF'
from importlib.metadata import version, PackageNotFoundError
for name in ("urllib3", "python-dateutil", "Werkzeug"):
    try:
        print(f"{name}=={version(name)}")
    except PackageNotFoundError:
        pass
EOF
    echo "$out"
}

ensure_xero_local() {
    if [[ -n "${XERO_LOCAL_BIN:-}" ]]; then
        [[ -x "$XERO_LOCAL_BIN" ]] || die "XERO_LOCAL_BIN=$XERO_LOCAL_BIN is set but not an executable"
        export XERO_LOCAL_BIN
        return 0
    fi
    local venv="$CACHE/venv-xero-local"
    local stamp="$venv/.casemgr-stamp" want="localstack-xero==$XERO_LOCAL_VERSION"
    if [[ ! -x "$venv/bin/xero-local" || "$(cat "$stamp" 2>/dev/null)" != "$want" ]]; then
        [[ "${CASEMGR_SKIP_DEPS:-0}" == 1 ]] && die "xero-local is missing ($venv) and CASEMGR_SKIP_DEPS=1"
        log "creating xero-local venv at $venv ($want; needs Werkzeug>=3, so it lives apart from Odoo)"
        rm -rf "$venv"
        "$BASE_PYTHON" -m venv "$venv" >/dev/null ||
            die "python venv creation failed (missing: the venv module; Debian: apt-get install python3-venv)"
        "$venv/bin/python" -m pip install -q --disable-pip-version-check "$want" \
            >"$CACHE/pip-xero-local.log" 2>&1 || {
            tail -n 30 "$CACHE/pip-xero-local.log" >&2
            die "pip could not install $want into $venv (missing: PyPI access?)"
        }
        echo "$want" >"$stamp"
    fi
    export XERO_LOCAL_BIN="$venv/bin/xero-local"
}

# Installs into $PYTHON: xero_core and xero_testing (editable; the test tools are a distribution
# of their own, casemgr-xero-testing), xero-python, pytest-timeout, and pytest-odoo when Odoo is there.
# Re-runs pip only when the inputs change or an import fails.
ensure_python_deps() {
    local with_odoo=0 reqs=() imports="import pytest, pytest_timeout, xero_python" check=""
    have_odoo && with_odoo=1
    reqs+=("xero-python" "pytest-timeout")
    if [[ -f "$REPO/xero_core/pyproject.toml" && -f "$REPO/xero_testing/pyproject.toml" ]]; then
        reqs+=("-e" "$REPO/xero_core" "-e" "$REPO/xero_testing")
        # must be THIS checkout's copies (an editable install may point at another clone)
        imports+=", os, casemgr_xero_core, casemgr_xero_testing"
        local pkg
        for pkg in xero_core/casemgr_xero_core xero_testing/casemgr_xero_testing; do
            check+="; assert os.path.realpath(${pkg##*/}.__file__).startswith("
            check+="os.path.realpath('$REPO/$pkg') + os.sep), ${pkg##*/}.__file__"
        done
    else
        warn "xero_core/ or xero_testing/pyproject.toml not found: casemgr_xero_core is not installed"
        reqs+=("pytest")
    fi
    if ((with_odoo)); then
        reqs+=("pytest-odoo")
        imports+=", pytest_odoo"
    fi
    imports+="$check"
    local key
    key="$({ echo "$PYTHON $with_odoo ${reqs[*]}"; cat "$REPO"/xero_core/pyproject.toml "$REPO"/xero_testing/pyproject.toml 2>/dev/null; } | _sha)"
    local stamp
    stamp="$CACHE/deps-$(echo "$PYTHON" | _sha).stamp"
    if [[ "$(cat "$stamp" 2>/dev/null)" == "$key" ]] && "$PYTHON" -c "$imports" >/dev/null 2>&1; then
        return 0
    fi
    [[ "${CASEMGR_SKIP_DEPS:-0}" == 1 ]] && { warn "CASEMGR_SKIP_DEPS=1: not installing ${reqs[*]}"; return 0; }
    local cargs=()
    if ((with_odoo)); then cargs=(-c "$(write_constraints)"); fi
    log "pip install ${reqs[*]} ${cargs[*]}"
    "$PYTHON" -m pip install -q --disable-pip-version-check "${cargs[@]}" "${reqs[@]}" \
        >"$CACHE/pip.log" 2>&1 || {
        tail -n 30 "$CACHE/pip.log" >&2
        die "pip install failed for: ${reqs[*]} (full log: $CACHE/pip.log)"
    }
    "$PYTHON" -c "$imports" || die "after pip install, still cannot: $imports"
    echo "$key" >"$stamp"
}

# ---- PostgreSQL -------------------------------------------------------------
find_pg_bin() {
    [[ -n "$PG_BIN" && -x "$PG_BIN/pg_ctl" ]] && return 0
    local d
    for d in /usr/lib/postgresql/{17,16,15,14,13}/bin; do
        if [[ -x "$d/pg_ctl" ]]; then PG_BIN="$d"; return 0; fi
    done
    if command -v pg_ctl >/dev/null 2>&1; then PG_BIN="$(dirname "$(command -v pg_ctl)")"; return 0; fi
    if [[ -z "${_PG_APT_TRIED:-}" ]]; then
        _PG_APT_TRIED=1
        ensure_debs "PostgreSQL server" postgresql
        find_pg_bin
        return 0
    fi
    die "PostgreSQL server binaries (initdb, pg_ctl) not found (Debian: apt-get install postgresql)"
}

# Run a command as the postgres OS user when we are root (postgres refuses to run as root).
_as_pg() {
    if [[ $EUID -eq 0 ]]; then
        id postgres >/dev/null 2>&1 || die "running as root but there is no 'postgres' OS user"
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

pg_reachable() { "$PG_BIN/pg_isready" -q -h "$PG_HOST" -p "$PG_PORT" >/dev/null 2>&1; }

psql_as() { # psql_as USER SQL
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U "$1" -d postgres -tAc "$2"
}

ensure_pg() {
    find_pg_bin
    if pg_reachable; then
        log "PostgreSQL already answers on $PG_HOST:$PG_PORT: using it"
    else
        local su=postgres
        [[ $EUID -ne 0 ]] && su="$(id -un)"
        if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
            log "initdb $PG_DATA"
            rm -rf "$PG_DATA"
            mkdir -p "$PG_DATA"
            [[ $EUID -eq 0 ]] && chown postgres: "$PG_DATA"
            chmod 700 "$PG_DATA"
            _as_pg "$PG_BIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
                >"$CACHE/initdb.log" 2>&1 || { cat "$CACHE/initdb.log" >&2; die "initdb failed"; }
        fi
        log "starting PostgreSQL on $PG_HOST:$PG_PORT (data $PG_DATA)"
        # fsync off: a throwaway test/dev cluster; makes database creation much faster.
        _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_DATA/server.log" -w -t 60 start \
            -o "-c listen_addresses=$PG_HOST -p $PG_PORT -c unix_socket_directories='$PG_DATA' -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
            >/dev/null || { tail -n 20 "$PG_DATA/server.log" >&2; die "PostgreSQL did not start"; }
        PG_STARTED_BY_US=1
        : "$su"
    fi
    # role odoo (Odoo refuses to connect as 'postgres')
    if ! psql_as odoo "SELECT 1" >/dev/null 2>&1; then
        psql_as postgres "CREATE ROLE odoo LOGIN SUPERUSER CREATEDB" >/dev/null ||
            die "cannot create role 'odoo' on $PG_HOST:$PG_PORT (connect as postgres failed)"
    fi
}

pg_stop_if_ours() {
    if ((PG_STARTED_BY_US)); then
        log "stopping the PostgreSQL we started"
        _as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w stop >/dev/null 2>&1 || true
        PG_STARTED_BY_US=0
    fi
}

db_exists() { [[ "$(psql_as odoo "SELECT 1 FROM pg_database WHERE datname='$1'")" == 1 ]]; }

module_state() {
    "$PG_BIN/psql" -X -h "$PG_HOST" -p "$PG_PORT" -U odoo -d "$1" -tAc \
        "SELECT state FROM ir_module_module WHERE name='$2'" 2>/dev/null
}

drop_db() {
    local db="$1"
    "$PG_BIN/dropdb" -h "$PG_HOST" -p "$PG_PORT" -U odoo --if-exists --force "$db" 2>/dev/null ||
        die "could not drop database $db"
    rm -rf "$CACHE/odoo-data/filestore/$db"
}

# settle_stats DB — planner statistics that do not depend on earlier runs or autovacuum timing.
# Tests roll back: their rows become dead rows. (Auto)VACUUM/ANALYZE of a table holding only dead
# rows records reltuples = 0 with relpages > 0, a density of 0 rows per page, so the planner then
# estimates 1 row for such a table however big it grows within a test: nested loops of seq scans,
# quadratic (Odoo's payment-state query in action_post took minutes once a test had made a few
# hundred invoices). So, before the tests: autovacuum off on every table of the test database (no
# statistics change in the middle of a run), then one VACUUM ANALYZE with nobody connected, which
# truncates tables holding only dead rows to 0 pages (relpages = 0: the planner then scales its
# estimates with the table's real size) and analyses what the install committed. JIT off: with
# size-based estimates, bloat from rolled-back rows would make queries look big enough to JIT.
settle_stats() {
    local db="$1" sqlf="$CACHE/settle-stats.sql"
    _db_psql() { "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_HOST" -p "$PG_PORT" -U odoo -d "$db" "$@"; }
    {
        echo "ALTER DATABASE \"$db\" SET jit = off;"
        _db_psql -tAc "SELECT format('ALTER TABLE %I.%I SET (autovacuum_enabled = false);', n.nspname, c.relname)
                       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                       WHERE c.relkind = 'r' AND n.nspname = 'public'
                         AND NOT coalesce('autovacuum_enabled=false' = ANY (c.reloptions), false)"
    } >"$sqlf" || die "cannot read the tables of $db"
    _db_psql -f "$sqlf" >/dev/null || die "cannot turn autovacuum off in $db"
    _db_psql -c "VACUUM ANALYZE" >/dev/null 2>&1 || die "VACUUM ANALYZE of $db failed"
}

# write_odoo_conf FILE HTTP_PORT [ADDONS_DIRS]
# addons_path: ADDONS_DIRS when given (comma separated; may be empty), else the addon's parent
# directory; then Odoo's own addons directories.
write_odoo_conf() {
    local conf="$1" port="$2" odoo_dirs addons_parent
    odoo_dirs="$(odoo_addons_dirs)" || die "cannot locate Odoo's addons directories"
    [[ -n "$odoo_dirs" ]] || die "Odoo's addons directories not found"
    if [[ -n "${3+set}" ]]; then
        addons_parent="$3"
    else
        [[ -f "$ADDON_DIR/__manifest__.py" ]] || die "$ADDON_DIR/__manifest__.py not found"
        addons_parent="$(cd "$(dirname "$ADDON_DIR")" && pwd)"
    fi
    mkdir -p "$CACHE/odoo-data"
    cat >"$conf" <<EOF
[options]
db_host = $PG_HOST
db_port = $PG_PORT
db_user = odoo
addons_path = ${addons_parent:+$addons_parent,}$odoo_dirs
data_dir = $CACHE/odoo-data
without_demo = True
log_level = warn
http_interface = 127.0.0.1
http_port = $port
gevent_port = $(free_port)
max_cron_threads = 0
workers = 0
EOF
}

# install_addon CONF DB MODE(i|u) LOGFILE — fails loudly unless the module ends up installed.
# No demo data: --without-demo=True, which 18 and 19 both read so.
install_addon() {
    local conf="$1" db="$2" mode="$3" logf="$4" rc=0 demo=(--without-demo=True)
    odoo_cli -c "$conf" -d "$db" "-$mode" "$ADDON_NAME" --stop-after-init "${demo[@]}" \
        --no-http --max-cron-threads=0 >"$logf" 2>&1 || rc=$?
    local state errors
    state="$(module_state "$db" "$ADDON_NAME")"
    # Odoo trees with extra addons (the 19.0 snapshot's ai_app_deepseek: auto_install on an absent
    # ai_app) log "inconsistent states" for those; not an error of this install unless it names us.
    errors="$(grep -E ' (ERROR|CRITICAL) ' "$logf" | grep -vE "Some modules have inconsistent states, some dependencies may be missing: \[[^]]*\]" || true)"
    if grep -E "Some modules have inconsistent states" "$logf" | grep -q "'$ADDON_NAME'"; then errors+=x; fi
    if ((rc != 0)) || [[ "$state" != installed ]] || [[ -n "$errors" ]]; then
        echo "------ last lines of $logf ------" >&2
        grep -nE ' (ERROR|CRITICAL) ' "$logf" | head -n 20 >&2 || true
        tail -n 40 "$logf" >&2
        die "Odoo could not install $ADDON_NAME on $db (exit $rc, module state '${state:-none}')"
    fi
    # An Odoo tree whose extra addons depend on modules it lacks (the 19.0 snapshot's
    # ai_app_deepseek: auto_install on an absent ai_app) leaves them 'to install' for ever, and
    # Odoo's cron runner then skips the whole database ("modules to install/upgrade/remove"):
    # no export, no payment import. Put those back to 'uninstalled', and say so.
    local stuck
    stuck="$("$PG_BIN/psql" -X -q -h "$PG_HOST" -p "$PG_PORT" -U odoo -d "$db" -tAc "
        UPDATE ir_module_module m SET state = 'uninstalled'
         WHERE m.state = 'to install' AND EXISTS (
               SELECT 1 FROM ir_module_module_dependency d
                WHERE d.module_id = m.id
                  AND d.name NOT IN (SELECT name FROM ir_module_module
                                      WHERE state IN ('installed', 'to install', 'to upgrade')))
        RETURNING m.name" 2>/dev/null | tr '\n' ' ')"
    [[ -n "${stuck// /}" ]] && warn "$db: set back to 'uninstalled' (their dependencies are not in this Odoo tree): $stuck"
    return 0
}

# ---- browser (tours, screenshots) ------------------------------------------------
# Chromium (Debian package `chromium`, installed with apt-get when root and missing) and the
# Python package websocket-client (Odoo's tours need both; Odoo's requirements omit the latter).
# Sets CHROMIUM. Returns 1 (after saying why) when the browser cannot be had.
ensure_browser_deps() {
    CHROMIUM="${CHROMIUM:-}"
    local c
    if [[ -z "$CHROMIUM" ]]; then
        for c in chromium chromium-browser google-chrome; do
            if command -v "$c" >/dev/null 2>&1; then CHROMIUM="$(command -v "$c")"; break; fi
        done
    fi
    if [[ -z "$CHROMIUM" ]]; then
        if [[ $EUID -eq 0 && "${CASEMGR_SKIP_DEPS:-0}" != 1 ]] && command -v apt-get >/dev/null; then
            log "installing Chromium for the browser tours (apt-get install chromium)"
            { apt-get install -y --no-install-recommends chromium ||
                { apt-get update && apt-get install -y --no-install-recommends chromium; }; } \
                >"$CACHE/apt-chromium.log" 2>&1 || warn "apt-get could not install chromium (log: $CACHE/apt-chromium.log)"
            command -v chromium >/dev/null 2>&1 && CHROMIUM="$(command -v chromium)"
        fi
    fi
    if [[ -z "$CHROMIUM" ]]; then
        warn "Chromium not found: browser tours cannot run (as root: apt-get install chromium; or set CHROMIUM=/path)"
        return 1
    fi
    export CHROMIUM
    if ! "$PYTHON" -c "import websocket" >/dev/null 2>&1; then
        if [[ "${CASEMGR_SKIP_DEPS:-0}" == 1 ]]; then
            warn "websocket-client missing and CASEMGR_SKIP_DEPS=1: browser tours cannot run"
            return 1
        fi
        log "pip install websocket-client (Odoo's tours talk to Chromium through it)"
        local cargs=()
        have_odoo && cargs=(-c "$(write_constraints)")
        "$PYTHON" -m pip install -q --disable-pip-version-check "${cargs[@]}" websocket-client \
            >"$CACHE/pip-websocket.log" 2>&1 || {
            warn "pip could not install websocket-client (log: $CACHE/pip-websocket.log)"
            return 1
        }
    fi
    return 0
}
