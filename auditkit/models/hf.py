"""Load transformers checkpoints -- hub id, local directory or offline build -- through one path.

A ``build`` recipe is materialised once into the cache folder with ``save_pretrained`` and then loaded
exactly like a hub id or a local directory, so tests and the offline demo exercise the real loading
code. Every loaded model gets a fingerprint (config, weights and tokenizer hashes) that keys the
prediction cache and appears in results and reports.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import torch

from ..core.errors import ModelError
from ..engine.classify import Activation, ClassificationEngine
from ..engine.qa import QAEngine
from ..engine.types import QASettings, Recheck
from ..spec.schema import ModelSpec
from .synthetic import BuildRecipe, build_model, weights_digest

Head = Literal["question-answering", "sequence-classification"]
_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}

#: A loaded transformers model. Typed as Any on purpose: its attributes (config, heads) are dynamic, and
#: torch's Module.__getattr__ types them as Tensor | Module, which no call site can use without a cast.
PreTrained = Any


def cache_dir() -> Path:
    """Where built models (and, later, prediction caches) live: ``$AUDITKIT_CACHE`` or ~/.cache/auditkit."""
    return Path(os.environ.get("AUDITKIT_CACHE", Path.home() / ".cache" / "auditkit"))


@dataclass
class LoadedModel:
    """A model ready for a task, with what reports and caches need to know about it."""

    name: str
    source: str
    head: Head
    model: PreTrained
    tokenizer: Any
    batch_size: int
    fingerprint: dict[str, str]
    info: dict[str, Any] = field(default_factory=dict)
    recheck: Recheck | None = None  # a fast mode's close calls, answered again by the exact forward pass

    cacheable: ClassVar[bool] = True  # its fingerprint pins everything that determines its outputs
    max_failure_rate: ClassVar[float | None] = None  # local inference does not fail per example

    @property
    def device(self) -> torch.device:
        device: torch.device = next(self.model.parameters()).device
        return device

    def qa_engine(self, settings: QASettings) -> QAEngine:
        return QAEngine(self.model, self.tokenizer, settings, batch_size=self.batch_size, recheck=self.recheck)

    def classification_engine(
        self, activation: Activation | None = None, max_length: int | None = None
    ) -> ClassificationEngine:
        return ClassificationEngine(
            self.model,
            self.tokenizer,
            batch_size=self.batch_size,
            activation=activation,
            max_length=max_length,
            recheck=self.recheck,
        )

    def close(self) -> None:
        """Nothing to release; the runner drops the reference."""


def resolve_device(requested: str) -> torch.device:
    if requested == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {requested!r} requested but CUDA is not available", hint="use device: auto or cpu")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ModelError("device 'mps' requested but MPS is not available", hint="use device: auto or cpu")
    return device


def silence_transformers() -> None:
    """transformers' own progress bars and warnings would interleave with ours and break ``--quiet``."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()


#: Hub ids from before organisation namespaces, and the canonical ids the Hub redirects them to. Loading
#: the canonical id makes an offline cache filled under either name work, and results name one model one way.
CANONICAL_IDS = {
    "distilbert-base-cased-distilled-squad": "distilbert/distilbert-base-cased-distilled-squad",
    "distilbert-base-uncased-distilled-squad": "distilbert/distilbert-base-uncased-distilled-squad",
    "distilbert-base-uncased-finetuned-sst-2-english": "distilbert/distilbert-base-uncased-finetuned-sst-2-english",
    "distilbert-base-cased": "distilbert/distilbert-base-cased",
    "distilbert-base-uncased": "distilbert/distilbert-base-uncased",
    "bert-base-uncased": "google-bert/bert-base-uncased",
    "bert-base-cased": "google-bert/bert-base-cased",
    "roberta-base": "FacebookAI/roberta-base",
}


