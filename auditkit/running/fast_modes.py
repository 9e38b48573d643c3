"""``fast_mode: auto``: measure each fast mode this machine has against exact, on this task's data, and keep
the fastest one whose answers are *certified* to agree with exact's -- else run exact.

Why measure: whether bf16 or int8 is faster depends on the CPU (native bf16 or emulated, AMX or not) and
on the load of a shared machine, and whether it changes answers depends on the model and the data: on
minilm-squad dynamic int8 changes almost half of the QA answers while SST-2 labels barely move. An
assumption per CPU flag would pick int8 where it costs 8 F1 points.

The calibration examples are a uniform random sample of the job's examples, drawn without replacement in an order
keyed by the data's fingerprint (:func:`calibration_sample`): the same data always gives the same sample, so it
cannot be re-drawn until a mode passes, and the sample speaks about the whole job -- the first examples of a file
are one or two SQuAD articles, which say little about the other twenty.

Speed: in each of ``REPEATS`` rounds, after a warm-up, the next ``TIMING_EXAMPLES`` examples of the sample are predicted
by exact and by every candidate, in a rotating order; each candidate's speed-up is exact's time over its time *in the
same round*, on the same examples (so a busy moment slows both), summarised by the median and range over rounds. The
rounds' answers are the first of the agreement evidence: no example is predicted twice by one mode unless the sample is
smaller than the rounds. A candidate is fast enough if its median speed-up is at least ``MIN_SPEEDUP`` and no round was
slower than exact. A candidate whose answers after a round already changed more than its certificate allows is timed no
more.

Agreement, certified: an estimate is not enough. A mode that changed 1 of 128 calibration answers (99.2%) changed
1.6% of all 6,375 held-out SQuAD questions when it ran them -- below a 99% floor the estimate seemed to clear. So
the fast-enough candidates are tried fastest first on the whole sample (``fast_mode_calibration`` examples), and
one is kept only when the exact one-sided lower bound of its identical answers *among the job's examples* clears
``fast_mode_min_agreement`` at ``CONFIDENCE``, split over every mode measured (Bonferroni, fixed before anything is
measured). The bound inverts the hypergeometric tail (:func:`auditkit.stats.exact.hypergeometric_lower`): the
sample is drawn without replacement from a finite job, so the chance that the chosen mode agrees with exact on
fewer than that share of this job's examples is at most 1 - ``CONFIDENCE``, by the random draw alone -- no
assumption that examples are independent, so SQuAD's articles need no correction. A choice that also runs the
model's other jobs with this head (not sampled) cannot speak exactly about them: it is certified with
Clopper-Pearson's bound instead, for examples like the calibration task's drawn independently -- an assumption the
record states by naming the task. A candidate stops being measured as soon as it has changed more answers than
would let it clear the floor. The price is calibration size: 99% needs at least ``examples_to_certify`` (459 at
five candidates, fewer from a smaller job) identical answers and none changed; a smaller sample cannot certify it,
and exact runs.

Paying for itself: auto is meant to finish no later than exact would, so measuring is weighed against what it
can save at every step. Before anything loads, a job too short to win back the timing rounds and the certification
even with a mode ``MAX_SPEEDUP`` times faster than exact is not calibrated at all. Then exact alone loads and
predicts the first timing block (predictions the job keeps whatever happens): if loading the candidates, at
exact's measured load time each, and measuring them would still cost more than exact needs for the rest at
``MAX_SPEEDUP``, none loads (a short job of a small model, where loading costs as much as predicting dozens of
examples). After each timing round but the last, the slowest candidates are timed no more while timing them
beside the faster ones could not pay (:func:`not_worth_timing`). After the timing rounds, with exact's measured
time per example and each candidate's measured speed-up, a candidate is certified only if
certifying it and then running the job in it is predicted to finish sooner than running the rest in exact. The
prediction assumes the candidate passes: a failing candidate's certification is the price of looking, stopped
as soon as its changes rule it out. (Weighing the chance of passing instead was measured and dropped: from
the 128 timed answers that chance rests on the prior -- one changed answer moves it from 76% to 28% for a mode
that truly changes 1 in 2,000 -- and at scale it skipped the mode a certificate would have kept.)

Nothing computed is thrown away: what the calibration predicted in the mode that runs (the chosen mode's answers,
or exact's when none is kept) are the job's predictions for those examples (``FastModeChoice.done``, by example
id); the job predicts only the rest, whether it runs in full or ``--until-decided`` (its
``timing.calibration_examples`` counts them); and the model of that mode stays loaded for the job
(``FastModeChoice.model``).
The choice, every candidate's measurements, the predicted payoff and the reason are recorded in the model's
``info.fast_mode``.
"""

