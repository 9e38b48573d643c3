"""Building blocks of the suite schema: models, datasets, bootstrap settings and the task base spec.

Kept apart from :mod:`auditkit.running.suite` (which assembles them with the registered task kinds) so that
task modules and model adapters can use these specs without importing the task registry.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from ..core.redact import redact_url
from .expressions import parse_gate

_ENV = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"
#: Names become file names (``predictions/<model>/<task>.parquet``, chart files): short enough for any file system.
NAME_MAX = 100

#: The published model configs shipped with auditkit (``build: {config: NAME}``). Read as a folder, not
#: through :mod:`auditkit.models.synthetic` (which needs torch), so reading and gating a suite never does.
SHIPPED_CONFIG_DIR = Path(__file__).resolve().parent.parent / "models" / "configs"


def shipped_configs() -> list[str]:
    """Names of the published configs shipped with auditkit."""
    return sorted(p.stem for p in SHIPPED_CONFIG_DIR.glob("*.json"))


def expand_env(text: str) -> str:
    """Expand ``${VAR}`` and ``${VAR:-default}``; an unset variable without default is an error."""

    def replace(match: re.Match[str]) -> str:
        value = os.environ.get(match.group(1))
        if value is None:
            if match.group(2) is None:
                raise ValueError(
                    f"environment variable {match.group(1)} is not set (write ${{{match.group(1)}:-default}} to"
                    " give a default)"
                )
            return match.group(2)
        return value

    return _ENV.sub(replace, text)


def resolve_path(value: Any, info: ValidationInfo) -> Path:
    """A path from the suite: env-expanded, ``~``-expanded, relative to the suite file's folder."""
    path = Path(expand_env(str(value))).expanduser()
    base = (info.context or {}).get("base_dir")
    if not path.is_absolute() and base is not None:
        path = Path(base) / path
    return Path(os.path.normpath(path))


def resolve_optional_path(value: Any, info: ValidationInfo) -> Path | None:
    """:func:`resolve_path` for optional fields (``None`` stays ``None``); existence is checked where it is used."""
    return None if value is None else resolve_path(value, info)


def existing_file(what: str) -> Callable[[Any, ValidationInfo], Path | None]:
    """A ``mode="before"`` validator: :func:`resolve_path`, then the file must exist (``None`` stays ``None``)."""

    def check(value: Any, info: ValidationInfo) -> Path | None:
        if value is None:
            return None
        path = resolve_path(value, info)
        if not path.is_file():
            raise ValueError(f"{what} not found: {path}")
        return path

    return check


class StrictModel(BaseModel):
    """Unknown keys are errors: a typo must never be silently ignored."""

    model_config = ConfigDict(extra="forbid")


class BuildSpec(StrictModel):
    """A model built offline from a published config with deterministic random weights (tests, demos)."""

    config: str = Field(
        description="a shipped config name (see `auditkit build-model --list`) or a path to a config.json"
    )
    vocab: Path = Field(description="WordPiece vocabulary file (vocab.txt)")
    seed: int = Field(default=0, description="seed of the deterministic weights (same seed, same weights)")
    null_bias: float = Field(
        default=0.0,
        description="QA: added to the [CLS] start and end logits; > 0 makes the empty answer win sometimes (0.14: about"
        " 60% on SQuAD v2)",
    )
    lowercase: bool | None = Field(
        default=None, description="lower-case the text before WordPiece (default: from the config's name, 'uncased')"
    )

    _vocab_exists = field_validator("vocab", mode="before")(existing_file("vocabulary file"))

    @field_validator("config")
    @classmethod
    def _config_known(cls, value: str, info: ValidationInfo) -> str:
        if value.endswith(".json"):
            path = resolve_path(value, info)
            if not path.is_file():
                raise ValueError(f"config file not found: {path}")
            return str(path)
        # The suite loader passes the shipped configs in the validation context (the models layer owns them).
        shipped = (info.context or {}).get("shipped_configs")
        if shipped is not None and value not in shipped:
            raise ValueError(f"unknown shipped config {value!r}; shipped: {', '.join(shipped)}")
        return value


