"""Serve a local model behind an endpoint contract, so a deployment wrapper can be checked before it ships.

A real HTTP server (the standard library's threading server, HTTP/1.1 keep-alive), bound to
127.0.0.1 unless told otherwise. ``POST /score`` (Azure ML's path) or ``POST /`` answers contract
requests; ``GET /health`` says what is served. Requests are read and written concurrently but run
through the model one at a time: torch modules are not meant to be shared across threads.

Each response carries ``X-Compute-Ms`` (time spent in the model) and ``X-Model-Sha256`` (the served
checkpoint's fingerprint), which auditkit's client records beside its own end-to-end latency.
"""

from __future__ import annotations

import hmac
import json
import threading
import time
from dataclasses import replace
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from pydantic import ValidationError

from ..engine.types import QASettings
from ..errors import AuditkitError
from ..models.hf import LoadedModel
from ..schema import HEAD_TASKS
from .client import COMPUTE_HEADER
from .contracts import ClassificationServer, Contract, QAServer, Violation, capability

MAX_BODY_BYTES = 32 * 1024 * 1024
NO_ANSWER = {"answer": "", "score": 0.0, "start": 0, "end": 0}


class ModelService:
    """Turns a contract's request bodies into its response bodies with a loaded model."""

    def __init__(self, model: LoadedModel, contract: Contract, settings: QASettings | None = None) -> None:
        self.model = model
        self.contract = contract
        self.settings = settings or QASettings()
        self._lock = threading.Lock()

    def describe(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "model": self.model.source,
            "model_sha256": self.model.fingerprint["model_sha256"],
            "contract": self.contract.name,
            "task": HEAD_TASKS[self.model.head],
        }

    def handle(self, body: Any) -> tuple[Any, float]:
        """The response body for ``body`` and the milliseconds spent in the model; raises Violation on a bad request."""
        if self.model.head == "question-answering":
            qa = capability(self.contract, QAServer, "serve question answering")
            questions, contexts, params = qa.read_qa(body)
            settings = self._qa_settings(params)
            with self._lock:
                started = time.perf_counter()
                predictions = self.model.qa_engine(settings).predict(questions, contexts)
                compute = time.perf_counter() - started
            return qa.write_qa([p.answers or [NO_ANSWER] for p in predictions], body), compute * 1000
        classify = capability(self.contract, ClassificationServer, "serve text classification")
        texts = classify.read_classify(body)
        with self._lock:
            started = time.perf_counter()
            out = self.model.classification_engine().predict(texts)
            compute = time.perf_counter() - started
        return classify.write_classify([out.ranked(i) for i in range(len(texts))], body), compute * 1000

    def _qa_settings(self, params: dict[str, Any]) -> QASettings:
        from ..tasks.extractive_qa import QAParams

        try:
            checked = QAParams.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Violation(f"parameter {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        chosen = {k: getattr(checked, k) for k in params}
        return replace(self.settings, **chosen)


def make_server(
    service: ModelService, host: str = "127.0.0.1", port: int = 8000, *, token: str | None = None, log: Any = None
) -> ThreadingHTTPServer:
    """An HTTP server for ``service`` (not yet serving: call ``serve_forever``). ``token``: require ``Authorization:
    Bearer <token>``.
    """

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        server_version = "auditkit-serve"

        def log_message(self, format: str, *args: Any) -> None:
            if log is not None:
                log(f"{self.address_string()} {format % args}")

        def _reply(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
            data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            if self.path.rstrip("/") in ("/health", ""):
                self._reply(HTTPStatus.OK, service.describe())
            else:
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}; POST /score, GET /health"})

        def do_POST(self) -> None:
            if self.path.split("?")[0] not in ("/", "/score"):
                self._reply(HTTPStatus.NOT_FOUND, {"error": f"no route {self.path}; POST /score"})
                return
            if token is not None and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {token}"):
                self._reply(HTTPStatus.UNAUTHORIZED, {"error": "missing or wrong bearer token"})
                return
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                self._reply(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"error": f"body over {MAX_BODY_BYTES} bytes; send smaller batches"},
                )
                self.close_connection = True
                return
            try:
                body = json.loads(self.rfile.read(length) or b"null")
            except ValueError as exc:
                self._reply(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {exc}"})
                return
            try:
                payload, compute_ms = service.handle(body)
            except Violation as exc:
                self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": exc.message})
                return
            except AuditkitError as exc:
                self._reply(HTTPStatus.UNPROCESSABLE_ENTITY, {"error": exc.message})
                return
            self._reply(
                HTTPStatus.OK,
                payload,
                {COMPUTE_HEADER: f"{compute_ms:.3f}", "X-Model-Sha256": service.model.fingerprint["model_sha256"]},
            )

    server = ThreadingHTTPServer((host, port), Handler)
    server.daemon_threads = True
    return server
