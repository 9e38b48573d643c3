"""A deployed model behind an HTTP contract, usable by every task a local model is.

The QA and classification engines here have the local engines' interface (``predict``, ``timings``,
``batch_size``, ``labels``) and return the same prediction types, so tasks do not know whether a
model is a checkpoint or a URL. What they add is failure accounting: an example whose request failed
after its retries is left out of the predictions and listed in ``failures`` -- never guessed -- and a
response that breaks the contract stops the run with an error naming the example.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from ..core.errors import ContractError, ModelError
from ..core.redact import redact_headers, redact_url
from ..endpoints.client import EndpointClient, Outcome, is_not_json
from ..endpoints.contracts import (
    ClassificationClient,
    Contract,
    QAClient,
    Violation,
    capability,
    make_contract,
)
from ..endpoints.contracts.base import check_answer, check_label_scores
from ..engine.batching import latency_percentiles
from ..engine.classify import ClassificationOutput
from ..engine.qa import QAPrediction
from ..engine.types import ProgressSink, QASettings
from ..spec.schema import EndpointSpec, ModelSpec


@dataclass
class RequestTimings:
    """Per request: client-side latency and the server's own compute time when it reports one."""

    seconds: list[float] = field(default_factory=list)
    compute_ms: list[float] = field(default_factory=list)
    warmup_seconds: float = 0.0
    requests: int = 0
    attempts: int = 0
    waits: list[float] = field(default_factory=list)

    def record(self, outcome: Outcome, *, warmup: bool) -> None:
        self.requests += 1
        self.attempts += outcome.attempts
        self.waits.extend(outcome.waits)
        if outcome.seconds is None:
            return
        if warmup:
            self.warmup_seconds = outcome.seconds
        else:
            self.seconds.append(outcome.seconds)
        if outcome.compute_ms is not None:
            self.compute_ms.append(outcome.compute_ms)

    def summary(self) -> dict[str, Any]:
        """Client-side request latency percentiles (ms), kept apart from the server-reported model compute."""
        out: dict[str, Any] = {
            "requests": self.requests,
            "attempts": self.attempts,
            "retries": self.attempts - self.requests,
            "retry_waits": [round(w, 3) for w in self.waits],
            "warmup_seconds": self.warmup_seconds,
            "latency_scope": "request",
        }
        samples = self.seconds or ([self.warmup_seconds] if self.warmup_seconds else [])
        if samples:
            out.update(latency_percentiles(np.asarray(samples) * 1000, "request_latency_ms"))
            out["request_seconds"] = [round(x, 6) for x in samples]
        if self.compute_ms:
            compute = np.asarray(self.compute_ms)
            out.update(
                {
                    "batches": len(compute),
                    **latency_percentiles(compute, "batch_latency_ms"),
                    "model_seconds": float(compute.sum() / 1000),
                }
            )
        return out


class _EndpointEngine:
    """Shared by the QA and classification engines: batching into requests, sending, failures, timings."""

    def __init__(self, endpoint: EndpointModel) -> None:
        self.endpoint = endpoint
        self.contract: Contract = endpoint.contract
        self.batch_size = endpoint.batch_size
        self.timings = RequestTimings()
        self.failures: list[dict[str, Any]] = []

    def _exchange(
        self, bodies: list[Any], batches: list[range], ids: Sequence[str], progress: ProgressSink | None
    ) -> Iterator[tuple[range, Any]]:
        """Yield ``(rows, body)`` for each request that succeeded; record failures and timings for all."""
        if progress is not None:
            progress.start(len(ids))
        for index, outcome in self.endpoint.client.send_all(bodies):
            rows = batches[index]
            self.timings.record(outcome, warmup=index == 0)
            if outcome.served_model:
                self.endpoint.info["served_model_sha256"] = outcome.served_model
            if outcome.ok:
                excerpt = is_not_json(outcome.body)
                if excerpt is not None:
                    raise self._violation(Violation(f"the response is not JSON: {excerpt!r}"), rows, ids)
                yield rows, outcome.body
            else:
                self.failures.extend({"id": ids[r], "error": outcome.error, "attempts": outcome.attempts} for r in rows)
            if progress is not None:
                progress.advance(len(rows))

    def _violation(self, v: Violation, rows: range, ids: Sequence[str]) -> ContractError:
        where = (
            f"example {ids[rows[v.index]]!r}"
            if v.index is not None and v.index < len(rows)
            else f"the request for examples {ids[rows[0]]!r}..{ids[rows[-1]]!r}"
        )
        return ContractError(
            f"the response for {where} breaks the {self.contract.name} contract: {v.message}",
            source=self.endpoint.name,
            hint="fix the deployment's response format, or describe it with contract: custom and a mapping"
            f" ({self.endpoint.source})",
        )

    def batches(self, count: int) -> list[range]:
        return [range(i, min(i + self.batch_size, count)) for i in range(0, count, self.batch_size)]