class EndpointMapping(StrictModel):
    """How to talk to an endpoint that follows neither built-in contract (``contract: custom``).

    Requests carry a list of per-example objects built from ``item``, whose string values
    ``$question``, ``$context`` and ``$text`` are replaced by the example's fields; responses hold one
    result per example at ``results_key``, with the named fields.
    """

    item: dict[str, Any] = Field(description='one example\'s request object, e.g. {"q": "$question", "c": "$context"}')
    batch_key: str | None = Field(
        default="inputs", description="dotted key the list of items goes under (null: the body is the list)"
    )
    results_key: str | None = Field(
        default=None, description="dotted key of the list of results in the response (null: the body is the list)"
    )
    answer: str = Field(default="answer", description="QA: key of each result's answer text")
    start: str = Field(default="start", description="QA: key of the answer's start character offset")
    end: str = Field(default="end", description="QA: key of the answer's end character offset")
    score: str = Field(default="score", description="key of each result's score")
    label: str = Field(default="label", description="classification: key of each result's label")
    scores_key: str | None = Field(
        default=None,
        description="classification: key of each result's list of label scores (null: the result is that list)",
    )

    @field_validator("item")
    @classmethod
    def _has_placeholder(cls, value: dict[str, Any]) -> dict[str, Any]:
        if "$" not in json.dumps(value):
            raise ValueError("item must use at least one of $question, $context, $text")
        return value


EndpointTask = Literal["question-answering", "text-classification"]
#: A model head and the task name deployments (and contracts) use for it.
HEAD_TASKS: dict[str, EndpointTask] = {
    "question-answering": "question-answering",
    "sequence-classification": "text-classification",
}
_AUTH_HEADERS = {"authorization", "api-key", "x-api-key", "ocp-apim-subscription-key", "cookie"}


def _contracts(info: ValidationInfo) -> dict[str, tuple[EndpointTask, ...]] | None:
    """The registered contracts and the tasks each serves, passed in the validation context by the suite loader."""
    contracts: dict[str, tuple[EndpointTask, ...]] | None = (info.context or {}).get("contracts")
    return contracts


