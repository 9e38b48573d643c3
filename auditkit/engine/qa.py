"""Extractive question answering, answer-for-answer equal to transformers 4.57.6's pipeline.

transformers 5 removed ``pipeline("question-answering")``. This engine reproduces its decisions exactly
(``tests/test_qa_golden.py`` proves it against answers produced by that pipeline) while running all
windows of all examples through length-sorted, dynamically padded batches:

1. Tokenise question/context pairs in large batches with the fast tokenizer, splitting long contexts
   into windows of ``max_seq_len`` tokens overlapping by ``doc_stride``.
2. Per window: logits outside the context (question, special tokens, padding) are set to -10000,
   except the [CLS] token; softmax over the window; the null score is p_start[0] * p_end[0]; then
   position 0 is zeroed.
3. Per window, the best ``2 * top_k + 10`` spans (``top_k`` when not aligning to words) with
   ``start <= end < start + max_answer_len``, scored p_start * p_end -- computed on a band of width
   ``max_answer_len`` instead of the full length x length matrix, on the model's device.
4. Spans are widened to whole words (the tokenizer's pre-tokenisation words), then, per example and in
   window order, spans whose text is equal ignoring case are merged by *adding* their scores. This
   merge is why the pipeline's score is not simply the best span's probability.
5. With ``handle_impossible_answer`` the empty answer competes with score = the minimum null score
   over the example's windows; answers are sorted by score (ties keep the earlier) and cut to ``top_k``.

Spans with probability exactly 0 (only possible when a window has fewer than ``2 * top_k + 10``
non-zero spans) are dropped; the pipeline may list such zero-score spans at the end of a ``top_k``
list in an arbitrary order.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..core.errors import DatasetError, ModelError
from .batching import BatchTimings, Ragged, run_batches
from .types import ProgressSink, QASettings, Recheck

#: The pipeline masks logits that cannot start or end an answer with this value before the softmax.
MASKED_LOGIT = -10000.0
TOKENIZE_CHUNK = 1024


@dataclass
class QAPrediction:
    """The pipeline's answers for one question, plus the scores SQuAD v2 threshold tuning needs."""

    answers: list[dict[str, Any]]
    null_score: float
    best_span: dict[str, Any] | None
    windows: int
    #: How much the chosen answer's score exceeds the runner-up's, as log(best / runner-up) (inf when nothing
    #: competes): how close the call was, so a faster, less exact mode knows which answers to re-check.
    margin: float = math.inf
    #: True when a fast mode's answer was this close a call and the exact model answered again (``Recheck``).
    rechecked: bool = False

    @property
    def answer(self) -> str:
        return self.answers[0]["answer"] if self.answers else ""

    @property
    def score(self) -> float:
        return self.answers[0]["score"] if self.answers else 0.0

    @property
    def no_answer_probability(self) -> float:
        """Null score relative to the best span: > 0.5 exactly when the empty answer would win.

        This is the real no-answer score for SQuAD v2 threshold tuning -- the chosen answer's own
        confidence says nothing about how close the empty answer came.
        """
        best = self.best_span["score"] if self.best_span else 0.0
        total = self.null_score + best
        return self.null_score / total if total > 0 else 1.0


@dataclass
class Windows:
    """All windows of all examples, flat, with what answer extraction needs per token."""

    input_ids: Ragged
    token_type_ids: Ragged
    allowed: Ragged  # 1 where a token may start/end an answer: context tokens and [CLS]
    char_start: np.ndarray  # flat, per token: first character of the answer if a span starts here
    char_end: np.ndarray  # flat, per token: end character if a span ends here
    raw_start: np.ndarray  # flat, per token: the token's own offsets (fallback when it has no word)
    raw_end: np.ndarray
    has_word: np.ndarray  # flat bool
    example_of_window: np.ndarray

    @property
    def count(self) -> int:
        return len(self.example_of_window)