class EndpointQAEngine(_EndpointEngine):
    """Extractive QA over HTTP; answers are checked to be spans of their context."""

    def __init__(self, endpoint: EndpointModel, settings: QASettings) -> None:
        super().__init__(endpoint)
        self.wire: QAClient = capability(self.contract, QAClient, "answer questions")
        self.params = asdict(settings)  # the pipeline's parameter names; contracts that take parameters pick theirs

    def predict(
        self,
        questions: Sequence[str],
        contexts: Sequence[str],
        ids: Sequence[str] | None = None,
        progress: ProgressSink | None = None,
    ) -> list[QAPrediction | None]:
        """Per question its prediction, or None when its request failed (see ``failures``)."""
        ids = list(ids) if ids is not None else [str(i) for i in range(len(questions))]
        batches = self.batches(len(questions))
        bodies = [
            self.wire.qa_request([questions[r] for r in b], [contexts[r] for r in b], self.params) for b in batches
        ]
        out: list[QAPrediction | None] = [None] * len(questions)
        for rows, body in self._exchange(bodies, batches, ids, progress):
            try:
                per_item = self.wire.qa_results(body, len(rows))
                for i, row in enumerate(rows):
                    answers = [check_answer(a, i, contexts[row]) for a in per_item[i]]
                    out[row] = QAPrediction(answers=answers, null_score=math.nan, best_span=None, windows=0)
            except Violation as v:
                raise self._violation(v, rows, ids) from None
        return out

    def predict_with_probabilities(
        self,
        questions: Sequence[str],
        contexts: Sequence[str],
        ids: Sequence[str] | None = None,
        progress: ProgressSink | None = None,
    ) -> tuple[list[QAPrediction | None], list[None]]:
        """An endpoint returns answers, not token probabilities: the second list is all None."""
        return self.predict(questions, contexts, ids, progress), [None] * len(questions)


class EndpointClassificationEngine(_EndpointEngine):
    """Text classification over HTTP; every response must score the same set of labels."""

    activation = "endpoint"
    max_length = None

    def __init__(self, endpoint: EndpointModel) -> None:
        super().__init__(endpoint)
        self.wire: ClassificationClient = capability(self.contract, ClassificationClient, "classify texts")
        self.labels: list[str] = list(endpoint.endpoint_spec.labels or [])

    def predict(
        self,
        texts: Sequence[str],
        progress: ProgressSink | None = None,
        ids: Sequence[str] | None = None,
        pairs: Sequence[str] | None = None,
    ) -> ClassificationOutput:
        """Scores per text (rows of NaN where the request failed; see ``failures``)."""
        if pairs is not None:
            raise ModelError(
                "endpoint contracts send single texts; this task classifies text pairs",
                source=self.endpoint.name,
                hint="evaluate pair tasks (such as nli) on a local checkpoint",
            )
        ids = list(ids) if ids is not None else [str(i) for i in range(len(texts))]
        batches = self.batches(len(texts))
        bodies = [self.wire.classify_request([texts[r] for r in b]) for b in batches]
        rows_scores: dict[int, dict[str, float]] = {}
        for rows, body in self._exchange(bodies, batches, ids, progress):
            try:
                per_item = self.wire.classify_results(body, len(rows))
                for i, row in enumerate(rows):
                    scores = {e["label"]: e["score"] for e in check_label_scores(per_item[i], i)}
                    if not self.labels:
                        self.labels = sorted(scores)
                    if set(scores) != set(self.labels):
                        raise Violation(f"labels {sorted(scores)} differ from the deployment's labels {self.labels}", i)
                    rows_scores[row] = scores
            except Violation as v:
                raise self._violation(v, rows, ids) from None
        matrix = np.full((len(texts), max(len(self.labels), 1)), np.nan, dtype=np.float32)
        for row, scores in rows_scores.items():
            matrix[row] = [scores[label] for label in self.labels]
        return ClassificationOutput(scores=matrix, labels=self.labels, truncated=0)


class EndpointModel:
    """A deployment under evaluation: its spec, contract and client, with what results record about it."""

    cacheable = False  # a deployment can change behind its URL: every run asks it again

    def __init__(self, spec: ModelSpec) -> None:
        endpoint = spec.endpoint
        if endpoint is None:
            raise ModelError(f"model {spec.name!r} is not an endpoint", source=spec.name)
        self.endpoint_spec: EndpointSpec = endpoint
        self.spec = spec
        self.name = spec.name
        self.source = redact_url(endpoint.url)
        self.head = endpoint.head
        self.batch_size = endpoint.batch_size
        self.contract = make_contract(endpoint.contract, endpoint.mapping)
        self.client = EndpointClient(endpoint, spec.name)
        described = {  # what identifies the deployment, without its secrets (a hash of a short key is guessable)
            "url": redact_url(endpoint.url),
            "contract": endpoint.contract,
            "task": endpoint.task,
            "mapping": endpoint.mapping.model_dump() if endpoint.mapping else None,
            "headers": redact_headers(endpoint.headers),
        }
        digest = hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()
        self.fingerprint = {"endpoint_sha256": digest, "model_sha256": digest}
        self.info: dict[str, Any] = {
            "architecture": f"endpoint ({endpoint.task})",
            "kind": "endpoint",
            "url": redact_url(endpoint.url),
            "contract": endpoint.contract,
            "task": endpoint.task,
            "batch_size": endpoint.batch_size,
            "concurrency": endpoint.concurrency,
            "timeout_s": endpoint.timeout,
            "retries": endpoint.retries,
            "request_budget": endpoint.request_budget,
            "max_failure_rate": endpoint.max_failure_rate,
            "auth_env": endpoint.auth_env,
            "device": "remote",
            "dtype": None,
            "built": None,
        }

    @property
    def max_failure_rate(self) -> float:
        return self.endpoint_spec.max_failure_rate

    def qa_engine(self, settings: QASettings) -> EndpointQAEngine:
        return EndpointQAEngine(self, settings)

    def classification_engine(
        self, activation: str | None = None, max_length: int | None = None
    ) -> EndpointClassificationEngine:
        if activation not in (None, "softmax"):
            raise ModelError(
                f"function_to_apply={activation!r} cannot be applied to an endpoint's scores",
                source=self.name,
                hint="leave function_to_apply at default; the deployment decides its activation",
            )
        return EndpointClassificationEngine(self)

    def close(self) -> None:
        self.client.close()