from __future__ import annotations

import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

from ..data import Dataset
from ..models import Head, LoadedModel, open_model
from ..results.environment import cpu_features
from ..spec.schema import BootstrapSpec, ModelSpec
from ..stats.exact import clopper_pearson, hypergeometric_lower
from ..tasks.base import Predictions, Task
from ..tasks.sampling import canonical_order
from .cache import join_predictions

#: Timed rounds per calibration; each round runs every mode once, in a rotating order.
REPEATS = 3
#: Examples each timing round predicts (the next ones of the calibration sample).
TIMING_EXAMPLES = 128
#: The least median speed-up that makes a fast mode worth an answer's risk of changing.
MIN_SPEEDUP = 1.1
#: Confidence that the chosen mode's agreement with exact is at least the floor (Bonferroni over candidates).
CONFIDENCE = 0.95
#: Examples predicted at a time while a candidate's agreement is certified, so a failing one stops early. Smaller
#: steps predict slower per example (minilm-squad, batch 32: 19-21 ms a question
#: in steps of 64, 15.5 in steps of 256), which costs more than a failing candidate's overshoot.
AGREEMENT_STEP = 256
#: Close calls the re-checking mode predicts again in float32: a lead over the runner-up below this log ratio. bf16
#: autocast moves a model's logits by a few hundredths (its logits are rounded to steps of 1/128 to 1/32); on
#: minilm-squad this margin re-checks about 6% of the questions (benchmarks/close_calls.py).
RECHECK_MARGIN = 0.05
#: The largest speed-up over exact assumed before anything is measured, when deciding whether a job is long
#: enough to calibrate for at all: above what any candidate has measured on these CPUs (bf16 on AMX: under 3x),
#: with room for GPUs. Too high only means a short job is measured when it could not pay; never the reverse.
MAX_SPEEDUP = 8.0


@dataclass(frozen=True)
class FastModeChoice:
    """What ``fast_mode: auto`` decided: the ModelSpec to run, the record of how it was chosen, the predictions
    the calibration already made in that mode on examples of the calibration task's dataset (rows keyed by
    ``id``; None: none), which the job takes instead of predicting them again, and the model of that mode, still
    loaded and warm (None if none was loaded), which the caller runs the job on -- and closes."""

    spec: ModelSpec
    record: dict[str, Any]
    done: Predictions | None
    model: LoadedModel | None = None


def candidates(spec: ModelSpec) -> tuple[dict[str, dict[str, Any]], list[str]]:
    """The fast modes worth measuring here (name -> ModelSpec changes), and the ones left out with why."""
    from ..models.hf import resolve_device

    device = resolve_device(spec.device)
    native = device.type == "cuda" or any(f in cpu_features() for f in ("avx512_bf16", "amx_bf16"))
    modes: dict[str, dict[str, Any]] = {}
    skipped: list[str] = []
    if native:
        modes["bf16"] = {"dtype": "bfloat16"}
        modes["bf16 + fp32 head"] = {"dtype": "bfloat16", "head_dtype": "float32"}
        modes["bf16 autocast"] = {"autocast": "bfloat16"}  # float32 residual stream: fewer changed answers
        # Close calls predicted again in float32: fewer changed answers still, at a small cost.
        modes["bf16 autocast + fp32 re-check"] = {"autocast": "bfloat16", "recheck_margin": RECHECK_MARGIN}
    else:
        skipped.append("bf16: this CPU has no native bf16 (no AVX512_BF16 or AMX), where it runs emulated and slower")
    if device.type == "cpu":
        modes["int8 (dynamic)"] = {"quantize": "int8", "device": "cpu"}
    else:
        skipped.append(f"int8 (dynamic): a CPU-only kernel, and the model runs on {device.type}")
    return modes, skipped


def _answers(task: Task[Any], model: LoadedModel, dataset: Dataset) -> tuple[list[str], float, Predictions]:
    """The model's answers on ``dataset`` (the task's answer column, in example order), the seconds predicting
    took (scoring, which is the same for every mode, is not timed) and the predictions themselves."""
    started = time.perf_counter()
    predictions = task.predict(model, dataset)
    seconds = time.perf_counter() - started
    scored = task.score(predictions.frame, dataset, BootstrapSpec().model_copy(update={"resamples": 1}), 0)
    frame = scored.per_example
    by_id = dict(zip(frame["id"].astype(str), frame[str(task.answer_column)].astype(str), strict=True))
    return [by_id.get(str(example.id), "") for example in dataset.examples], seconds, predictions