def _resolved_revision(repo_id: str, revision: str | None) -> str | None:
    """The commit the Hub cache holds for ``repo_id`` at ``revision``: the snapshot the model was loaded from."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(repo_id, "config.json", revision=revision)
    if not isinstance(found, str):
        return None
    parts = Path(found).parts
    return parts[parts.index("snapshots") + 1] if "snapshots" in parts else None


def canonical_id(source: str) -> str:
    """The canonical Hub id of a legacy one (``distilbert-base-cased-distilled-squad`` ->
    ``distilbert/distilbert-base-cased-distilled-squad``); anything else unchanged."""
    if Path(source).exists():
        return source
    return CANONICAL_IDS.get(source, source)


def materialize(spec: ModelSpec) -> str:
    """The hub id or directory to load: for a ``build`` recipe, the cached build (built on first use)."""
    silence_transformers()
    if spec.build is None:
        if spec.id is None:
            raise ModelError(f"model {spec.name!r} has neither an id nor a build recipe", source=spec.name)
        return canonical_id(spec.id)
    recipe = BuildRecipe(
        spec.build.config,
        spec.build.vocab,
        seed=spec.build.seed,
        lowercase=spec.build.lowercase,
        null_bias=spec.build.null_bias,
    )
    target = cache_dir() / "models" / f"{Path(recipe.config).stem}-{recipe.digest()}"
    if not (target / "auditkit_build.json").is_file():
        build_model(recipe, target)
    return str(target)


def _sha256_json(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()


def fingerprint(model: PreTrained, tokenizer: Any) -> dict[str, str]:
    """Hashes of what determines a model's outputs: config (minus bookkeeping), weights, tokenizer."""
    config = {
        k: v
        for k, v in model.config.to_dict().items()
        if k not in {"transformers_version", "_name_or_path", "dtype", "torch_dtype"}
    }
    backend = getattr(tokenizer, "backend_tokenizer", None)
    tok_repr = backend.to_str() if backend is not None else json.dumps(tokenizer.get_vocab(), sort_keys=True)
    parts = {
        "config_sha256": _sha256_json(config),
        "weights_sha256": weights_digest(model),
        "tokenizer_sha256": hashlib.sha256(tok_repr.encode()).hexdigest(),
    }
    parts["model_sha256"] = hashlib.sha256("".join(parts.values()).encode()).hexdigest()
    return parts


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__


@functools.cache
def _hub_answers(endpoint: str) -> bool:
    """Whether the hub answers at all (one request, no retries, 5 s at most; proxies as the environment says).

    Without this, an unreachable hub costs about half a minute of the hub client's retries per file
    before the same error.
    """
    import httpx

    try:
        httpx.head(endpoint, timeout=5.0)
    except httpx.TransportError:
        return False
    return True


def _hub_unreachable(source: str, spec: ModelSpec) -> bool:
    """True when ``source`` is a hub id and the hub cannot be reached: load from the local cache only then.

    Local directories and build recipes never touch the network; with ``HF_HUB_OFFLINE=1`` the hub
    client itself stays local. If the files are not cached either, loading fails at once with one error.
    """
    if Path(source).is_dir() or os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    from huggingface_hub import constants

    unreachable = not _hub_answers(constants.ENDPOINT)
    if unreachable:
        logging.getLogger("auditkit").warning(
            "the Hugging Face hub (%s) cannot be reached: %s is read from the local cache only",
            constants.ENDPOINT,
            source,
        )
    return unreachable


def _config(spec: ModelSpec) -> tuple[str, Any, list[str]]:
    """The model's source, its config and the architectures it declares (config only: cheap)."""
    from transformers import AutoConfig

    source = materialize(spec)
    local_only = _hub_unreachable(source, spec)
    try:
        config = AutoConfig.from_pretrained(
            source, revision=spec.revision, trust_remote_code=spec.trust_remote_code, local_files_only=local_only
        )
    except Exception as exc:
        if local_only:
            raise ModelError(
                f"cannot reach the Hugging Face hub, and {source!r} is not in the local cache",
                source=spec.name,
                hint="connect to the hub, point HF_HOME at a cache that holds the model, or use a local directory",
            ) from None
        raise ModelError(
            f"cannot load model {source!r}: {_first_line(exc)}",
            source=spec.name,
            hint="check the hub id (and network access to the hub) or the local directory;"
            " offline, use a local directory or a 'build' recipe",
        ) from None
    return source, config, list(getattr(config, "architectures", None) or [])


