"""A private Mosquitto run from the repository's own deploy/mosquitto.conf (so what the tests and
bench/badge.py exercise is the config users run), on free loopback ports, with its persistence,
log, dynamic-security file and TLS certificate in a folder of the caller's. The machine's
shared broker on 1883 runs whatever config its package ships (anonymous), which no test can
rely on for queue limits, persistence or credentials.

As deployed, nobody connects anonymously: keel's service account (`SERVICE_USER`, the plugin's
admin, made by `mosquitto_ctrl dynsec init`) is in `url`, and badges connect with the
credentials their registration answered. The TLS listener's certificate is signed by a CA made
here (`ca_file`), for `mqtts://127.0.0.1:<tls_port>`."""

import getpass
import glob
import secrets
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.serving import free_port

CONFIG = Path(__file__).resolve().parent.parent / "deploy" / "mosquitto.conf"
SERVICE_USER = "keel"
# Debian's package (the plugin's path differs from the eclipse-mosquitto image's in the config).
PLUGIN = next(iter(glob.glob("/usr/lib/*/mosquitto_dynamic_security.so")), "")


def _certificates(folder: Path) -> None:
    """A CA and a server certificate for 127.0.0.1 signed by it."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], cwd=folder, check=True, capture_output=True)

    curve = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl(
        "req",
        "-x509",
        *curve,
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=keel test CA",
    )
    openssl("req", *curve, "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=127.0.0.1")
    (folder / "server.ext").write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"
        "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-extfile", "server.ext",
    )  # fmt: skip


class Broker:
    def __init__(self, folder: Path):
        if not PLUGIN:
            raise RuntimeError("mosquitto's dynamic-security plugin is not installed")
        self.folder = folder
        self.port = free_port()
        self.tls_port = free_port()
        self.config = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self.dynsec_file = folder / "dynamic-security.json"
        self.service_password = secrets.token_urlsafe(16)
        self.ca_file = folder / "ca.crt"
        _certificates(folder)
        subprocess.run(
            ["mosquitto_ctrl", "dynsec", "init", str(self.dynsec_file), SERVICE_USER, self.service_password],
            check=True,
            capture_output=True,
        )
        self.config.write_text(self._config())
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """keel's service account on the plain listener."""
        return f"mqtt://{SERVICE_USER}:{self.service_password}@127.0.0.1:{self.port}"

    @property
    def tls_url(self) -> str:
        return f"mqtts://{SERVICE_USER}:{self.service_password}@127.0.0.1:{self.tls_port}"

    @property
    def keel_settings(self) -> dict[str, Any]:
        """What keel is configured with to use this broker (Settings fields)."""
        return {"badge_mqtt_url": self.url, "badge_mqtt_dynsec": True}

    @property
    def keel_env(self) -> dict[str, str]:
        return {"KEEL_BADGE_MQTT_URL": self.url, "KEEL_BADGE_MQTT_DYNSEC": "true"}

    def _config(self) -> str:
        """deploy/mosquitto.conf with this broker's ports, folder, log, plugin and certificate;
        each of those lines must be in it to be replaced."""
        replacements = {
            "listener 1883": f"listener {self.port} 127.0.0.1",
            "listener 8883": f"listener {self.tls_port} 127.0.0.1",
            "certfile": f"certfile {self.folder / 'server.crt'}",
            "keyfile": f"keyfile {self.folder / 'server.key'}",
            "plugin": f"plugin {PLUGIN}",
            "plugin_opt_config_file": f"plugin_opt_config_file {self.dynsec_file}",
            "persistence_location": f"persistence_location {self.folder}/",
            "log_dest": f"log_dest file {self.log}",
        }
        lines, found = [], set()
        for line in CONFIG.read_text().splitlines():
            words = line.split() if line.strip() and not line.startswith("#") else []
            key = " ".join(words[:2]) if words[:1] == ["listener"] else (words[0] if words else "")
            if key in replacements:
                found.add(key)
                line = replacements[key]
            lines.append(line)
        missing = set(replacements) - found
        if missing:
            raise RuntimeError(f"{CONFIG} no longer sets {sorted(missing)}")
        # Run as root, mosquitto drops to the `mosquitto` user, which cannot write the caller's
        # folder: it would lose every queued message on restart (and say so only in its log),
        # nor read the dynamic-security file there, and refuse everyone.
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
