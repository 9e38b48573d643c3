"""`auditkit serve` under load and abuse, on 127.0.0.1 only: every client gets an answer it can act on
(200, or 429/503 with Retry-After), malformed HTTP gets a 4xx, abandoned work is skipped, and the served
OpenAPI schema holds for generated requests (schemathesis)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from conftest import DATA, requires_data

CONTEXT = "Alice is sitting on the bench. Bob is sitting next to her."


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A small random-weight QA model behind the azureml-qa contract, with a short queue and timeout."""
    work = tmp_path_factory.mktemp("serve")
    model_dir = work / "model"
    build = subprocess.run(
        [
            sys.executable, "-m", "auditkit.cli", "build-model", "distilbert-base-cased-distilled-squad",
            "--vocab", str(DATA / "vocab" / "bert-base-cased-vocab.txt"), "--out", str(model_dir),
        ],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr
    env = {**os.environ, "AUDITKIT_SERVE_MAX_QUEUE": "8", "AUDITKIT_SERVE_TIMEOUT": "20"}
    command = [sys.executable, "-m", "auditkit.cli", "serve", str(model_dir), "--contract", "azureml-qa"]
    server = subprocess.Popen(
        [*command, "--port", "0", "-q"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    assert url.startswith("http://127.0.0.1:"), server.stderr.read() if server.stderr else ""
    try:
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


def body(n: int = 1) -> dict[str, object]:
    return {"inputs": {"question": ["Who is the CEO?"] * n, "context": [CONTEXT] * n}}


@requires_data
def test_two_hundred_concurrent_clients_are_each_answered(served: str) -> None:
    """200 clients at once: each gets 200 or 429 (with Retry-After); none is dropped, reset or left hanging."""

    async def client(http: httpx.AsyncClient) -> tuple[int, str | None]:
        response = await http.post(served, json=body())
        return response.status_code, response.headers.get("retry-after")

    async def storm() -> list[tuple[int, str | None]]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=60, limits=limits) as http:
            return await asyncio.gather(*(client(http) for _ in range(200)))

    started = time.perf_counter()
    outcomes = asyncio.run(storm())
    statuses = Counter(status for status, _ in outcomes)
    assert set(statuses) <= {200, 429}, statuses
    assert statuses[200] >= 9  # the one computing and the queue of 8, at least
    assert all(retry == "1" for status, retry in outcomes if status == 429)
    assert time.perf_counter() - started < 60


@requires_data
def test_abandoned_requests_are_not_computed(served: str) -> None:
    """Clients that give up while queued cost the server nothing: the next patient request is answered quickly."""

    async def impatient() -> None:
        async with httpx.AsyncClient(timeout=0.05) as http:
            for _ in range(8):
                with contextlib.suppress(httpx.TimeoutException):
                    await http.post(served, json=body(24))

    asyncio.run(impatient())
    started = time.perf_counter()
    response = httpx.post(served, json=body(), timeout=60)
    assert response.status_code == 200
    assert time.perf_counter() - started < 10


def raw_http(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(request)  # every request here ends its connection (Connection: close, or an error)
        chunks = []
        while data := sock.recv(65536):
            chunks.append(data)
    return b"".join(chunks)


@requires_data
def test_malformed_http_gets_a_client_error(served: str) -> None:
    payload = json.dumps(body()).encode()
    # A Content-Length that is not a number is refused by the HTTP layer.
    bad_length = raw_http(
        served, b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\nConnection: close\r\n\r\n" + payload
    )
    assert bad_length.startswith(b"HTTP/1.1 400")
    # Chunked transfer encoding is read, not ignored.
    chunk = hex(len(payload))[2:].encode() + b"\r\n" + payload + b"\r\n0\r\n\r\n"
    chunked = raw_http(
        served,
        b"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + chunk,
    )
    assert chunked.startswith(b"HTTP/1.1 200"), chunked[:200]
    plain = httpx.post(served, content=payload, headers={"Content-Type": "text/plain"})
    assert plain.status_code == 415 and "application/json" in plain.json()["error"]
    assert httpx.post(served, content=b"{not json", headers={"Content-Type": "application/json"}).status_code == 400
    assert httpx.post(served, json={"inputs": {"question": ["q"]}}).status_code == 422


@requires_data
def test_the_openapi_schema_holds_for_generated_requests(served: str) -> None:
    """schemathesis generates requests from the served schema; every response must conform to it."""
    import schemathesis
    from hypothesis import HealthCheck, settings

    base = served.removesuffix("/score")
    schema = schemathesis.openapi.from_url(f"{base}/openapi.json")
    failures = []

    # "Positive data acceptance" is left out on purpose: the contracts' rule that the question and context
    # lists have equal lengths cannot be stated in JSON Schema, so schema-valid bodies may rightly get 422.
    # Every other check runs: status codes, content types, response schemas, negative data, server errors.
    from schemathesis.checks import positive_data_acceptance

    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
    def check(case: schemathesis.Case) -> None:
        response = case.call(base_url=base, timeout=30)
        case.validate_response(response, excluded_checks=[positive_data_acceptance])

    for result in schema.get_all_operations():
        operation = result.ok()
        try:
            operation.as_strategy()
            from hypothesis import given

            given(operation.as_strategy())(check)()
        except Exception as exc:  # collect, then report all operations at once
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n".join(failures)


def test_the_openapi_document_lists_every_status(tmp_path: Path) -> None:
    """Without a model: the document the server publishes, per contract."""
    from auditkit.endpoints.contracts import make_contract
    from auditkit.endpoints.serve import ModelService

    class Stub:
        head = "question-answering"
        source = "stub"
        fingerprint: ClassVar[dict[str, str]] = {"model_sha256": "0" * 64}

    doc = ModelService(Stub(), make_contract("azureml-qa")).openapi()  # type: ignore[arg-type]
    responses = doc["paths"]["/score"]["post"]["responses"]
    assert set(responses) == {"200", "400", "401", "408", "413", "415", "422", "429", "503"}
    assert "Retry-After" in responses["429"]["headers"]
