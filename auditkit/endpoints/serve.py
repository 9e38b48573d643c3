"""Serve a local model behind an endpoint contract, so a deployment wrapper can be checked before it ships.

A real ASGI application (starlette) on a real server (uvicorn), bound to 127.0.0.1 unless told
otherwise. ``POST /score`` (Azure ML's path) or ``POST /`` answers contract requests; ``GET /health``
says what is served; ``GET /openapi.json`` describes the contract's request and response bodies.

Under load it degrades in ways a client can act on, never by dropping connections:

* the model runs one request at a time (torch modules are not meant to be shared across threads);
  up to ``max_queue`` more wait for it, and any beyond that get **429** with ``Retry-After``;
* a request that waits longer than ``request_timeout`` gets **503** with ``Retry-After``; one whose
  client hung up while it waited is dropped before it reaches the model;
* bodies are read with a deadline (**408**) and a size cap (**413**, chunked bodies included), must
  be ``application/json`` (**415**) and valid JSON (**400**), and must follow the contract (**422**);
* a missing or wrong bearer token gets **401** (the body is left unread; uvicorn keeps the
  connection's framing right).

Each answer carries ``X-Compute-Ms`` (time spent in the model) and ``X-Model-Sha256`` (the served
checkpoint's fingerprint), which auditkit's client records beside its own end-to-end latency.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import socket
import time
from dataclasses import dataclass, replace
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..core.errors import AuditkitError
from ..core.text import lone_surrogate
from ..engine.types import QASettings
from ..models.hf import LoadedModel
from ..spec.schema import HEAD_TASKS, QAPipelineParams
from .client import COMPUTE_HEADER
from .contracts import ClassificationServer, Contract, QAServer, Violation, capability

NO_ANSWER = {"answer": "", "score": 0.0, "start": 0, "end": 0}
_ERROR_SCHEMA = {"type": "object", "properties": {"error": {"type": "string"}}, "required": ["error"]}


@dataclass(frozen=True)
class Limits:
    """How much the server takes on before it says no (each refusal is a status a client can act on)."""

    max_body_bytes: int = 32 * 1024 * 1024
    max_queue: int = 32  # requests waiting for the model, besides the one it is computing
    request_timeout: float = 60.0  # seconds a request may wait for the model
    read_timeout: float = 30.0  # seconds to receive a request's body
    retry_after: int = 1  # seconds, in the Retry-After of 429 and 503


class ModelService:
    """Turns a contract's request bodies into its response bodies with a loaded model."""

    def __init__(self, model: LoadedModel, contract: Contract, settings: QASettings | None = None) -> None:
        self.model = model
        self.contract = contract
        self.settings = settings or QASettings()

    @property
    def task(self) -> str:
        return HEAD_TASKS[self.model.head]

    def describe(self) -> dict[str, Any]:
        return {
            "status": "ok",
            "model": self.model.source,
            "model_sha256": self.model.fingerprint["model_sha256"],
            "contract": self.contract.name,
            "task": self.task,
        }

    def handle(self, body: Any) -> tuple[Any, float]:
        """The response body for ``body`` and the milliseconds spent in the model; raises Violation on a bad request.

        Called with the model to itself (see :func:`make_app`).
        """
        if self.model.head == "question-answering":
            qa: QAServer = capability(self.contract, QAServer, "serve question answering")
            questions, contexts, params = qa.read_qa(body)
            settings = self._qa_settings(params)
            started = time.perf_counter()
            predictions = self.model.qa_engine(settings).predict(questions, contexts)
            compute = time.perf_counter() - started
            return qa.write_qa([p.answers or [NO_ANSWER] for p in predictions], body), compute * 1000
        classify: ClassificationServer = capability(self.contract, ClassificationServer, "serve text classification")
        texts = classify.read_classify(body)
        options = classify.classify_parameters(body)
        started = time.perf_counter()
        out = self.model.classification_engine(activation=options.function_to_apply).predict(texts)
        compute = time.perf_counter() - started
        ranked = [out.ranked(i)[: options.top_k] for i in range(len(texts))]
        return classify.write_classify(ranked, body), compute * 1000

    def _qa_settings(self, params: dict[str, Any]) -> QASettings:
        try:
            checked = QAPipelineParams.model_validate(params)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise Violation(f"parameter {'.'.join(map(str, first['loc']))}: {first['msg']}") from None
        chosen = {k: getattr(checked, k) for k in params}
        return replace(self.settings, **chosen)

    def openapi(self) -> dict[str, Any]:
        """The OpenAPI 3.1 document of this server: the contract's bodies and every status it answers with."""
        if self.model.head == "question-answering":
            qa: QAServer = capability(self.contract, QAServer, "serve question answering")
            request_schema, response_schema = qa.qa_request_schema, qa.qa_response_schema
        else:
            side: ClassificationServer = capability(self.contract, ClassificationServer, "serve text classification")
            request_schema, response_schema = side.classify_request_schema, side.classify_response_schema

        def error(description: str, retry: bool = False) -> dict[str, Any]:
            out: dict[str, Any] = {
                "description": description,
                "content": {"application/json": {"schema": _ERROR_SCHEMA}},
            }
            if retry:
                out["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
            return out

        score = {
            "summary": f"{self.task} with the {self.contract.name} contract",
            "requestBody": {"required": True, "content": {"application/json": {"schema": request_schema}}},
            "responses": {
                "200": {
                    "description": "the answers, one per item",
                    "content": {"application/json": {"schema": response_schema}},
                },
                "400": error("the body is not JSON"),
                "401": error("missing or wrong bearer token"),
                "408": error("the body did not arrive in time"),
                "413": error("the body is too large"),
                "415": error("the body is not application/json"),
                "422": error("the body breaks the contract"),
                "429": error("the queue is full", retry=True),
                "503": error("the model was busy for too long", retry=True),
            },
        }
        return {
            "openapi": "3.1.0",
            "info": {"title": f"auditkit serve ({self.contract.name})", "version": "1"},
            "paths": {
                "/score": {"post": {**score, "operationId": "score"}},
                "/": {"post": {**score, "operationId": "score_root"}},
                "/health": {
                    "get": {
                        "operationId": "health",
                        "responses": {"200": {"description": "what is served", "content": {"application/json": {}}}},
                    }
                },
            },
        }


class _TooLarge(Exception):
    pass


def broken_text(body: Any) -> str | None:
    """Where in ``body`` the first string (or key) holding a surrogate is, and at which character: bytes that
    are not UTF-8 (decoded as U+DC80..U+DCFF) or a ``\\ud800`` escape. Neither is a character; both would
    reach the tokenizer. Walked without recursion, since a body may be deeply nested."""
    stack: list[tuple[str, Any]] = [("body", body)]
    while stack:
        where, value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                printable = str(key).encode("utf-8", "backslashreplace").decode("utf-8")
                stack.append((f"{where}.{printable}", item))
                stack.append((f"{where} (the key {printable!r})", key))
        elif isinstance(value, list):
            stack.extend((f"{where}[{i}]", item) for i, item in enumerate(value))
        elif isinstance(value, str):
            found = lone_surrogate(value)
            if found is not None:
                return f"{where}, character {found}"
    return None


async def _read_body(request: Request, limit: int) -> bytes:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def make_app(service: ModelService, *, token: str | None = None, limits: Limits | None = None) -> Starlette:
    """The ASGI application for ``service``. ``token``: require ``Authorization: Bearer <token>``."""
    limits = limits or Limits()
    model_slot = asyncio.Semaphore(1)
    waiting = 0
    retry = {"Retry-After": str(limits.retry_after)}

    def fail(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status, headers=headers)

    async def health(request: Request) -> Response:
        return JSONResponse(service.describe())

    async def openapi(request: Request) -> Response:
        return JSONResponse(service.openapi())

    async def score(request: Request) -> Response:
        nonlocal waiting
        if token is not None and not hmac.compare_digest(request.headers.get("authorization", ""), f"Bearer {token}"):
            return fail(401, "missing or wrong bearer token")
        content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if content_type != "application/json":
            return fail(415, f"send the body as application/json (got {content_type or 'no content type'})")
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limits.max_body_bytes:
            return fail(413, f"body over {limits.max_body_bytes} bytes; send smaller batches")
        try:
            raw = await asyncio.wait_for(_read_body(request, limits.max_body_bytes), limits.read_timeout)
        except _TooLarge:
            return fail(413, f"body over {limits.max_body_bytes} bytes; send smaller batches")
        except TimeoutError:
            return fail(408, f"the body did not arrive within {limits.read_timeout:g} s")
        except ClientDisconnect:
            return Response(status_code=400)  # nobody is listening any more
        try:
            # Undecodable bytes survive as U+DC80..U+DCFF, so the field holding them can be named below.
            body = json.loads(raw.decode("utf-8", errors="surrogateescape") or "null")
        except ValueError as exc:
            return fail(400, f"the body is not JSON: {exc}")
        except RecursionError:
            return fail(400, "the body is not JSON this server reads: it is nested too deeply")
        broken = broken_text(body)
        if broken is not None:
            try:
                raw.decode("utf-8")
            except UnicodeDecodeError:
                return fail(400, f"{broken}: bytes that are not UTF-8; send the body as UTF-8 text")
            return fail(422, f"{broken}: a lone surrogate escape (\\uD800-\\uDFFF) is not a character")
        if waiting >= limits.max_queue + 1:
            return fail(429, f"{waiting} requests are ahead of this one; retry later", retry)
        waiting += 1
        try:
            deadline = time.monotonic() + limits.request_timeout
            while True:  # wait for the model, but not for a client that left or past the deadline
                try:
                    await asyncio.wait_for(model_slot.acquire(), timeout=0.05)
                    break
                except TimeoutError:
                    if await request.is_disconnected():
                        return Response(status_code=400)
                    if time.monotonic() > deadline:
                        return fail(503, f"the model was busy for {limits.request_timeout:g} s; retry later", retry)
            try:
                payload, compute_ms = await asyncio.to_thread(service.handle, body)
            except (Violation, AuditkitError) as exc:
                return fail(422, exc.message)
            finally:
                model_slot.release()
        finally:
            waiting -= 1
        return JSONResponse(
            payload,
            headers={COMPUTE_HEADER: f"{compute_ms:.3f}", "X-Model-Sha256": service.model.fingerprint["model_sha256"]},
        )

    async def not_found(request: Request, exc: Exception) -> Response:
        return fail(404, f"no route {request.method} {request.url.path}; POST /score, GET /health, GET /openapi.json")

    async def not_allowed(request: Request, exc: Exception) -> Response:
        return fail(405, f"{request.method} is not allowed on {request.url.path}")

    return Starlette(
        routes=[
            Route("/score", score, methods=["POST"]),
            Route("/", score, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
            Route("/openapi.json", openapi, methods=["GET"]),
        ],
        exception_handlers={404: not_found, 405: not_allowed},
    )


def bind(host: str, port: int, backlog: int = 2048) -> socket.socket:
    """A listening socket (port 0 picks a free one), so the URL can be printed before serving starts."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(backlog)
    return sock


def run(app: Starlette, sock: socket.socket, *, log: bool = True) -> None:
    """Serve ``app`` on ``sock`` with uvicorn until interrupted."""
    import uvicorn

    config = uvicorn.Config(
        app,
        log_level="info" if log else "warning",
        access_log=log,
        timeout_keep_alive=5,  # an idle keep-alive connection is closed after this many seconds
        h11_max_incomplete_event_size=64 * 1024,  # request line and headers
        lifespan="off",
    )
    uvicorn.Server(config).run(sockets=[sock])