def _word_spans(
    seq: np.ndarray, word: np.ndarray, starts: np.ndarray, ends: np.ndarray, window_first: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Character span of the (in-window) word each token belongs to, like ``Encoding.word_to_chars``.

    A word is a maximal run of tokens in one window with the same sequence id and word id; tokens of
    a word are contiguous, so runs are found with one comparison against the previous token.
    """
    n = len(seq)
    boundary = np.ones(n, dtype=bool)
    if n > 1:
        boundary[1:] = (seq[1:] != seq[:-1]) | (word[1:] != word[:-1]) | (word[1:] < 0)
    boundary[window_first] = True
    run_id = np.cumsum(boundary) - 1
    run_first = np.flatnonzero(boundary)
    run_last = np.append(run_first[1:], n) - 1
    return starts[run_first[run_id]], ends[run_last[run_id]]


def encode_windows(
    tokenizer: Any, questions: Sequence[str], contexts: Sequence[str], ids: Sequence[str], settings: QASettings
) -> Windows:
    """Tokenise every (question, context) pair into overlapping windows, as the pipeline's preprocess does."""
    if not getattr(tokenizer, "is_fast", False):
        raise ModelError(
            "extractive QA needs a fast (Rust) tokenizer for character offsets",
            hint="use a model that ships tokenizer.json",
        )
    if tokenizer.padding_side != "right":
        raise ModelError(
            "tokenizers that put the context first (padding_side='left') are not supported",
            hint="use a question-first model (BERT, RoBERTa, DistilBERT, ALBERT, DeBERTa, ELECTRA ...)",
        )
    # Check that every question leaves the context room for the overlap first: the tokenizer would panic
    # (in Rust, noisily) without saying which question or which setting.
    room = (settings.max_seq_len or 0) - tokenizer.num_special_tokens_to_add(pair=True)
    lengths = (
        [len(row) for row in tokenizer(list(questions), add_special_tokens=False)["input_ids"]] if questions else []
    )
    tight = next((i for i, n in enumerate(lengths) if room - n <= (settings.doc_stride or 0)), None)
    if tight is not None:
        raise _window_error(tokenizer, questions[tight], ids[tight], settings)
    cls_id = tokenizer.cls_token_id
    ids_rows, types_rows, allowed_rows, seq_rows, word_rows, start_rows, end_rows, owner = (
        [],
        [],
        [],
        [],
        [],
        [],
        [],
        [],
    )
    for first in range(0, len(questions), TOKENIZE_CHUNK):
        q_chunk = list(questions[first : first + TOKENIZE_CHUNK])
        c_chunk = list(contexts[first : first + TOKENIZE_CHUNK])
        try:
            batch = tokenizer(
                q_chunk,
                c_chunk,
                truncation="only_second",
                max_length=settings.max_seq_len,
                stride=settings.doc_stride,
                return_overflowing_tokens=True,
                return_offsets_mapping=True,
                return_token_type_ids=True,
                padding=False,
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:  # the tokenizer (a Rust panic is a BaseException) says what failed, not for which example
            culprit = _find_untokenizable(tokenizer, q_chunk, c_chunk, settings)
            raise _window_error(tokenizer, q_chunk[culprit], ids[first + culprit], settings) from None
        for window, sample in enumerate(batch["overflow_to_sample_mapping"]):
            enc = batch.encodings[window]
            seq = np.array([-1 if s is None else s for s in enc.sequence_ids], dtype=np.int64)
            input_ids = enc.ids
            allowed = (seq == 1) | (np.asarray(input_ids) == cls_id) if cls_id is not None else seq == 1
            ids_rows.append(input_ids)
            types_rows.append(enc.type_ids)
            allowed_rows.append(allowed.astype(np.int64))
            seq_rows.append(seq)
            word_rows.append(np.array([-1 if w is None else w for w in enc.word_ids], dtype=np.int64))
            offsets = np.asarray(enc.offsets, dtype=np.int64).reshape(-1, 2)
            start_rows.append(offsets[:, 0])
            end_rows.append(offsets[:, 1])
            owner.append(first + sample)
    input_ids = Ragged.from_rows(ids_rows)
    seq, word = np.concatenate(seq_rows), np.concatenate(word_rows)
    raw_start, raw_end = np.concatenate(start_rows), np.concatenate(end_rows)
    if settings.align_to_words:
        char_start, char_end = _word_spans(seq, word, raw_start, raw_end, input_ids.offsets[:-1])
    else:
        char_start, char_end = raw_start, raw_end
    return Windows(
        input_ids=input_ids,
        token_type_ids=Ragged.from_rows(types_rows),
        allowed=Ragged.from_rows(allowed_rows),
        char_start=char_start,
        char_end=char_end,
        raw_start=raw_start,
        raw_end=raw_end,
        has_word=word >= 0,
        example_of_window=np.asarray(owner, dtype=np.int64),
    )


def _window_error(tokenizer: Any, question: str, qid: str, settings: QASettings) -> DatasetError:
    """Why a question cannot be split into windows, in the settings' own terms."""
    max_seq_len, stride = settings.max_seq_len or 0, settings.doc_stride or 0
    question_tokens = len(tokenizer(question, add_special_tokens=False)["input_ids"])
    special = tokenizer.num_special_tokens_to_add(pair=True)
    room = max_seq_len - question_tokens - special
    if room <= 0:
        return DatasetError(
            f"question {qid!r} ({question_tokens} tokens) does not fit a window of max_seq_len {max_seq_len}",
            hint="raise max_seq_len, or shorten the question",
        )
    return DatasetError(
        f"doc_stride {stride} is too large for question {qid!r}: a window of max_seq_len {max_seq_len} holds the"
        f" question ({question_tokens} tokens) and {special} special tokens, leaving {room} for the context, and"
        " windows must overlap by less than that",
        hint=f"lower doc_stride below {room} (default: min(max_seq_len // 2, 128)), or raise max_seq_len",
    )


def _find_untokenizable(tokenizer: Any, questions: list[str], contexts: list[str], settings: QASettings) -> int:
    for i, (q, c) in enumerate(zip(questions, contexts, strict=True)):
        try:
            tokenizer(
                q,
                c,
                truncation="only_second",
                max_length=settings.max_seq_len,
                stride=settings.doc_stride,
                return_overflowing_tokens=True,
            )
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException:
            return i
    return 0


@dataclass
class _Candidates:
    """Per window: the best spans (token indices into the window) and their scores, plus the null score."""

    scores: np.ndarray
    starts: np.ndarray
    ends: np.ndarray
    null: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float32))
    probabilities: list[tuple[np.ndarray, np.ndarray]] | None = None  # per window (p_start, p_end), when kept


