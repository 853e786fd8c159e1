"""What the console's browser tests share: `make run`'s server on demo data, and Debian's chromium
with Playwright to drive it (skipped when either is missing, failed under
KEEL_REQUIRE_SERVICES=1)."""

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from keel.console import DIST
from tests.serving import KEEL, KeelServe, serving

ROOT = Path(__file__).resolve().parents[2]


def _needs(what: str) -> None:
    message = f"{what}: the console's browser tests cannot run"
    if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{message} and KEEL_REQUIRE_SERVICES=1", pytrace=False)
    pytest.skip(message)


@pytest.fixture
def chromium() -> str:
    """The browser's path, for Playwright's `executable_path`."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        _needs("chromium is not installed (apt-get install chromium)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _needs("the playwright package is not installed (pip install -e '.[test]')")
    if not (DIST / "index.html").is_file():
        _needs("the console is not built (make install, with npm)")
    return str(path)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KeelServe]:
    """`make run`'s steps in a data directory of the test's own."""
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
        "KEEL_DATA_DIR": str(tmp_path / "data"),
        "KEEL_ENV": "development",
        "KEEL_ACCESS_LOG": "false",
    }
    for step in (["migrate"], ["seed", "--demo"]):
        subprocess.run([*KEEL, *step], env=env, check=True, capture_output=True, timeout=120)
    with serving(env) as running:
        yield running