def calibration_sample(dataset: Dataset, n: int) -> list[int]:
    """Positions of ``n`` of the dataset's examples, a uniform sample without replacement in a random order that is
    a fixed function of the data (each id's SHA-256 keyed by the dataset's fingerprint, as ``--until-decided``
    orders unclustered data: there the sample is the first examples a sequential run sees)."""
    ids = [str(example.id) for example in dataset.examples]
    return canonical_order(ids, None, dataset.fingerprint)[:n]


def best_case_cost(total: int, n: int, timed: int, modes: int, speedup: float) -> float:
    """Auto's least possible time, in exact's seconds per example, when it keeps a mode: exact and the kept mode
    on the whole sample (the timing rounds are part of it), the other candidates on their first ``timed``
    examples (dropped on their first answers), rounds that must re-time the first examples of a sample too small
    for fresh ones, and the job's other examples, all at ``speedup``. Model loading and scoring are left out: a
    lower bound."""
    repeated = (REPEATS - min(REPEATS, n // timed)) * timed * (1.0 + 1.0 / speedup)
    return n * (1.0 + 1.0 / speedup) + (modes - 1) * timed / speedup + repeated + (total - n) / speedup


def not_worth_timing(ratios: dict[str, float], rounds_done: int, timed: int, done: int, n: int, work: int) -> list[str]:
    """The candidates (by measured speed-up so far) that more timing rounds cannot pay for, slowest first.

    Each further round times every candidate still in, so a short job cannot afford many: timing the k fastest for
    the remaining rounds, then certifying the fastest on the rest of the sample and running the job's other
    examples in it, must cost less (in exact's time per example; the fastest assumed to pass) than running the
    ``work - done`` examples exact has not predicted in exact. The slowest are dropped until it does; all of them
    if even the fastest alone cannot pay."""
    ranked = sorted(ratios, key=lambda name: -ratios[name])
    future = range(rounds_done, REPEATS)
    fresh_end = min(REPEATS, n // timed) * timed  # where the timing rounds leave the sample
    for keep in range(len(ranked), 0, -1):
        fastest = ratios[ranked[0]]
        per_round = timed * (1.0 + sum(1.0 / ratios[name] for name in ranked[:keep]))
        cost = len(future) * per_round + (n - fresh_end) * (1.0 + 1.0 / fastest) + (work - n) / fastest
        if cost < work - done:
            return ranked[keep:][::-1]
    return ranked[::-1]


def agreement_lower_bound(identical: int, n: int, a: float, population: int | None) -> float:
    """The exact one-sided lower bound (level ``a``), in percent, of the share of a ``population``-example job
    whose answers are identical, from ``identical`` of ``n`` drawn from it without replacement; with no
    population (the choice also runs other jobs, which were not sampled), Clopper-Pearson's bound for examples
    like these, drawn independently."""
    if not n:
        return 0.0
    if population is None:
        return 100.0 * clopper_pearson(identical, n, a)[0]
    return 100.0 * hypergeometric_lower(identical, n, population, a) / population


def most_changes(n: int, floor: float, a: float, population: int | None) -> int | None:
    """The most changed answers of ``n`` sampled that still certify ``floor`` % agreement on the ``population``
    (None: on examples like these) at level ``a`` (None: none do)."""
    allowed = None
    for changed in range(n + 1):
        if agreement_lower_bound(n - changed, n, a, population) < floor:
            break
        allowed = changed
    return allowed


def examples_to_certify(floor: float, a: float, population: int | None) -> int | None:
    """The fewest examples sampled from a ``population``-example job that can certify ``floor`` % (every answer
    identical): at 100% most of the job. With no population, (floor/100)^n <= a; None for 100%, which no number
    of examples like these certifies."""
    if population is None:
        return None if floor >= 100.0 else max(1, math.ceil(math.log(a) / math.log(floor / 100.0) - 1e-9))
    low, high = 1, population  # a sample of the whole job certifies any floor its answers meet
    while low < high:
        middle = (low + high) // 2
        if agreement_lower_bound(middle, middle, a, population) >= floor:
            high = middle
        else:
            low = middle + 1
    return low


def choose_fast_mode(
    task: Task[Any], spec: ModelSpec, head: Head, dataset: Dataset, examples: int | None = None
) -> FastModeChoice:
    """The concrete ModelSpec to run (exact or one fast mode), the record of how it was chosen, and the
    predictions the calibration already made in that mode.

    ``examples``: how many examples the choice will run (default: ``dataset``'s), which is what measuring must
    pay for; a model's choice holds for all its jobs with this head, so a suite passes their sum, counted at
    this task's time per example.
    """
    began = time.perf_counter()
    exact_spec = spec.model_copy(update={"fast_mode": None})
    modes, skipped = candidates(spec)
    total = len(dataset)
    work = max(examples or 0, total)
    # The sample speaks exactly about this job's examples; a choice that also runs other jobs (not sampled) is
    # certified for examples like these instead, with Clopper-Pearson's bound.
    population = total if work == total else None
    scope = f"on {task.name}'s {total} examples" if population else f"on examples like {task.name}'s"
    n = min(spec.fast_mode_calibration, total)
    timed = min(TIMING_EXAMPLES, n)
    floor = spec.fast_mode_min_agreement
    record: dict[str, Any] = {
        "requested": "auto",
        "calibration_task": task.name,
        "calibration_examples": n,
        "calibration_sample": f"{n} of the task's {total} examples, drawn uniformly without replacement (keyed by"
        " the data's fingerprint)",
        "examples_to_run": work,
        "timing_examples": timed,
        "repeats": REPEATS,
        "min_agreement": floor,
        "confidence": CONFIDENCE,
        "min_speedup": MIN_SPEEDUP,
        "not_measured": skipped,
        "candidates": [],
    }

    def exact(reason: str, done: Predictions | None = None, model: LoadedModel | None = None) -> FastModeChoice:
        return FastModeChoice(exact_spec, record | {"chosen": "exact", "reason": reason}, done, model)

    if task.answer_column is None:
        return exact(f"{task.kind} has no single answer per example to compare with exact's: exact runs")
    if not modes or n == 0:
        return exact("no fast mode to measure here: " + "; ".join(skipped))
    least = best_case_cost(total, n, timed, len(modes), MAX_SPEEDUP) + (work - total) / MAX_SPEEDUP
    if least >= work:
        runs = f"{task.name} has {total} examples" + (f" ({work} in all this model's jobs)" if work > total else "")
        return exact(
            f"{runs}: measuring {len(modes)} fast mode(s) on {n} calibration examples and then running them even"
            f" {MAX_SPEEDUP:g}x faster than exact would take at least {least / work:.0%} of exact's time (lower"
            " fast_mode_calibration, or use auto on longer runs)"
        )
    # Bonferroni over every mode measured, fixed before anything is: a mode may then be dropped on its first
    # answers without changing what the others must clear.
    a = (1.0 - CONFIDENCE) / len(modes)
    allowed = most_changes(n, floor, a, population)
    if allowed is None:
        needed = examples_to_certify(floor, a, population)
        return exact(
            f"{n} calibration examples cannot certify {floor:g}% identical answers {scope} at {CONFIDENCE:.0%}"
            f" confidence over {len(modes)} fast mode(s) ("
            + (f"that needs at least {needed}, none changed" if needed else "no number of examples can")
            + "), so none was measured"
        )
    sample = dataset.take(calibration_sample(dataset, n))
    specs = {"exact": exact_spec} | {name: exact_spec.model_copy(update=change) for name, change in modes.items()}
    loaded: dict[str, LoadedModel] = {}
    keep: str | None = None  # the mode whose model is handed to the job
    answers: dict[str, list[str]] = {}
    made: dict[str, list[Predictions]] = {name: [] for name in specs}  # each mode's predictions, in sample order
    seconds: dict[str, list[float]] = {name: [] for name in specs}

    def load(name: str) -> float:
        """Open one mode's model and warm it up (first-call allocations and kernels); the seconds it took."""
        started = time.perf_counter()
        model = open_model(specs[name], head)
        assert isinstance(model, LoadedModel)
        loaded[name] = model
        task.predict(model, sample.subset(0, min(8, n)))
        return time.perf_counter() - started

    try:
        # Exact first, on the first timing block: its answers are the job's if nothing is kept, and its load and
        # speed say what loading and timing the candidates would cost, before any of them loads.
        load_seconds = load("exact")
        got, took, predictions = _answers(task, loaded["exact"], sample.subset(0, timed))
        answers["exact"], seconds["exact"] = got, [took]
        made["exact"].append(predictions)
        per_example = max(took, 1e-9) / timed
        least = len(modes) * load_seconds / per_example - timed
        least += best_case_cost(total, n, timed, len(modes), MAX_SPEEDUP) + (work - total) / MAX_SPEEDUP
        if least >= work - timed:
            record["exact_ms_per_example"] = round(1000.0 * per_example, 3)
            record["calibration_seconds"] = round(time.perf_counter() - began, 1)
            record["reused_examples"] = timed
            keep = "exact"
            return exact(
                f"exact loaded in {load_seconds:.1f} s and predicted {1000 * per_example:.1f} ms per example: loading"
                f" {len(modes)} fast mode(s) and measuring them on {n} examples would take at least"
                f" {least / (work - timed):.0%} of the time exact needs for the other {work - timed}, even at"
                f" {MAX_SPEEDUP:g}x (use auto on longer runs)",
                join_predictions(made["exact"]),
                loaded["exact"],
            )
        for name in modes:
            load_seconds += load(name)
        phases = {"loading": load_seconds}
        names = list(specs)
        out: dict[str, str] = {}  # modes whose answers already changed too many: timed no more
        for round_ in range(REPEATS):
            # Each round times the next examples of the sample, so its answers are agreement evidence too; a
            # sample too small for that times its first examples again (their answers are not counted twice).
            fresh = (round_ + 1) * timed <= n
            block = sample.subset(round_ * timed, (round_ + 1) * timed) if fresh else sample.subset(0, timed)
            order = names[round_ % len(names) :] + names[: round_ % len(names)]
            for name in order:
                if round_ == 0 and name == "exact":
                    continue  # timed before the candidates loaded, first in this round's order
                got, took, predictions = _answers(task, loaded[name], block)
                if fresh or name not in answers:
                    answers[name] = answers.get(name, []) + got
                    made[name].append(predictions)
                seconds[name].append(took)
            for name in names[1:]:
                if (changed := _changes(answers, name)) > allowed:
                    out[name] = _cannot(changed, len(answers[name]), floor, allowed, n)
            if round_ < REPEATS - 1:
                survivors = [name for name in names[1:] if name not in out]
                ratios = {name: statistics.median(_ratios(seconds["exact"], seconds[name])) for name in survivors}
                for name in not_worth_timing(ratios, round_ + 1, timed, len(answers["exact"]), n, work):
                    out[name] = (
                        f"would not pay: timing it {REPEATS - round_ - 1} more round(s) beside the faster modes, then"
                        f" certifying and running all {work} examples, would take longer than exact"
                    )
            names = [name for name in names if name not in out]
            if len(names) == 1:
                break  # only exact is left
        phases["timing"] = time.perf_counter() - began - load_seconds
        per_example = statistics.median(seconds["exact"]) / timed
        record["exact_ms_per_example"] = round(1000.0 * per_example, 3)
        entries = {name: _speed(seconds["exact"], seconds[name]) for name in modes}
        for name, why in out.items():
            entries[name]["why_not"] = why
        fast = sorted((name for name in modes if not entries[name]["why_not"]), key=lambda m: -entries[m]["median"])
        chosen = None
        for name in fast:
            speedup, done_exact, done_mode = entries[name]["median"], len(answers["exact"]), len(answers[name])
            stay = (work - done_exact) * per_example
            go = (n - done_exact + (n - done_mode) / speedup + (work - n) / speedup) * per_example
            entries[name]["predicted"] = {"seconds_if_kept": round(go, 1), "seconds_in_exact": round(stay, 1)}
            if go >= stay:
                entries[name]["why_not"] = (
                    f"would not pay: certifying it on {n} examples and running all {work} in it would take about"
                    f" {go:.0f} s from here, running the rest in exact about {stay:.0f} s"
                )
                continue
            changed, seen = _certify(task, loaded, name, sample, answers, made, allowed)
            if changed > allowed:
                entries[name]["why_not"] = _cannot(changed, seen, floor, allowed, n)
            else:
                chosen = name
                break
        keep = chosen or "exact"
    finally:  # every model but the one the job runs on (all of them if measuring failed)
        for name, model in loaded.items():
            if name != keep:
                model.close()
    for name in modes:
        entry = entries[name]
        seen = len(answers[name])  # the timing slice, and more for the candidates tried
        same = sum(x == y for x, y in zip(answers[name], answers["exact"][:seen], strict=True))
        record["candidates"].append(
            {
                "mode": name,
                "speedup_median": round(entry["median"], 3),
                "speedup_range": entry["range"],
                "rounds": entry["rounds"],
                "kept": name == chosen,
                "why_not": None if name == chosen else (entry["why_not"] or "not tried: a faster mode was kept"),
                "identical_answers": same,
                "agreement_examples": seen,
                "agreement": round(100.0 * same / seen, 2),
                "agreement_lower_bound": round(agreement_lower_bound(same, seen, a, population), 2),
            }
            | ({"predicted": entry["predicted"]} if "predicted" in entry else {})
        )
    runs = chosen or "exact"
    done = join_predictions(made[runs]) if made[runs] else None
    record["calibration_seconds"] = round(time.perf_counter() - began, 1)
    phases["certifying"] = record["calibration_seconds"] - phases["loading"] - phases["timing"]
    record["phase_seconds"] = {phase: round(value, 1) for phase, value in phases.items()}
    record["reused_examples"] = len(done.frame) if done is not None else 0
    if chosen is None:
        return exact(
            f"no fast mode was both faster than exact and certified to keep {floor:g}% of its answers on the"
            " calibration",
            done,
            loaded["exact"],
        )
    kept = next(c for c in record["candidates"] if c["mode"] == chosen)
    record |= {
        "chosen": chosen,
        "reason": f"fastest mode certified to keep {floor:g}% identical answers {scope}"
        f" ({kept['identical_answers']} of {kept['agreement_examples']} sampled identical, lower bound"
        f" {kept['agreement_lower_bound']:g}% at {CONFIDENCE:.0%}): {kept['speedup_median']:.2f}x exact (median of"
        f" {REPEATS} rounds on {timed} examples)",
    }
    return FastModeChoice(specs[chosen], record, done, loaded[chosen])


def _changes(answers: dict[str, list[str]], name: str) -> int:
    seen = len(answers[name])
    return sum(a != b for a, b in zip(answers[name], answers["exact"][:seen], strict=True))


def _cannot(changed: int, seen: int, floor: float, allowed: int, n: int) -> str:
    return (
        f"changed {changed} of {seen} answers: {floor:g}% identical cannot be certified at {CONFIDENCE:.0%}"
        f" confidence (at most {allowed} of {n} may change)"
    )


def _ratios(exact: list[float], mode: list[float]) -> list[float]:
    """A candidate's speed-ups over exact in the rounds it ran (the first ones), each on the same examples."""
    return [e / max(s, 1e-9) for e, s in zip(exact, mode, strict=False)]


def _speed(exact: list[float], mode: list[float]) -> dict[str, Any]:
    """A candidate's speed-ups over exact, round by round, and why it is not fast enough (None if it is)."""
    ratios = _ratios(exact, mode)
    median = statistics.median(ratios)
    problems = []
    if median < MIN_SPEEDUP:
        problems.append(f"median speed-up {median:.2f}x (< {MIN_SPEEDUP:g}x)")
    if min(ratios) < 1.0:
        problems.append(f"slower than exact in a round ({min(ratios):.2f}x)")
    return {
        "median": median,
        "range": [round(min(ratios), 3), round(max(ratios), 3)],
        "rounds": len(ratios),
        "why_not": "; ".join(problems),
    }


def _certify(
    task: Task[Any],
    loaded: dict[str, LoadedModel],
    name: str,
    sample: Dataset,
    answers: dict[str, list[str]],
    made: dict[str, list[Predictions]],
    allowed: int,
) -> tuple[int, int]:
    """(answers changed, examples compared) for mode ``name`` against exact on the whole ``sample``, in steps of
    ``AGREEMENT_STEP``, stopping once more than ``allowed`` changed (the test's outcome is then settled). Exact's
    answers are computed once and kept in ``answers``; every prediction made is kept in ``made``."""
    while len(answers[name]) < len(sample) and _changes(answers, name) <= allowed:
        start = len(answers[name])
        end = min(start + AGREEMENT_STEP, len(sample))
        step = sample.subset(start, end)
        if len(answers["exact"]) < end:
            got, _, predictions = _answers(task, loaded["exact"], step)
            answers["exact"] += got
            made["exact"].append(predictions)
        got, _, predictions = _answers(task, loaded[name], step)
        answers[name] += got
        made[name].append(predictions)
    return _changes(answers, name), len(answers[name])