class EndpointSpec(StrictModel):
    """A deployed model reached over HTTP: where it is, which JSON contract it speaks, and how hard to push it.

    The auth token is read from the environment variable ``auth_env`` when requests are made; it is
    never written to the suite, the results or a report.
    """

    url: str = Field(description="the scoring URL, e.g. https://NAME.REGION.inference.ml.azure.com/score")
    contract: str = Field(description="azureml-qa, hf-inference or custom")
    task: EndpointTask | None = Field(
        default=None, description="what the deployment does (default: the contract's only task)"
    )
    mapping: EndpointMapping | None = Field(
        default=None, description="contract: custom only: how requests and responses are laid out"
    )
    auth_env: str | None = Field(
        default=None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="environment variable holding the token"
    )
    auth_header: str = Field(default="Authorization", description="header the token goes in (with auth_env)")
    auth_scheme: str = Field(default="Bearer", description="prefix of the token in the auth header ('' for none)")
    headers: dict[str, str] = Field(
        default_factory=dict, description="extra non-secret headers, e.g. azureml-model-deployment"
    )
    labels: list[str] | None = Field(
        default=None, description="classification: the deployment's labels (default: as its responses name them)"
    )
    batch_size: int = Field(default=8, ge=1, description="examples per request")
    concurrency: int = Field(default=4, ge=1, le=256, description="requests in flight at once")
    timeout: float = Field(default=30.0, gt=0, description="seconds per request")
    retries: int = Field(
        default=3, ge=0, description="retries of a request after 429, 5xx, a timeout or a dropped connection"
    )
    backoff: float = Field(default=0.5, ge=0, description="first retry delay in seconds; doubles each retry")
    max_backoff: float = Field(default=30.0, ge=0, description="longest wait between retries, Retry-After included")
    request_budget: int | None = Field(
        default=None, ge=1, description="most HTTP requests (retries included) this model may make in a run"
    )
    max_failure_rate: float = Field(
        default=0.0, ge=0.0, le=1.0, description="fraction of examples allowed to fail before the run's gates fail"
    )

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = expand_env(value)
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError(f"url must start with http:// or https:// (got {value!r})")
        return value

    @field_validator("contract")
    @classmethod
    def _contract_known(cls, value: str, info: ValidationInfo) -> str:
        contracts = _contracts(info)
        if contracts is not None and value not in contracts:
            raise ValueError(f"unknown contract {value!r}; known: {', '.join(contracts)}")
        return value

    @field_validator("headers")
    @classmethod
    def _no_secrets(cls, value: dict[str, str]) -> dict[str, str]:
        secret = [k for k in value if k.lower() in _AUTH_HEADERS]
        if secret:
            raise ValueError(
                f"header {secret[0]!r} carries a secret; name the environment variable holding it in auth_env "
                f"(and auth_header: {secret[0]}, auth_scheme: '' if it has no 'Bearer' prefix)"
            )
        return value

    @model_validator(mode="after")
    def _contract_fits(self, info: ValidationInfo) -> EndpointSpec:
        if (self.contract == "custom") != (self.mapping is not None):
            raise ValueError("contract: custom needs a mapping:, and only it takes one")
        contracts = _contracts(info)
        if contracts is None or self.contract not in contracts:
            return self
        tasks = contracts[self.contract]
        if self.task is None:
            if len(tasks) > 1:
                raise ValueError(f"contract {self.contract} serves {' and '.join(tasks)}; say which with task:")
            self.task = tasks[0]
        elif self.task not in tasks:
            raise ValueError(f"contract {self.contract} does not serve {self.task} (it serves {', '.join(tasks)})")
        return self

    @property
    def head(self) -> str:
        return next(head for head, task in HEAD_TASKS.items() if task == self.task)


