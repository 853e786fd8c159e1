"""A private Mosquitto run from the repository's own deploy/mosquitto.conf (so what the tests and
bench/badge.py exercise is the config users run), on a free loopback port, with its persistence
and log in a folder of the caller's. The machine's shared broker on 1883 runs whatever config
its package ships, which no test can rely on for queue limits or persistence."""

import getpass
import socket
import subprocess
import time
from pathlib import Path

from tests.serving import free_port

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.conf"


class Broker:
    def __init__(self, folder: Path):
        self.folder = folder
        self.port = free_port()
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.config.write_text(self._config())
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _config(self) -> str:
        """deploy/mosquitto.conf with this broker's port, folder and log; each of those lines
        must be in it to be replaced."""
        replacements = {
            "listener": f"listener {self.port} 127.0.0.1",
            "persistence_location": f"persistence_location {self.folder}/",
            "log_dest": f"log_dest file {self.log}",
        }
        lines, found = [], set()
        for line in CONFIG.read_text().splitlines():
            key = line.split(maxsplit=1)[0] if line.strip() and not line.startswith("#") else ""
            if key in replacements:
                found.add(key)
                line = replacements[key]
            lines.append(line)
        missing = set(replacements) - found
        if missing:
            raise RuntimeError(f"{CONFIG} no longer sets {sorted(missing)}")
        # Run as root, mosquitto drops to the `mosquitto` user, which cannot write the caller's
        # folder: it would lose every queued message on restart (and say so only in its log).
        lines.append(f"user {getpass.getuser()}")
        return "\n".join(lines) + "\n"

    def start(self) -> None:
        self._process = subprocess.Popen(
            ["mosquitto", "-c", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if self._process.poll() is not None:
                    break
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"private mosquitto did not start:\n{self._log_tail()}")

    def stop(self) -> None:
        """SIGTERM: mosquitto writes its persistence file on the way out."""
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(10)
        self._process = None

    def _log_tail(self) -> str:
        return self.log.read_text()[-2000:] if self.log.exists() else "(no log)"
