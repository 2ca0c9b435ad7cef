"""The runtime wheel holds the protocol layer only: the test tools (fault proxy, xero-local
runner, OpenAPI checks) are the distribution casemgr-xero-testing, never installed with it."""

import email.parser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

CORE = Path(__file__).resolve().parents[1]
TEST_ONLY = ("pytest", "jsonschema", "pyyaml", "casemgr-xero-testing")


@pytest.fixture(scope="module")
def core_wheel(tmp_path_factory):
    """casemgr-xero-core built from this checkout (a copy: nothing is written into it)."""
    pytest.importorskip("setuptools")
    tmp = tmp_path_factory.mktemp("core-wheel")
    src = tmp / "xero_core"
    skip = shutil.ignore_patterns("tests", ".*", "__pycache__", "*.egg-info", "build", "dist")
    shutil.copytree(CORE, src, ignore=skip)
    cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation"]
    done = subprocess.run(
        [*cmd, "--disable-pip-version-check", "-w", str(tmp / "out"), str(src)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    (wheel,) = (tmp / "out").glob("casemgr_xero_core-*.whl")
    return zipfile.ZipFile(wheel)


def test_core_wheel_holds_no_test_tool(core_wheel):
    names = [n for n in core_wheel.namelist() if not n.endswith("/")]
    payload = [n for n in names if ".dist-info/" not in n]
    assert payload and all(n.startswith("casemgr_xero_core/") for n in payload), payload
    assert not [n for n in payload if "testing" in n or "/tests/" in n]
    for name in payload:
        source = core_wheel.read(name).decode()
        assert "casemgr_xero_testing" not in source, name
        assert "import pytest" not in source, name


def test_core_wheel_requires_no_test_tool(core_wheel):
    meta_name = next(n for n in core_wheel.namelist() if n.endswith(".dist-info/METADATA"))
    meta = email.parser.HeaderParser().parsestr(core_wheel.read(meta_name).decode())
    requires = [r.lower() for r in meta.get_all("Requires-Dist") or []]
    assert requires and not [r for r in requires if r.startswith(TEST_ONLY)], requires
    assert not meta.get_all("Provides-Extra")