class ModelSpec(StrictModel):
    """One model under evaluation: a hub id or local directory (``id``), an offline ``build`` recipe, or a deployed
    ``endpoint``.
    """

    name: str = Field(
        pattern=NAME_PATTERN, max_length=NAME_MAX, description="the model's name in results, reports and gates"
    )
    id: str | None = Field(default=None, description="hub id (org/name) or path to a local model directory")
    build: BuildSpec | None = Field(
        default=None, description="instead of id: build the model offline with deterministic random weights"
    )
    revision: str | None = Field(default=None, description="hub revision (branch, tag or commit) of id")
    device: str = Field(default="auto", description="auto, cpu, cuda, cuda:N or mps (auto: a GPU if there is one)")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        default="float32", description="weights' dtype: float32 is exact; bfloat16 is a measured CPU fast mode"
    )
    quantize: Literal["int8"] | None = Field(
        default=None, description="opt-in fast mode on CPU: dynamic int8 quantisation of the linear layers"
    )
    autocast: Literal["bfloat16"] | None = Field(
        default=None,
        description="matmuls in bfloat16 under torch.autocast, weights, layer norms and the residual stream in"
        " float32: fewer answers change than with a bfloat16 model",
    )
    recheck_margin: float | None = Field(
        default=None,
        gt=0.0,
        le=50.0,
        description="with autocast: predict again in float32 every example whose answer led the runner-up by less"
        " than this (QA: the log of the two best answers' scores' ratio; classification: of the two best labels'"
        " probabilities, or the smallest |logit| with a sigmoid); 0.05 keeps most of exact's answers",
    )
    head_dtype: Literal["float32"] | None = Field(
        default=None,
        description="keep the task head (span scoring, classifier) in float32 under a lower dtype: fewer answers"
        " change",
    )
    fast_mode: Literal["auto"] | None = Field(
        default=None,
        description="auto: measure each fast mode this machine has (the bf16 variants where bf16 is native, int8 on"
        " a CPU) against exact on a random sample of the job, and use the fastest that keeps fast_mode_min_agreement",
    )
    fast_mode_min_agreement: float = Field(
        default=99.0,
        ge=50.0,
        le=100.0,
        description="fast_mode: auto keeps a mode only if its share of answers equal to exact's is certified to be at"
        " least this % of the job's examples (an exact 95% lower bound from the calibration sample)",
    )
    fast_mode_calibration: int = Field(
        default=512,
        ge=16,
        le=4096,
        description="examples fast_mode: auto samples from the job to measure agreement on (the job keeps what they"
        " predicted in the mode that runs); certifying 99% needs up to 459 identical answers with five candidates"
        " (fewer on a smaller job), more if any change",
    )
    attention: Literal["sdpa", "eager"] | None = Field(
        default=None, description="attention kernel (default: sdpa where the model supports it)"
    )
    batch_size: int = Field(
        default=32, ge=1, description="windows (QA) or texts per batch; halved automatically on out-of-memory"
    )
    single_request_latency: int = Field(
        default=0, ge=0, description="also time this many examples one at a time (batch 1, after a warm-up)"
    )
    trust_remote_code: bool = Field(
        default=False, description="run the model repository's own code (off unless you say so)"
    )
    endpoint: EndpointSpec | None = Field(default=None, description="instead of id: a deployment reached over HTTP")
    card: Path | None = Field(default=None, description="the model's card (README.md) to audit against this run")

    _card_exists = field_validator("card", mode="before")(existing_file("model card"))

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if not re.fullmatch(r"auto|cpu|mps|cuda(:\d+)?", value):
            raise ValueError("device must be auto, cpu, mps, cuda or cuda:N")
        return value

    @field_validator("id")
    @classmethod
    def _local_or_hub(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        expanded = expand_env(value)
        local = resolve_path(expanded, info)
        looks_local = expanded.startswith((".", "/", "~")) or expanded.count("/") > 1
        if local.is_dir():
            return str(local)
        if looks_local:
            raise ValueError(
                f"local model directory not found: {local} (set the variable the path names, or give a hub id)"
            )
        return expanded

    @model_validator(mode="after")
    def _one_source(self) -> ModelSpec:
        if sum(x is not None for x in (self.id, self.build, self.endpoint)) != 1:
            raise ValueError(
                "give exactly one of 'id' (hub id or local directory), 'build' (offline recipe) and 'endpoint' (a"
                " deployment)"
            )
        if self.endpoint is not None:
            local_only = sorted(
                self.model_fields_set
                & {
                    "revision",
                    "device",
                    "dtype",
                    "batch_size",
                    "trust_remote_code",
                    "quantize",
                    "attention",
                    "fast_mode",
                    "head_dtype",
                    "autocast",
                    "recheck_margin",
                }
            )
            if local_only:
                raise ValueError(
                    f"{', '.join(local_only)} apply to local models; an endpoint sets its own batch_size under"
                    " endpoint:"
                )
        return self

    @model_validator(mode="after")
    def _fast_mode_alone(self) -> ModelSpec:
        if self.fast_mode is not None and (
            self.dtype != "float32"
            or self.quantize is not None
            or self.head_dtype is not None
            or self.autocast
            or self.recheck_margin is not None
        ):
            raise ValueError(
                "fast_mode: auto chooses dtype, head_dtype, autocast, recheck_margin and quantize itself; leave them"
                " at their defaults"
            )
        if self.recheck_margin is not None and self.autocast is None:
            raise ValueError(
                "recheck_margin re-checks close calls with the float32 weights that autocast keeps; set autocast:"
                " bfloat16 (a bfloat16 or int8 model has no float32 weights to re-check with)"
            )
        if self.head_dtype is not None and self.dtype == "float32":
            raise ValueError(
                "head_dtype: float32 keeps the head exact under a lower dtype; set dtype: bfloat16 or float16"
            )
        return self

    @model_validator(mode="after")
    def _quantize_on_cpu(self) -> ModelSpec:
        if self.quantize is not None and (self.dtype != "float32" or self.device not in ("cpu", "auto")):
            raise ValueError("quantize: int8 runs float32 models on the CPU (set device: cpu, dtype: float32)")
        return self

    @property
    def source(self) -> str:
        if self.endpoint is not None:
            return redact_url(self.endpoint.url)  # the source is printed and recorded: never with credentials
        if self.id is not None:
            return self.id
        assert self.build is not None  # exactly one source is set (validated above)
        return f"build:{self.build.config}"


#: Upper bounds on the QA settings a request may set: generous for any real use, and a wall against a request
#: that asks a served model for a million answers or windows.
MAX_TOP_K = 100
MAX_ANSWER_LEN = 1024
MAX_SEQ_LEN = 8192


class QAPipelineParams(StrictModel):
    """The question-answering pipeline's settings, with its names and defaults: what a suite's QA task and a
    request to ``auditkit serve`` may set."""

    max_seq_len: int | None = Field(
        default=None, ge=16, le=MAX_SEQ_LEN, description="window length in tokens (default min(model max, 384))"
    )
    doc_stride: int | None = Field(
        default=None, ge=1, le=MAX_SEQ_LEN, description="overlap between windows (default min(max_seq_len // 2, 128))"
    )
    max_answer_len: int = Field(default=15, ge=1, le=MAX_ANSWER_LEN, description="longest answer in tokens")
    handle_impossible_answer: bool | None = Field(
        default=None, description="let the empty answer win (default: on for SQuAD v2 data)"
    )
    top_k: int = Field(default=1, ge=1, le=MAX_TOP_K, description="answers per question (the first is scored)")
    align_to_words: bool = Field(default=True, description="extend answers to whole words, as the pipeline does")

    @model_validator(mode="after")
    def _stride_fits(self) -> QAPipelineParams:
        if self.max_seq_len is not None and self.doc_stride is not None and self.doc_stride >= self.max_seq_len:
            raise ValueError(
                f"doc_stride ({self.doc_stride}) must be smaller than max_seq_len ({self.max_seq_len}): it is the"
                " overlap of consecutive windows, which also hold the question"
            )
        return self


class DatasetSpec(StrictModel):
    """Where a task's examples come from: a local ``path`` or a ``hub`` dataset, and which of them to use."""

    path: Path | None = Field(
        default=None, description="a local file (relative to the suite); its extension picks the format"
    )
    hub: str | None = Field(default=None, description="instead of path: a Hugging Face dataset id (org/name)")
    config: str | None = Field(default=None, description="hub: the dataset's configuration")
    split: str = Field(default="validation", description="hub: the split to load")
    revision: str | None = Field(default=None, description="hub: the dataset revision (branch, tag or commit)")
    format: str | None = Field(
        default=None, description="a registered dataset format (squad, tsv, jsonl, csv, parquet, hub, probes, ...)"
    )
    labels: list[str] | None = Field(default=None, description="label names, index order (classification)")
    limit: int | None = Field(default=None, ge=1, description="use the first N examples")
    sample: int | None = Field(default=None, ge=1, description="use N examples drawn with the suite seed")
    articles: list[str] | None = Field(
        default=None, min_length=1, description="QA: keep only the questions of these article titles"
    )
    articles_file: Path | None = Field(
        default=None, description="QA: keep only the articles listed in this file, one title a line ('#' comments)"
    )
    exclude_articles: list[str] | None = Field(default=None, description="QA: leave out these article titles")

    _path_exists = field_validator("path", mode="before")(existing_file("dataset file"))

    @field_validator("labels")
    @classmethod
    def _distinct_labels(cls, value: list[str] | None) -> list[str] | None:
        if value is not None:
            seen: dict[str, str] = {}
            for name in value:
                if name.strip().lower() in seen:
                    raise ValueError(
                        f"label {name!r} is listed twice (as {seen[name.strip().lower()]!r}): each index needs its own"
                        " name, in the order of the model's label ids (e.g. [negative, positive])"
                    )
                seen[name.strip().lower()] = name
        return value

    @field_validator("format")
    @classmethod
    def _registered_format(cls, value: str | None) -> str | None:
        from ..data import DATASET_FORMATS

        if value is not None and value not in DATASET_FORMATS:
            raise ValueError(f"unknown dataset format {value!r}; use one of {', '.join(DATASET_FORMATS.names())}")
        return value

    _articles_exists = field_validator("articles_file", mode="before")(existing_file("article list"))

    @model_validator(mode="after")
    def _consistent(self) -> DatasetSpec:
        if (self.path is None) == (self.hub is None):
            raise ValueError("give exactly one of 'path' (local file) and 'hub' (hub dataset id)")
        if self.limit is not None and self.sample is not None:
            raise ValueError("give at most one of 'limit' and 'sample'")
        if self.articles is not None and self.articles_file is not None:
            raise ValueError("give at most one of 'articles' and 'articles_file'")
        return self


class DecisionSpec(StrictModel):
    """How gates turn intervals into GO / NO_GO / INCONCLUSIVE (see the docs, explanation/decisions.md)."""

    alpha: float = Field(
        default=0.05,
        gt=0.0,
        lt=0.5,
        description="the chance of any wrong verdict the run allows (one-sided per gate, before correction)",
    )
    multiple_comparisons: Literal["holm", "bh", "none"] = Field(
        default="holm",
        description="holm: family-wise error (Holm 1979); bh: false discovery rate (Benjamini-Hochberg 1995)",
    )
    on_inconclusive: Literal["fail", "pass", "inconclusive"] = Field(
        default="inconclusive", description="exit code of an INCONCLUSIVE run: fail -> 1, pass -> 0, inconclusive -> 3"
    )
    power: float = Field(default=0.8, gt=0.0, lt=1.0, description="power for minimum detectable effects and plans")
    look_every: int = Field(default=64, ge=4, description="--until-decided: examples between two looks")


class BootstrapSpec(StrictModel):
    """How the metric tables' intervals are made: percentile bootstraps over examples or whole clusters."""

    resamples: int = Field(default=1000, ge=1, description="bootstrap resamples per interval (at least 1)")
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0, description="level of the metric tables' intervals")

    def settings(self, seed: int) -> BootstrapSettings:
        """The keyword arguments of ``MetricDef.estimate``."""
        return {"resamples": self.resamples, "confidence": self.confidence, "seed": seed}