def check_source(spec: ModelSpec, head: Head) -> str:
    """Resolve the model's source and check its config suits ``head``; return the source to load.

    Cheap (config only), so a suite can check every model before running any of them.
    """
    source, _, architectures = _config(spec)
    wanted = "ForQuestionAnswering" if head == "question-answering" else "ForSequenceClassification"
    if architectures and not any(a.endswith(wanted) for a in architectures):
        raise ModelError(
            f"model {source!r} is a {architectures[0]}, but this task needs a *{wanted} model",
            source=spec.name,
            hint="pair QA tasks with question-answering checkpoints and classification tasks with classifiers",
        )
    return source


def config_warnings(spec: ModelSpec) -> list[str]:
    """What a checkpoint's config says that the run will not do: printed, and recorded with the model.

    A config with ``auto_map`` names custom code; without ``trust_remote_code`` that code does not run,
    and transformers builds its own class for the ``model_type`` instead -- possibly not the model the
    checkpoint's author evaluated.
    """
    _, config, _ = _config(spec)
    auto_map = getattr(config, "auto_map", None)
    if auto_map and not spec.trust_remote_code:
        return [
            f"the config's auto_map names custom code ({', '.join(sorted(auto_map))}) that is not run without"
            f" trust_remote_code; transformers' own {config.model_type!r} classes are used instead"
        ]
    return []


def model_labels(spec: ModelSpec) -> list[str]:
    """A classifier's label names in id order, from its config alone."""
    _, config, _ = _config(spec)
    id2label = getattr(config, "id2label", None) or {}
    return [str(id2label[i]) for i in sorted(id2label)]


def detect_head(spec: ModelSpec) -> Head:
    """The head a model's config declares (for tasks that work with either, like bias probes)."""
    source, _, architectures = _config(spec)
    declared = " ".join(architectures)
    if "ForQuestionAnswering" in declared:
        return "question-answering"
    if "ForSequenceClassification" in declared:
        return "sequence-classification"
    raise ModelError(
        f"model {source!r} ({declared or 'no architecture'}) is neither a QA model nor a classifier", source=spec.name
    )


def _from_pretrained(auto: Any, source: str, spec: ModelSpec, kwargs: dict[str, Any]) -> PreTrained:
    """Load with the requested attention kernel: SDPA by default where the architecture has it, else its own."""
    if spec.attention is not None:
        try:
            return auto.from_pretrained(source, dtype=_DTYPES[spec.dtype], attn_implementation=spec.attention, **kwargs)
        except ValueError as exc:
            raise ModelError(
                f"attention {spec.attention!r} is not available for {source!r}: {_first_line(exc)}",
                source=spec.name,
                hint="remove 'attention:' to use the model's default kernel",
            ) from None
    try:
        return auto.from_pretrained(source, dtype=_DTYPES[spec.dtype], attn_implementation="sdpa", **kwargs)
    except ValueError:  # the architecture has no SDPA path
        return auto.from_pretrained(source, dtype=_DTYPES[spec.dtype], **kwargs)


def quantize_int8(model: PreTrained) -> PreTrained:
    """Dynamic int8 quantisation of every nn.Linear (weights int8, activations quantised per batch), CPU only.

    The opt-in fast mode: answers can change, so runs record it and a suite that evaluates the exact
    and the quantised model side by side reports their agreement and paired deltas.
    """
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch announces the quantized-tensor API's future move to torchao
        quantized: PreTrained = torch.ao.quantization.quantize_dynamic(  # type: ignore[no-untyped-call]
            model, {torch.nn.Linear}, dtype=torch.qint8
        )
        return quantized


#: The modules that map a transformer's hidden states to a task's scores, by the names transformers gives them.
HEAD_MODULES = ("qa_outputs", "pre_classifier", "classifier", "score")


class ExactForward(torch.nn.Module):
    """A model's own float32 forward pass, from before autocast wrapped it: what close calls are re-checked with.
    It shares the model's weights (no copy), and exposes them so engines find the device."""

    def __init__(self, model: PreTrained, forward: Any) -> None:
        super().__init__()
        self.model = model
        self.config = model.config
        self.exact_forward = forward

    def forward(self, **inputs: Any) -> Any:
        return self.exact_forward(**inputs)


