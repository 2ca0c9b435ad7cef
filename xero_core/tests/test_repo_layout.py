"""No module over 400 lines: a file that grows past it holds more than one concept."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAX_LINES = 400
TREES = ("xero_core", "xero_testing", "casemgr_xero")
TOP_LEVEL = ("scripts", "bench")


def _modules():
    for tree in TREES:
        for path in (REPO / tree).rglob("*.py"):
            if not any(part.startswith(".") or part == "build" for part in path.parts):
                yield path
    for folder in TOP_LEVEL:
        yield from (REPO / folder).glob("*.py")


def test_no_module_over_400_lines():
    too_long = {}
    for path in _modules():
        with path.open(encoding="utf-8") as f:
            count = sum(1 for _ in f)
        if count > MAX_LINES:
            too_long[str(path.relative_to(REPO))] = count
    assert too_long == {}
