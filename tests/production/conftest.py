"""keel in the shape it ships in: `keel migrate`, `keel seed` and `keel serve --workers 2` as real
processes with production settings, on PostgreSQL, Redis and a private Mosquitto run from the
repository's deploy/mosquitto.conf, with background jobs in a separate `keel worker`. One server
for the whole session: the flows in this folder share it.

Which worker answered a request is read from the Prometheus files each worker writes under
PROMETHEUS_MULTIPROC_DIR (`counter_<pid>.db`), so a test can prove that both workers took part
instead of hoping the kernel spread its connections."""

import asyncio
import os
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector

from keel.apps import APP_SLUGS
from tests.broker import Broker
from tests.databases import REDIS_URL, SERVER_URLS, drop_database, fresh_database, require_service
from tests.serving import KEEL, serving

ADMIN_EMAIL = "admin@example.com"
ADMIN_PASSWORD = "production-shape-admin"
# A Redis database of its own, emptied when the server starts: its rate-limit buckets (coach
# allows 10 registrations an hour per address, and every request here comes from 127.0.0.1)
# would otherwise carry over from earlier runs.
REDIS_DB = 11
# Enough tries for the kernel to hand both workers a connection (each try is a new connection).
TRIES = 40


def _require_program(name: str) -> None:
    if shutil.which(name) is None:
        if os.environ.get("KEEL_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{name} is not installed and KEEL_REQUIRE_SERVICES=1", pytrace=False)
        pytest.skip(f"{name} is not installed")


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-4000:] if log.exists() else "(no log)"


def _wait(process: subprocess.Popen[bytes]) -> None:
    """Wait for a process told to stop; SIGKILL its session if it lingers."""
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


@dataclass
class Production:
    base_url: str
    mqtt_port: int
    metrics_dir: Path
    views_dir: Path
    # Answers the tests' clients received from the apps; once every worker has counted as
    # many, no count is still on its way.
    received: int = 0

    def client(self, slug: str) -> httpx.AsyncClient:
        """A client of one app whose every request opens a new connection, as separate phones
        would: the kernel gives each to whichever worker accepts it first."""

        async def count(_response: httpx.Response) -> None:
            self.received += 1

        return httpx.AsyncClient(
            base_url=f"{self.base_url}/{slug}",
            limits=httpx.Limits(max_keepalive_connections=0),
            timeout=30,
            event_hooks={"response": [count]},
        )

    def counted(self, name: str, **labels: str) -> Counter[int]:
        """A counter's total per worker pid (its samples with these labels)."""
        totals: Counter[int] = Counter()
        for path in self.metrics_dir.glob("counter_*.db"):
            pid = int(path.stem.split("_", 1)[1])
            # MultiProcessCollector reads a folder: give it one holding only this pid's file.
            view = self.views_dir / str(pid)
            if not view.exists():
                view.mkdir(parents=True)
                (view / path.name).symlink_to(path)
            registry = CollectorRegistry()
            MultiProcessCollector(registry, path=str(view))
            for metric in registry.collect():
                for sample in metric.samples:
                    if sample.name == f"{name}_total" and labels.items() <= sample.labels.items():
                        totals[pid] += sample.value
        return totals

    def answered(self) -> Counter[int]:
        """The apps' answers (not the server's own /health) per worker pid."""
        return self.counted("keel_http_requests") - self.counted("keel_http_requests", app="keel")

    async def _settled(self) -> Counter[int]:
        # A worker counts a request just after its answer is sent, so wait for the count of
        # every answer already received before comparing.
        for _ in range(500):
            answered = self.answered()
            if sum(answered.values()) >= self.received:
                assert sum(answered.values()) == self.received, f"{answered} for {self.received} answers"
                return answered
            await asyncio.sleep(0.01)
        raise AssertionError(f"the workers counted {self.answered()} of {self.received} answers")

    async def served_by(self, request: Awaitable[httpx.Response]) -> tuple[httpx.Response, int]:
        """The answer to `request` (one of this object's clients') and the pid of the worker
        that answered it; the tests send one request at a time."""
        before = await self._settled()
        response = await request
        (pid,) = (await self._settled() - before).keys()
        return response, pid

    async def on_both(self, request: Callable[[], Awaitable[httpx.Response]]) -> list[httpx.Response]:
        """`request` sent again on new connections until both workers have answered it; every
        answer."""
        answers: list[httpx.Response] = []
        pids: set[int] = set()
        for _ in range(TRIES):
            response, pid = await self.served_by(request())
            answers.append(response)
            pids.add(pid)
            if len(pids) == 2:
                return answers
        raise AssertionError(f"only worker {pids} answered {TRIES} new connections")