def window_probabilities(
    start_logits: torch.Tensor, end_logits: torch.Tensor, allowed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The pipeline's start/end probabilities per token (masked softmax, [CLS] then zeroed) and the null scores.

    ``allowed`` is False for question tokens, special tokens other than [CLS], and padding.
    """
    start = torch.where(allowed, start_logits.float(), MASKED_LOGIT)
    end = torch.where(allowed, end_logits.float(), MASKED_LOGIT)
    start = torch.exp(start - start.max(dim=-1, keepdim=True).values)
    start = start / start.sum(dim=-1, keepdim=True)
    end = torch.exp(end - end.max(dim=-1, keepdim=True).values)
    end = end / end.sum(dim=-1, keepdim=True)
    null = start[:, 0] * end[:, 0]
    start[:, 0] = 0.0
    end[:, 0] = 0.0
    return start, end, null


def window_candidates(
    start: torch.Tensor, end: torch.Tensor, settings: QASettings
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The top candidate spans of a batch of windows: (scores, start tokens, end tokens), best first."""
    width = settings.max_answer_len
    length = start.shape[1]
    band = F.pad(end, (0, width - 1)).unfold(1, width, 1)  # band[b, i, d] = p_end[b, i + d]
    span_scores = (start.unsqueeze(-1) * band).reshape(start.shape[0], -1)
    k = min(settings.candidates_per_window, length * width)
    scores, flat = span_scores.topk(k, dim=1)
    starts = torch.div(flat, width, rounding_mode="floor")
    return scores, starts, starts + flat % width


class QAEngine:
    """Answers questions with an AutoModelForQuestionAnswering exactly as the 4.57.6 pipeline would.

    With ``recheck`` (a fast mode's close calls), the questions whose answer led the runner-up by less than
    ``recheck.margin`` are answered again by ``recheck.model``, the exact float32 forward pass, and take its answers.
    """

    def __init__(
        self, model: Any, tokenizer: Any, settings: QASettings, *, batch_size: int = 32, recheck: Recheck | None = None
    ) -> None:
        self.model = model
        self.tokenizer = tokenizer
        self.settings = settings.resolve(tokenizer)
        self.batch_size = batch_size
        self.recheck = recheck
        self.device = next(model.parameters()).device
        self.timings = BatchTimings()
        self.failures: list[
            dict[str, Any]
        ] = []  # local inference never fails per example; endpoint engines fill theirs

    def predict(
        self,
        questions: Sequence[str],
        contexts: Sequence[str],
        ids: Sequence[str] | None = None,
        progress: ProgressSink | None = None,
    ) -> list[QAPrediction]:
        """Answer every question; ``progress`` counts windows."""
        return self.predict_with_probabilities(questions, contexts, ids, progress, keep=False)[0]

    def predict_with_probabilities(
        self,
        questions: Sequence[str],
        contexts: Sequence[str],
        ids: Sequence[str] | None = None,
        progress: ProgressSink | None = None,
        *,
        keep: bool = True,
    ) -> tuple[list[QAPrediction], list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]]]:
        """Answers, and per example and window: (token character offsets, p_start, p_end) over the window's tokens.

        The probabilities let callers score any span -- e.g. the mass on a subject's mention in a bias probe.
        """
        ids = list(ids) if ids is not None else [str(i) for i in range(len(questions))]
        if not questions:  # an empty request (a served batch of none) has no answers, not an error
            return [], []
        windows = encode_windows(self.tokenizer, questions, contexts, ids, self.settings)
        if progress is not None:
            progress.start(windows.count)
        candidates = self._score_windows(windows, progress, keep=keep)
        per_example: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]] = [[] for _ in questions]
        if candidates.probabilities is not None:
            bounds = windows.input_ids.offsets
            for w, example in enumerate(windows.example_of_window.tolist()):
                tokens = slice(int(bounds[w]), int(bounds[w + 1]))
                offsets = np.stack([windows.raw_start[tokens], windows.raw_end[tokens]], axis=1)
                offsets[~windows.allowed.values[tokens].astype(bool)] = -1  # not answerable: question, specials, [CLS]
                per_example[example].append((offsets, *candidates.probabilities[w]))
        predictions = self._assemble(windows, candidates, contexts)
        if self.recheck is not None:
            self._recheck(self.recheck, predictions, per_example, questions, contexts, ids, keep)
        return predictions, per_example

    def _recheck(
        self,
        recheck: Recheck,
        predictions: list[QAPrediction],
        per_example: list[list[tuple[np.ndarray, np.ndarray, np.ndarray]]],
        questions: Sequence[str],
        contexts: Sequence[str],
        ids: Sequence[str],
        keep: bool,
    ) -> None:
        """Answer the close calls again with the exact model, in place; its batches count in this engine's timings."""
        close = [i for i, p in enumerate(predictions) if p.margin < recheck.margin]
        if not close:
            return
        exact = QAEngine(recheck.model, self.tokenizer, self.settings, batch_size=self.batch_size)
        exact.timings = self.timings
        again, probabilities = exact.predict_with_probabilities(
            [questions[i] for i in close], [contexts[i] for i in close], [ids[i] for i in close], keep=keep
        )
        for i, prediction, kept in zip(close, again, probabilities, strict=True):
            prediction.rechecked = True
            predictions[i] = prediction
            per_example[i] = kept

    def _score_windows(self, windows: Windows, progress: ProgressSink | None, keep: bool = False) -> _Candidates:
        k = self.settings.candidates_per_window
        count = windows.count
        out = _Candidates(
            scores=np.zeros((count, k), dtype=np.float32),
            starts=np.zeros((count, k), dtype=np.int64),
            ends=np.zeros((count, k), dtype=np.int64),
            null=np.zeros(count, dtype=np.float32),
            probabilities=[(np.zeros(0), np.zeros(0))] * count if keep else None,
        )
        input_names = set(self.tokenizer.model_input_names)
        pad_id = self.tokenizer.pad_token_id or 0

        def step(rows: np.ndarray) -> None:
            ids, mask = windows.input_ids.padded(rows, pad_id)
            inputs = {"input_ids": torch.from_numpy(ids).to(self.device)}
            if "attention_mask" in input_names:
                inputs["attention_mask"] = torch.from_numpy(mask.astype(np.int64)).to(self.device)
            if "token_type_ids" in input_names:
                inputs["token_type_ids"] = torch.from_numpy(windows.token_type_ids.padded(rows, 0)[0]).to(self.device)
            with torch.inference_mode():
                output = self.model(**inputs)
                allowed = torch.from_numpy(windows.allowed.padded(rows, 0)[0].astype(bool)).to(self.device)
                p_start, p_end, null = window_probabilities(output.start_logits, output.end_logits, allowed)
                scores, starts, ends = window_candidates(p_start, p_end, self.settings)
            if out.probabilities is not None:
                lengths = windows.input_ids.lengths[rows]
                ps, pe = p_start.cpu().numpy(), p_end.cpu().numpy()
                for i, (row, length) in enumerate(zip(rows.tolist(), lengths.tolist(), strict=True)):
                    out.probabilities[row] = (ps[i, :length], pe[i, :length])
            width = scores.shape[1]
            out.scores[rows, :width] = scores.cpu().numpy()
            out.starts[rows, :width] = starts.cpu().numpy()
            out.ends[rows, :width] = ends.cpu().numpy()
            out.null[rows] = null.cpu().numpy()

        lengths = windows.input_ids.lengths
        order = np.argsort(-lengths, kind="stable")
        self.batch_size = run_batches(
            order, lengths, self.batch_size, step, device=self.device, timings=self.timings, progress=progress
        )
        return out

    def _assemble(self, windows: Windows, cand: _Candidates, contexts: Sequence[str]) -> list[QAPrediction]:
        """Map token spans to characters (vectorised), then merge equal answers per example in window order."""
        base = windows.input_ids.offsets[:-1][:, None]
        # Zero-probability candidates (a window with fewer non-zero spans than candidates, e.g. a very short
        # context) can point past the window's last token, into padding; they are never reported, so point
        # them at the window's first token instead of reading another window's (or no) offsets.
        last = windows.input_ids.lengths[:, None] - 1
        valid = cand.scores > 0.0
        s_tok = base + np.where(valid, np.minimum(cand.starts, last), 0)
        e_tok = base + np.where(valid, np.minimum(cand.ends, last), 0)
        both_words = windows.has_word[s_tok] & windows.has_word[e_tok]
        char_s = np.where(both_words, windows.char_start[s_tok], windows.raw_start[s_tok]).tolist()
        char_e = np.where(both_words, windows.char_end[e_tok], windows.raw_end[e_tok]).tolist()
        scores = cand.scores.tolist()
        nulls = cand.null.tolist()
        settings = self.settings

        bounds = np.flatnonzero(np.diff(windows.example_of_window, prepend=-1, append=len(contexts) + 1))
        predictions: list[QAPrediction] = []
        for first, stop in zip(bounds[:-1].tolist(), bounds[1:].tolist(), strict=True):
            context = contexts[int(windows.example_of_window[first])]
            merged: list[dict[str, Any]] = []
            by_text: dict[str, dict[str, Any]] = {}
            for w in range(first, stop):
                for score, cs, ce in zip(scores[w], char_s[w], char_e[w], strict=True):
                    if score <= 0.0:
                        break  # candidates are sorted; the rest are zero-probability spans
                    text = context[cs:ce]
                    key = text.lower()
                    if key in by_text:
                        by_text[key]["score"] += score
                    else:
                        by_text[key] = {"score": score, "start": cs, "end": ce, "answer": text}
                        merged.append(by_text[key])
            null_score = min(nulls[first:stop])
            best_span = max(merged, key=lambda a: a["score"]) if merged else None
            ranked = list(merged)
            if settings.handle_impossible_answer:
                ranked.append({"score": null_score, "start": 0, "end": 0, "answer": ""})
            ranked.sort(key=lambda a: a["score"], reverse=True)
            predictions.append(
                QAPrediction(
                    answers=ranked[: settings.top_k],
                    null_score=null_score,
                    best_span=best_span,
                    windows=stop - first,
                    margin=_margin(ranked),
                )
            )
        return predictions


def _margin(ranked: list[dict[str, Any]]) -> float:
    """log(best score / runner-up score) of answers ranked best first; inf when there is no runner-up."""
    if len(ranked) < 2 or ranked[1]["score"] <= 0.0:
        return math.inf
    return math.log(ranked[0]["score"] / ranked[1]["score"])
