"""Servers on free loopback ports for the tests that talk to one over a socket: `keel serve` as a
real process (uvicorn's own parsing, several workers, a process killed mid-request), or an app
served in-process by uvicorn on the test's event loop. Each is healthy before the test uses it
and stopped after it, also when the test fails."""

import asyncio
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import IO

import httpx
import uvicorn
from starlette.types import ASGIApp

KEEL = [sys.executable, "-m", "keel"]


def free_port() -> int:
    """A loopback port nothing listens on (bound, then closed): a server to start, or one that is down."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class KeelServe:
    """`keel serve *args --port P` in a session of its own, so that stopping it stops the workers
    it forks; it can be stopped and started again on the same port and data. Its output goes to
    `log` (appended to on a restart) or else to a temporary file, and is shown when the process
    exits early or never becomes healthy."""

    def __init__(
        self, env: dict[str, str], *args: str, port: int | None = None, log: Path | None = None
    ) -> None:
        self.env = env
        self.args = args
        self.port = port or free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None
        self._output: IO[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30) -> None:
        """Start it and wait until /health answers 200."""
        self._output = self.log.open("ab") if self.log else tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [*KEEL, "serve", *self.args, "--port", str(self.port)],
            env=self.env,
            stdout=self._output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            self.assert_running()
            try:
                if httpx.get(f"{self.url}/health").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f"keel serve was not healthy after {timeout}s:\n{self.tail()}"
            time.sleep(0.1)

    def assert_running(self) -> None:
        assert self.process is not None and self.process.poll() is None, f"keel serve exited:\n{self.tail()}"

    def tail(self, size: int = 4000) -> str:
        """The end of its output, read without moving the file offset the server writes at."""
        if self._output is None:
            return "(not running)"
        fd = self._output.fileno()
        end = os.fstat(fd).st_size
        return os.pread(fd, size, max(0, end - size)).decode(errors="replace")

    def stop(self) -> None:
        """SIGTERM, and SIGKILL if it lingers; nothing if it is not running."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        assert self._output is not None
        self._output.close()
        self.process = self._output = None

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)
        self.stop()


@contextmanager
def serving(
    env: dict[str, str], *args: str, port: int | None = None, log: Path | None = None, timeout: float = 30
) -> Iterator[KeelServe]:
    """A healthy `keel serve *args` (see KeelServe), stopped on the way out."""
    server = KeelServe(env, *args, port=port, log=log)
    try:
        server.start(timeout)
        yield server
    finally:
        server.stop()


@asynccontextmanager
async def in_process(app: ASGIApp) -> AsyncIterator[str]:
    """`app` served by uvicorn with its lifespan on the test's event loop (the one its database
    engines live on, so requests and WebSocket clients meet one hub); its base URL."""
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