async def _fresh_databases(folder: Path) -> dict[str, str]:
    names = [f"keel_production_{slug}" for slug in APP_SLUGS]
    made = await asyncio.gather(*(fresh_database("postgresql", name, folder) for name in names))
    return dict(zip(APP_SLUGS, made, strict=True))


async def _drop_databases(urls: Iterable[str]) -> None:
    await asyncio.gather(*(drop_database("postgresql", url) for url in urls))


def _keel(env: dict[str, str], *command: str) -> None:
    done = subprocess.run([*KEEL, *command], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, f"keel {command[0]}:\n{done.stdout[-3000:]}{done.stderr[-3000:]}"


def _spawn(env: dict[str, str], log: Path, *command: str) -> subprocess.Popen[bytes]:
    # A session of its own, so that stopping it stops the workers it forks.
    with log.open("wb") as out:
        return subprocess.Popen(
            [*KEEL, *command], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


@pytest.fixture(scope="session")
def production(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Production]:
    require_service("postgresql", SERVER_URLS["postgresql"])
    require_service("redis", REDIS_URL)
    _require_program("mosquitto")
    folder = tmp_path_factory.mktemp("production")
    broker_dir = folder / "broker"
    broker_dir.mkdir()
    redis_url = f"{REDIS_URL.rsplit('/', 1)[0]}/{REDIS_DB}"
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    urls: dict[str, str] = {}
    worker: subprocess.Popen[bytes] | None = None
    broker = Broker(broker_dir)
    try:
        urls.update(asyncio.run(_fresh_databases(folder)))
        broker.start()
        mqtt_port = broker.port
        env = {
            **os.environ,
            "KEEL_ENV": "production",
            "KEEL_SECRET_KEY": "production-shape-secret-" + "s" * 24,
            "KEEL_ADMIN_EMAIL": ADMIN_EMAIL,
            "KEEL_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "KEEL_DATA_DIR": str(folder / "data"),
            "KEEL_REDIS_URL": redis_url,
            **broker.keel_env,
            "KEEL_BADGE_MQTT_CLIENT_ID": f"keel-production-test-{os.getpid()}",
            # Jobs run in `keel worker` alone, so a finished task proves another process took it.
            "KEEL_WORKER_IN_SERVE": "false",
            "KEEL_ACCESS_LOG": "false",
            "KEEL_DATABASE_POOL_SIZE": "2",
            **{f"KEEL_{slug.upper()}_DATABASE_URL": url for slug, url in urls.items()},
        }
        _keel(env, "migrate")
        worker_log = folder / "worker.log"
        worker = _spawn(env, worker_log, "worker", "--app", "coach")
        with serving(env, "--workers", "2", log=folder / "serve.log", timeout=90) as server:
            _keel(env, "seed")  # the admin it creates is first used by a test
            production = Production(server.url, mqtt_port, folder / "data" / "prometheus", folder / "views")
            # Healthy on both workers: the first answers while the second may still be starting.
            deadline = time.monotonic() + 90
            while len(production.counted("keel_http_requests", app="keel", status="200")) < 2:
                server.assert_running()
                assert worker.poll() is None, f"{worker_log.name} exited:\n{_tail(worker_log)}"
                try:
                    httpx.get(f"{production.base_url}/health", timeout=5)
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, (
                    f"keel serve's workers did not both answer:\n{server.tail()}"
                )
                time.sleep(0.1)
            yield production
    finally:
        if worker is not None:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGTERM)
            _wait(worker)
        broker.stop()
        asyncio.run(_drop_databases(urls.values()))