def compute_under_autocast(model: PreTrained, device: torch.device, dtype: torch.dtype) -> ExactForward:
    """Run every forward pass under ``torch.autocast``: matmuls in ``dtype`` (native bf16 kernels), while the
    weights, layer norms, softmax and the residual stream stay float32 -- where a bfloat16 model's answers
    change, since each residual addition would round to 8 bits of mantissa. Returns the exact forward pass."""
    forward = model.forward

    def autocast_forward(*args: Any, **kwargs: Any) -> Any:
        with torch.autocast(device.type, dtype=dtype):
            return forward(*args, **kwargs)

    model.forward = autocast_forward
    return ExactForward(model, forward)


def _inputs_float32(module: torch.nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.float() if torch.is_tensor(a) and a.is_floating_point() else a for a in args)


def keep_head_float32(model: PreTrained) -> list[str]:
    """Put the task head back in float32 under a lower-precision body: the head's inputs are cast up, so span
    scores and class logits are computed (and compared, and argmaxed) in float32. Returns the modules kept."""
    kept = []
    for name in HEAD_MODULES:
        module = getattr(model, name, None)
        if isinstance(module, torch.nn.Module):
            module.float()
            module.register_forward_pre_hook(_inputs_float32)
            kept.append(name)
    return kept


def load_model(spec: ModelSpec, head: Head) -> LoadedModel:
    """Load tokenizer and model for ``head``; raise :class:`ModelError` with a fix when that fails."""
    from transformers import AutoModelForQuestionAnswering, AutoModelForSequenceClassification, AutoTokenizer

    source = check_source(spec, head)
    auto = AutoModelForQuestionAnswering if head == "question-answering" else AutoModelForSequenceClassification
    kwargs = {
        "revision": spec.revision,
        "trust_remote_code": spec.trust_remote_code,
        "local_files_only": _hub_unreachable(source, spec),
    }
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, **kwargs)
        model = _from_pretrained(auto, source, spec, kwargs)
    except ModelError:
        raise
    except Exception as exc:
        raise ModelError(
            f"cannot load model {source!r}: {_first_line(exc)}",
            source=spec.name,
            hint="check that the directory holds a complete checkpoint (config, weights, tokenizer)",
        ) from None
    device = torch.device("cpu") if spec.quantize else resolve_device(spec.device)
    model.to(device).eval()
    weights = fingerprint(model, tokenizer)  # of the checkpoint as loaded, before any quantisation
    parameters = int(sum(p.numel() for p in model.parameters()))  # quantised layers hide theirs in packed buffers
    if spec.quantize == "int8":
        model = quantize_int8(model)
    recheck = None
    if spec.autocast is not None:
        if spec.dtype != "float32" or spec.quantize is not None:
            raise ModelError("autocast runs a float32 model", source=spec.name, hint="leave dtype and quantize unset")
        exact = compute_under_autocast(model, device, _DTYPES[spec.autocast])
        if spec.recheck_margin is not None:
            recheck = Recheck(exact, spec.recheck_margin)
    head_kept = keep_head_float32(model) if spec.head_dtype == "float32" else []
    if spec.head_dtype == "float32" and not head_kept:
        raise ModelError(
            f"model {source!r} has no head module this can keep in float32 (looked for {', '.join(HEAD_MODULES)})",
            source=spec.name,
            hint="remove head_dtype",
        )
    if head == "question-answering" and not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            f"model {source!r} has no fast tokenizer; extractive QA needs character offsets",
            source=spec.name,
            hint="use a checkpoint that ships tokenizer.json",
        )
    info = {
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "parameters": parameters,
        "revision": spec.revision,
        "fast_mode": None,  # fast_mode: auto records its measured choice here (auditkit.running.fast_modes)
        # The commit the Hub resolved the revision to (None for local directories: their fingerprint pins them).
        "resolved_revision": None if Path(source).is_dir() else _resolved_revision(source, spec.revision),
        "requested_id": spec.id if spec.id is not None and spec.id != source else None,
        "device": str(device),
        "dtype": spec.dtype,
        "quantize": spec.quantize,
        "head_dtype": spec.head_dtype,
        "autocast": spec.autocast,
        "recheck_margin": spec.recheck_margin,
        "attention": getattr(model.config, "_attn_implementation", None),
        "batch_size": spec.batch_size,
        "max_position_embeddings": getattr(model.config, "max_position_embeddings", None),
        "built": spec.build.model_dump(mode="json") if spec.build else None,
    }
    return LoadedModel(spec.name, spec.source, head, model, tokenizer, spec.batch_size, weights, info, recheck)