class BootstrapSettings(TypedDict):
    resamples: int
    confidence: float
    seed: int


class EvaluateMetricSpec(StrictModel):
    """A metric from the ``evaluate`` library, computed over a job's per-example predictions after scoring.

    ``module`` is a local metric folder or script (relative to the suite), an installed module as
    ``package.module:ClassName`` (an ``evaluate.Metric`` subclass), or a name ``evaluate.load`` knows
    (from its cache when offline). auditkit's own official-exact metrics stay the task's metrics; these
    are added beside them as ``<name>`` (one number) or ``<name>_<key>`` (several).
    """

    module: str = Field(
        description="a local metric folder or script, package.module:ClassName, or a name evaluate.load knows"
    )
    name: str | None = Field(default=None, pattern=r"^[A-Za-z][A-Za-z0-9_]*$", description="default: the module's")
    keys: list[str] | None = Field(default=None, description="outputs to keep (default: every number)")
    args: dict[str, Any] = Field(default_factory=dict, description="keyword arguments of compute()")

    @field_validator("module")
    @classmethod
    def _local_paths_resolve(cls, value: str, info: ValidationInfo) -> str:
        looks_like_path = value.endswith(".py") or value.startswith((".", "/", "~")) or "/" in value
        if not looks_like_path or ":" in value:
            return value
        base = Path((info.context or {}).get("base_dir", "."))
        path = (base / Path(value).expanduser()).resolve()
        if not path.exists():
            raise ValueError(f"evaluate metric not found: {path} (a local metric folder or .py script)")
        return str(path)


