"""A real HTTP server on 127.0.0.1 that speaks the azureml-qa contract and misbehaves on purpose.

Each question may carry a marker saying how the server treats a request that contains it:

    #429      first attempt: 429 with Retry-After: 1; then a normal answer
    #503      first attempt: 503 without Retry-After; then a normal answer
    #500      always 500
    #400      always 400 (a request the server rejects: not retried)
    #slow     sleeps 1.5 s before answering (past a short client timeout)
    #missing  the answer lacks "start"
    #span     the answer's span is not its text in the context
    #notjson  a 200 whose body is HTML
    #short    one answer fewer than questions

Otherwise the answer is the context's first word. The server counts requests, the most in flight at
once, and the Authorization headers it saw.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class ChaosServer:
    def __init__(self, token: str | None = None, delay: float = 0.0) -> None:
        self.token = token
        self.delay = delay
        self.requests = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self.auth_seen: set[str] = set()
        self.attempts: dict[str, int] = {}
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/score"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> ChaosServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def respond(self, raw: bytes, auth: str | None) -> tuple[int, dict[str, str], bytes]:
        if self.token is not None and auth != f"Bearer {self.token}":
            return 401, {}, b'{"error": "unauthorized"}'
        body = json.loads(raw)
        questions, contexts = body["inputs"]["question"], body["inputs"]["context"]
        text = " ".join(questions)
        digest = hashlib.sha256(raw).hexdigest()
        with self._lock:
            attempt = self.attempts[digest] = self.attempts.get(digest, 0) + 1
        if "#429" in text and attempt == 1:
            return 429, {"Retry-After": "1"}, b'{"error": "slow down"}'
        if "#503" in text and attempt == 1:
            return 503, {}, b"service unavailable"
        if "#500" in text:
            return 500, {}, b"internal error"
        if "#400" in text:
            return 400, {}, b'{"error": "bad input"}'
        if "#slow" in text:
            time.sleep(1.5)
        if "#notjson" in text:
            return 200, {}, b"<html>gateway says hello</html>"
        answers: list[dict[str, Any]] = []
        for question, context in zip(questions, contexts, strict=True):
            word = context.split()[0]
            answer: dict[str, Any] = {"score": 0.5, "start": 0, "end": len(word), "answer": word}
            if "#missing" in question:
                del answer["start"]
            if "#span" in question:
                answer["answer"] = "not in the context"
            answers.append(answer)
        if "#short" in text:
            answers = answers[:-1]
        return 200, {"X-Compute-Ms": "1.5"}, json.dumps(answers).encode()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                with server._lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    if self.headers.get("Authorization"):
                        server.auth_seen.add(self.headers["Authorization"])
                try:
                    raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                    time.sleep(server.delay)
                    status, headers, data = server.respond(raw, self.headers.get("Authorization"))
                    self.send_response(status)
                    for name, value in {
                        "Content-Type": "application/json",
                        "Content-Length": str(len(data)),
                        **headers,
                    }.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (its timeout): exactly what #slow tests
                finally:
                    with server._lock:
                        server.in_flight -= 1

        return Handler


def squad_file(path, questions: list[str]) -> None:
    """A SQuAD v1.1 file whose question i is ``questions[i]`` (id ``q<i>``), every answer the context's first word."""
    qas = [
        {"id": f"q{i}", "question": q, "answers": [{"text": "Alpha", "answer_start": 0}]}
        for i, q in enumerate(questions)
    ]
    data = {
        "version": "1.1",
        "data": [{"title": "Chaos", "paragraphs": [{"context": "Alpha beta gamma delta.", "qas": qas}]}],
    }
    path.write_text(json.dumps(data), encoding="utf-8")
