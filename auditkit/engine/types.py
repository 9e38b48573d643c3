"""The engine's torch-free vocabulary: QA settings and the progress protocol.

Tasks build settings and receive progress without importing torch, so reading a finished run (which
goes through the task registry) never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol

from ..core.errors import ModelError


@dataclass(frozen=True)
class Recheck:
    """How a fast mode keeps exact's answers on close calls: examples whose answer led the runner-up by less
    than ``margin`` (for QA the log of the two best answers' scores' ratio; for classification see
    ``decision_margins``) are predicted again by ``model``, the exact float32 forward pass.

    Why: a lower precision changes an answer only where two answers nearly tie, and the fast mode's own margin
    says where that is, so re-running a few close calls in float32 keeps most of exact's answers at little cost
    (measured in ``benchmarks/close_calls.py``).
    """

    model: Any
    margin: float


class ProgressSink(Protocol):
    """Receives progress: ``start`` once the amount of work is known (e.g. windows), then ``advance``."""

    def start(self, total: int) -> None: ...

    def advance(self, amount: int) -> None: ...


@dataclass(frozen=True)
class QASettings:
    """The pipeline's knobs, with its defaults. ``None`` lengths are resolved against the tokenizer."""

    max_seq_len: int | None = None
    doc_stride: int | None = None
    max_answer_len: int = 15
    handle_impossible_answer: bool = False
    top_k: int = 1
    align_to_words: bool = True

    def resolve(self, tokenizer: Any) -> QASettings:
        """Fill in the pipeline's defaults.

        max_seq_len = min(model_max_length, 384) and doc_stride = min(max_seq_len // 2, 128).
        """
        max_seq_len = self.max_seq_len or min(int(tokenizer.model_max_length), 384)
        doc_stride = self.doc_stride if self.doc_stride is not None else min(max_seq_len // 2, 128)
        if doc_stride >= max_seq_len:
            raise ModelError(
                f"doc_stride ({doc_stride}) must be smaller than max_seq_len ({max_seq_len}): it is the overlap of"
                " consecutive windows",
                hint="lower doc_stride",
            )
        if self.max_answer_len < 1 or self.top_k < 1:
            raise ModelError("max_answer_len and top_k must be at least 1")
        return replace(self, max_seq_len=max_seq_len, doc_stride=doc_stride)

    @property
    def candidates_per_window(self) -> int:
        # Word alignment can map several token spans onto one answer, so the pipeline over-fetches.
        return self.top_k * 2 + 10 if self.align_to_words else self.top_k