class TaskSpecBase(StrictModel):
    """Fields every task has; each task kind subclasses it with ``kind`` and its own ``params``."""

    kind: str
    name: str = Field(
        pattern=NAME_PATTERN, max_length=NAME_MAX, description="the task's name in results, reports and gates"
    )
    params: StrictModel = StrictModel()
    dataset: DatasetSpec = Field(description="where the examples come from and which of them to use")
    models: list[str] | None = Field(default=None, description="model names to run (default: all)")
    evaluate: list[EvaluateMetricSpec] = Field(
        default_factory=list, description="extra metrics from the evaluate library (see the docs, how-to/plugins.md)"
    )
    cluster: str | None = Field(
        default=None,
        description="the sampling unit: one of the task kind's units (SQuAD: article, paragraph; bias probes:"
        " template) or 'none' for independent examples (default: the task kind's own unit)",
    )


class GateSpec(StrictModel):
    """A release gate: a parsed expression, the models it applies to, and how regressions are judged."""

    check: str = Field(description="e.g. 'squad_v1.f1 >= 86.0' or 'squad_v1.f1 >= baseline - 0.5'")
    name: str | None = Field(default=None, description="the gate's name in reports (default: the check)")
    models: list[str] | None = Field(
        default=None, description="models the gate applies to (default: every model that ran the task)"
    )
    baseline: Path | None = Field(
        default=None, description="baseline run directory for this gate (default: the suite's)"
    )
    baseline_model: str | None = Field(
        default=None,
        description="which model's job in the baseline run to compare with (default: the same model's, or the"
        " task's only job)",
    )
    against: str | None = Field(
        default=None,
        description="compare with this model's job in the same run instead of a baseline run"
        " (served vs released: 'baseline' in the check, and '<task>.agreement', mean that model)",
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        if isinstance(value, dict) and "significance" in value:
            raise ValueError(
                "'significance' was removed: every baseline gate is now decided on the paired interval of its"
                " difference; set the level for all gates with 'decision: {alpha: 0.05}'"
            )
        return {"check": value} if isinstance(value, str) else value

    @field_validator("check")
    @classmethod
    def _parses(cls, value: str) -> str:
        parse_gate(value)  # raises GateSyntaxError (a ValueError) with the expected form
        return value

    @field_validator("name")
    @classmethod
    def _printable(cls, value: str | None) -> str | None:
        """A gate's name goes into JUnit XML, terminals and reports: control characters would make invalid XML
        or move a reader's cursor, so they are an error here rather than a surprise there."""
        if value is not None and any(ord(ch) < 32 or 127 <= ord(ch) < 160 for ch in value):
            raise ValueError(f"gate name {value!r} contains a control character: use printable text")
        return value

    _baseline_path = field_validator("baseline", mode="before")(resolve_optional_path)

    @model_validator(mode="after")
    def _agreement_needs_against(self) -> GateSpec:
        expr = parse_gate(self.check)
        if expr.metric == "agreement" and self.against is None:
            raise ValueError("'<task>.agreement' compares two models' answers: name the other with 'against: MODEL'")
        if self.against is not None and (self.baseline is not None or self.baseline_model is not None):
            raise ValueError("a gate compares with either 'against' (a model of this run) or 'baseline' (a run)")
        return self

    @property
    def label(self) -> str:
        return self.name or self.check
