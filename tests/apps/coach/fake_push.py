"""A local server speaking the push providers' protocols: Google's OAuth2 token endpoint (a JWT
bearer grant), FCM HTTP v1's messages:send, and a plain webhook. It records what it was sent;
tokens in `unregistered` are answered as FCM answers an uninstalled app's."""

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCESS_TOKEN = "ya29.fake-access-token"
PROJECT = "coach-test"


@dataclass
class FakePush:
    url: str
    grants: list[dict[str, str]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str] = field(default_factory=list)
    hooks: list[dict[str, Any]] = field(default_factory=list)
    unregistered: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(fake: FakePush) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            with fake.lock:
                if self.path == "/token":
                    form = {name: values[0] for name, values in parse_qs(raw.decode()).items()}
                    fake.grants.append(form)
                    return self._send(
                        200, {"access_token": ACCESS_TOKEN, "expires_in": 3599, "token_type": "Bearer"}
                    )
                if self.path == f"/v1/projects/{PROJECT}/messages:send":
                    body = json.loads(raw)
                    fake.messages.append(body)
                    fake.authorizations.append(self.headers.get("Authorization", ""))
                    if body["message"]["token"] in fake.unregistered:
                        error = {
                            "code": 404,
                            "message": "Requested entity was not found.",
                            "status": "NOT_FOUND",
                            "details": [
                                {
                                    "@type": "type.googleapis.com/google.firebase.fcm.v1.FcmError",
                                    "errorCode": "UNREGISTERED",
                                }
                            ],
                        }
                        return self._send(404, {"error": error})
                    return self._send(200, {"name": f"projects/{PROJECT}/messages/{len(fake.messages)}"})
                if self.path == "/hook":
                    fake.hooks.append(json.loads(raw))
                    return self._send(200, {"ok": True})
            self._send(404, {"error": "not found"})

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def fake_push() -> Iterator[FakePush]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakePush("")))
    fake = FakePush(f"http://127.0.0.1:{server.server_address[1]}")
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
