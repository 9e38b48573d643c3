"""Send a batch of JSON requests to an endpoint the way a careful client does.

* At most ``concurrency`` requests in flight; the first request goes alone, as a warm-up that also
  surfaces a wrong URL, bad credentials or a broken contract before the rest are sent.
* 429, 5xx, timeouts and dropped connections are retried with exponential back-off (``backoff`` x 2^n,
  capped at ``max_backoff``); a ``Retry-After`` header (seconds or an HTTP date) overrides the delay.
* Every attempt spends one unit of the model's request budget; once it is spent, the remaining
  requests fail without being sent.
* 401/403/404/405 stop the run at once (every other request would fail the same way); other 4xx fail
  only the items of that request.

Latency is measured client-side per request: the successful attempt, end to end (network, queueing,
serialisation and the model). A server that reports its own compute time in ``X-Compute-Ms`` lets
reports show both.
"""

from __future__ import annotations

import email.utils
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import httpx

from ..core.errors import ModelError
from ..core.redact import redact_text, redact_url
from ..spec.schema import EndpointSpec

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
FATAL_STATUSES = {
    401: "rejected the credentials",
    403: "refused access",
    404: "has no such URL",
    405: "does not accept POST here",
}
COMPUTE_HEADER = "X-Compute-Ms"
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@dataclass
class Outcome:
    """What became of one request: its parsed JSON body, or why it failed after all attempts."""

    body: Any = None
    error: str | None = None
    attempts: int = 0
    seconds: float | None = None  # the successful attempt's end-to-end latency
    compute_ms: float | None = None  # the server's own report of model compute, when it gives one
    served_model: str | None = None  # the X-Model-Sha256 header, when the server names its model
    waits: list[float] = field(default_factory=list)  # seconds slept before each retry

    @property
    def ok(self) -> bool:
        return self.error is None


class Budget:
    """A thread-safe count of the requests a model may still make (None: unlimited)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.used = 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.limit is not None and self.used >= self.limit:
                return False
            self.used += 1
            return True


def retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date (None if absent or unreadable)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class EndpointClient:
    """One model's connection to its endpoint, shared by all its tasks in a run (one budget)."""

    def __init__(self, spec: EndpointSpec, model_name: str, *, sleep: Callable[[float], None] = time.sleep) -> None:
        self.spec = spec
        self.model_name = model_name
        self.budget = Budget(spec.request_budget)
        self._sleep = sleep
        headers = {"Content-Type": "application/json", "Accept": "application/json", **spec.headers}
        if spec.auth_env is not None:
            token = os.environ.get(spec.auth_env)
            if not token:
                raise ModelError(
                    f"the endpoint's token variable {spec.auth_env} is not set",
                    source=model_name,
                    hint=f"export {spec.auth_env}=<token> before running"
                    " (the token is never stored in the suite or results)",
                )
            headers[spec.auth_header] = f"{spec.auth_scheme} {token}".strip()
        loopback = urlsplit(spec.url).hostname in LOOPBACK
        self._http = httpx.Client(
            timeout=spec.timeout,
            headers=headers,
            trust_env=not loopback,
            limits=httpx.Limits(max_connections=spec.concurrency, max_keepalive_connections=spec.concurrency),
        )

    def close(self) -> None:
        self._http.close()

    def send_all(self, bodies: list[Any]) -> Iterator[tuple[int, Outcome]]:
        """Send every body; yield ``(index, outcome)`` as each request finishes (the first one alone, first).

        Results are handed back in the calling thread, so a caller that finds a contract violation can
        raise at once; the requests still queued are then cancelled.
        """
        if not bodies:
            return
        yield 0, self._send(bodies[0])
        with ThreadPoolExecutor(max_workers=self.spec.concurrency, thread_name_prefix="auditkit-http") as pool:
            pending: dict[Future[Outcome], int] = {
                pool.submit(self._send, body): i for i, body in enumerate(bodies[1:], start=1)
            }
            try:
                while pending:
                    done, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        yield pending.pop(future), future.result()
            finally:
                for future in pending:
                    future.cancel()

    def _send(self, body: Any) -> Outcome:
        outcome = Outcome()
        payload = json.dumps(body, ensure_ascii=False).encode("utf-8")
        for attempt in range(self.spec.retries + 1):
            if not self.budget.take():
                outcome.error = f"request budget of {self.spec.request_budget} requests spent"
                return outcome
            outcome.attempts += 1
            started = time.perf_counter()
            delay: float | None = None
            try:
                response = self._http.post(self.spec.url, content=payload)
            except httpx.TimeoutException:
                outcome.error = f"timed out after {self.spec.timeout:g} s"
            except httpx.TransportError as exc:
                outcome.error = redact_text(f"connection failed: {type(exc).__name__}: {exc}", self.spec.url)
            else:
                elapsed = time.perf_counter() - started
                status = response.status_code
                if status in FATAL_STATUSES:
                    raise ModelError(
                        f"the endpoint {redact_url(self.spec.url)} {FATAL_STATUSES[status]} (HTTP {status}):"
                        f" {redact_text(_excerpt(response.text), self.spec.url)}",
                        source=self.model_name,
                        hint=_fatal_hint(status, self.spec),
                    )
                if 200 <= status < 300:
                    outcome.error = None
                    outcome.seconds = elapsed
                    outcome.compute_ms = _float_header(response.headers.get(COMPUTE_HEADER))
                    outcome.served_model = response.headers.get("X-Model-Sha256")
                    try:
                        outcome.body = response.json()
                    except ValueError:
                        outcome.body = _NotJSON(response.text)
                    return outcome
                outcome.error = f"HTTP {status}: {redact_text(_excerpt(response.text), self.spec.url)}"
                if status not in RETRY_STATUSES:
                    return outcome  # the request itself is wrong; sending it again will not help
                delay = retry_after(response.headers.get("Retry-After"))
            if attempt == self.spec.retries:
                break
            wait_s = min(self.spec.max_backoff, delay if delay is not None else self.spec.backoff * 2**attempt)
            outcome.waits.append(wait_s)
            self._sleep(wait_s)
        outcome.error = f"{outcome.error} (after {outcome.attempts} attempts)"
        return outcome


@dataclass(frozen=True)
class _NotJSON:
    """A 2xx response whose body is not JSON: a contract violation the caller reports with the example."""

    text: str


def is_not_json(body: Any) -> str | None:
    """The excerpt of a non-JSON body, or None when the body parsed."""
    return _excerpt(body.text) if isinstance(body, _NotJSON) else None


def _excerpt(text: str, limit: int = 200) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "..."


def _float_header(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _fatal_hint(status: int, spec: EndpointSpec) -> str:
    if status in (401, 403):
        return (
            f"check the token in ${spec.auth_env}"
            if spec.auth_env
            else "the endpoint needs a token: name its environment variable in auth_env"
        )
    return "check the endpoint's url (Azure ML scoring URLs end in /score)"
