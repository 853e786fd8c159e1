"""A local server speaking OpenAI's chat-completions protocol, with answers chosen per test:
good, slow, failing (503) or malformed. It records what it was sent."""

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

GOOD = {"summary": "A balanced day.", "highlights": ["Slept well"], "suggestions": ["Walk after lunch"]}


@dataclass
class FakeLLM:
    url: str
    mode: str = "good"  # good, slow, fail, malformed, fail_then_good
    delay: float = 2.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


def _handler(fake: FakeLLM) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *_args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            fake.requests.append(body)
            fake.headers.append(dict(self.headers))
            mode = fake.mode
            if mode == "fail_then_good":
                mode = "fail" if len(fake.requests) == 1 else "good"
            if self.path != "/v1/chat/completions":
                return self._send(404, {"error": "not found"})
            if mode == "slow":
                time.sleep(fake.delay)
            if mode == "fail":
                return self._send(503, {"error": {"message": "overloaded"}})
            content = "not json at all" if mode == "malformed" else json.dumps(GOOD)
            self._send(
                200,
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "model": "fake-model",
                    "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 40, "total_tokens": 160},
                },
            )

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client timed out first
                pass

    return Handler


@contextmanager
def fake_llm() -> Iterator[FakeLLM]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(FakeLLM("")))
    fake = FakeLLM(f"http://127.0.0.1:{server.server_address[1]}/v1")
    server.RequestHandlerClass = _handler(fake)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
