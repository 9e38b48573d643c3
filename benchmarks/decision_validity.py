"""Do auditkit's verdicts keep their promise? A simulation grid with the truth exactly on every gate's bound.

The report's top line says "the chance of any wrong verdict is at most alpha". This script checks it where
release gates live, calling the public :mod:`auditkit.stats` API (the functions the gates call) on data
whose truth is known, and compares with the tests auditkit used before (Wilson's score test, the
percentile and paired bootstrap, the fixed-n test read after every chunk):

* proportions at bounds 0.5, 0.9, 0.99, 0.999;
* F1-like scores (mass at 0 and 1, some partial credit) with means 0.08, 0.5, 0.85, 0.99;
* paired differences: 85% ties, rare one-sided losses (1% on a margin of -1 point), symmetric F1 changes;
* SQuAD-like clustered data: questions in articles whose F1 spreads like minilm-squad's on its held-out
  articles (``--squad-run RUN`` measures it from a run; the default is the figure measured below);
* n in {10, 50, 200, 800, 5000}; fixed n, and --until-decided watched after every example and every 64.

A wrong verdict is NO_GO for ``>= truth`` (the gate holds) or GO for ``> truth`` (it fails); the table shows
the larger of the two rates, which must be at most alpha + 3 Monte-Carlo standard errors everywhere. Power is
the chance of the right NO_GO when the truth lies ``2.5 sd / sqrt(n)`` below the bound (for clusters, that
many cluster standard errors): what validity costs.

    python benchmarks/decision_validity.py --reps 1000 --out benchmarks/decision_validity.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np

from auditkit import stats
from auditkit.stats.betting import BettingTest
from auditkit.stats.decision import SCREENING_SHARE, SCREENING_TRUNCATION

ALPHA = 0.05
#: Between-article standard deviation of per-article F1 (fraction) of minilm-squad on its 24 held-out
#: articles (SQuAD v1.1, 800 sampled questions of the offline demo): measured with --squad-run on the demo's
#: run, see the README.
SQUAD_ARTICLE_SD = 0.095
NS = (10, 50, 200, 800, 5000)
_Z = NormalDist()

Draw = Callable[[np.random.Generator, float, int], tuple[np.ndarray, np.ndarray | None, np.ndarray | None]]
"""(rng, truth, n) -> (candidate scores, baseline scores or None, cluster labels or None)."""


@dataclass(frozen=True)
class Scenario:
    name: str
    bound: float
    draw: Draw
    low: float = 0.0
    high: float = 1.0
    binary: bool | None = None


def _proportion(rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, None, None]:
    return rng.binomial(1, min(max(truth, 0.0), 1.0), n).astype(float), None, None


def _f1_like(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """Mass at 0 and 1 plus partial credit (Beta(2, 2), mean 0.5) on a share that fits the mean."""
    mean = min(max(mean, 0.0), 1.0)
    share = min(0.15, 2 * min(mean, 1 - mean))
    q = min(max((mean - share * 0.5) / (1 - share), 0.0), 1.0)
    x = (rng.random(n) < q).astype(float)
    part = rng.random(n) < share
    x[part] = rng.beta(2, 2, int(part.sum()))
    return x


def _f1(rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, None, None]:
    return _f1_like(rng, truth, n), None, None


def _ties(rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, np.ndarray, None]:
    """Binary paired outcomes: 85% ties, wins minus losses = truth."""
    u = rng.random(n)
    win, lose = 0.075 + truth / 2, 0.075 - truth / 2
    base = rng.binomial(1, 0.6, n).astype(float)
    cand = base.copy()
    cand[u < win], base[u < win] = 1.0, 0.0
    cand[(u >= win) & (u < win + lose)], base[(u >= win) & (u < win + lose)] = 0.0, 1.0
    return cand, base, None


def _rare_losses(rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, np.ndarray, None]:
    """The candidate only ever loses, on -truth of the examples (truth <= 0)."""
    base = np.ones(n)
    return 1.0 - (rng.random(n) < -truth), base, None


def _symmetric(rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, np.ndarray, None]:
    base = _f1_like(rng, 0.5, n)
    change = np.where(rng.random(n) < 0.3, rng.uniform(-0.5, 0.5, n), 0.0) + truth
    return np.clip(base + change, 0.0, 1.0), base, None


@dataclass(frozen=True)
class _Clustered:
    """Questions in articles (25 per article on average): article means from a Beta with the truth as its mean
    and the measured spread (no clipping, so the truth is exact), F1-like scores within."""

    sd: float

    def __call__(self, rng: np.random.Generator, truth: float, n: int) -> tuple[np.ndarray, None, np.ndarray]:
        articles = max(3, n // 25)
        truth = min(max(truth, 0.01), 0.99)
        var = min(self.sd**2, truth * (1 - truth) * 0.9)
        k = truth * (1 - truth) / var - 1
        means = rng.beta(truth * k, (1 - truth) * k, articles)
        labels = rng.integers(0, articles, n)
        labels[: min(articles, n)] = np.arange(min(articles, n))
        scores = np.concatenate([_f1_like(rng, means[a], int(np.sum(labels == a))) for a in range(articles)])
        ordered = np.concatenate([np.full(int(np.sum(labels == a)), a) for a in range(articles)])
        return scores, None, ordered


def scenarios(article_sd: float) -> list[Scenario]:
    out = [Scenario(f"proportion at {b}", b, _proportion, binary=True) for b in (0.5, 0.9, 0.99, 0.999)]
    out += [Scenario(f"F1-like, mean {m}", m, _f1, binary=False) for m in (0.08, 0.5, 0.85, 0.99)]
    out += [
        Scenario("paired 0/1, 85% ties, margin 0", 0.0, _ties, binary=True),
        Scenario("paired, rare one-sided losses, margin -1 pt", -0.01, _rare_losses, binary=True),
        Scenario("paired F1, symmetric changes, margin 0", 0.0, _symmetric, binary=False),
        Scenario(f"clustered F1 (article sd {article_sd:.3f}), 25 per article", 0.5, _Clustered(article_sd)),
    ]
    return out


def _decide(s: Scenario, x: np.ndarray, base: np.ndarray | None, labels: np.ndarray | None) -> stats.Decision:
    if base is None:
        return stats.decide_threshold(x, ">=", s.bound, clusters=labels, binary=s.binary)
    return stats.decide_paired(x, base, ">=", s.bound, binary=s.binary)


def _sequential_wrong(
    s: Scenario, x: np.ndarray, base: np.ndarray | None, labels: np.ndarray | None, every: int
) -> tuple[bool, bool]:
    """Whether an --until-decided run looked at every ``every`` examples ever says NO_GO (gate ``>=``) or GO
    (gate ``>``) with the truth on the bound: the anytime test's capital at the looks (both directions)."""
    a = ALPHA / 2
    if base is not None:
        y, m = (x - base + 1) / 2, (s.bound + 1) / 2
    else:
        y, m = x, s.bound
    if labels is None:
        test = BettingTest(y, a, anytime=True, horizon=len(y))
        looks = np.r_[np.arange(every, len(y) + 1, every), len(y)] - 1
        up, down = test.log_capital(m, above=True)[looks], test.log_capital(m, above=False)[looks]
        limit = math.log(1 / a)
        return bool(np.any(down >= limit)), bool(np.any(up >= limit))
    # Clustered: screening (one example per article, looks every max(4, every/8)) then whole articles.
    firsts = [int(np.flatnonzero(labels == g)[0]) for g in np.unique(labels)]
    screen = y[firsts]
    means = np.array([y[labels == g].mean() for g in np.unique(labels)])
    w = SCREENING_SHARE
    s_test = BettingTest(screen, a * w, anytime=True, truncation=SCREENING_TRUNCATION)
    c_test = BettingTest(means, a * (1 - w), anytime=True, horizon=len(means))
    nogo = bool(np.any(s_test.log_capital(m, above=False) >= math.log(1 / (a * w)))) or bool(
        np.any(c_test.log_capital(m, above=False) >= math.log(1 / (a * (1 - w))))
    )
    go = bool(np.any(s_test.log_capital(m, above=True) >= math.log(1 / (a * w)))) or bool(
        np.any(c_test.log_capital(m, above=True) >= math.log(1 / (a * (1 - w))))
    )
    return nogo, go  # every look between articles is a superset of any schedule: conservative


def _old_fixed(s: Scenario, x: np.ndarray, base: np.ndarray | None, rng: np.random.Generator) -> tuple[bool, bool]:
    """auditkit 0.2's tests: Wilson's score test for 0/1 scores, else the (paired) percentile bootstrap,
    one-sided at alpha each way, examples independent. Returns (NO_GO, GO) at the bound."""
    d = x if base is None else x - base
    n = len(d)
    if s.binary and base is None:
        p, b = d.mean(), s.bound
        if 0 < b < 1:
            zs = (p - b) / math.sqrt(b * (1 - b) / n)
            return _Z.cdf(zs) <= ALPHA, 1 - _Z.cdf(zs) <= ALPHA
        return p < b, p > b
    boot = rng.choice(d, size=(1000, n)).mean(axis=1)
    below = (np.sum(boot >= s.bound) + 1) / 1001
    above = (np.sum(boot <= s.bound) + 1) / 1001
    return below <= ALPHA, above <= ALPHA


def cell(args: tuple[Scenario, int, int, int]) -> dict[str, object]:
    s, n, reps, seed = args
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    # Wrong verdicts per direction: NO_GO for ">= truth" (the gate holds), GO for "> truth" (it fails).
    wrong = {k: [0, 0] for k in ("fixed", "seq1", "seq64", "old")}
    counts = {"power": 0, "old_power": 0}
    sd = None
    for _ in range(reps):
        x, base, labels = s.draw(rng, s.bound, n)
        d = _decide(s, x, base, labels)
        outcomes = {
            "fixed": (d.p_nogo <= ALPHA / 2, d.p_go <= ALPHA / 2),
            "seq1": _sequential_wrong(s, x, base, labels, 1),
            "seq64": _sequential_wrong(s, x, base, labels, 64),
        }
        outcomes["old"] = _old_fixed(s, x, base, rng)  # 0.2 treated every example as independent
        for key, (nogo, go) in outcomes.items():
            wrong[key][0] += nogo
            wrong[key][1] += go
        if sd is None:
            diffs = x if base is None else x - base
            if labels is not None:  # the standard error of a clustered mean comes from the cluster means
                diffs = np.array([diffs[labels == g].mean() for g in np.unique(labels)])
            sd = float(np.std(diffs, ddof=1)) if len(diffs) > 1 else 0.5
    # Power: the truth 2.5 standard errors below the bound (a clear NO_GO for an asymptotic test).
    clustered = isinstance(s.draw, _Clustered)
    se = max(sd or 0.0, 0.05) / math.sqrt(max(3, n // 25) if clustered else n)
    shift = min(2.5 * se, s.bound - s.low if s.bound > s.low else 2.5 * se)
    truth = s.bound - shift
    for _ in range(reps):
        x, base, labels = s.draw(rng, truth, n)
        counts["power"] += _decide(s, x, base, labels).verdict == "NO_GO"
        counts["old_power"] += _old_fixed(s, x, base, rng)[0]
    rates = {k: v / reps for k, v in counts.items()}
    rates.update({k: max(v) / reps for k, v in wrong.items()})
    return {
        "scenario": s.name,
        "n": n,
        "reps": reps,
        "limit": ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / reps),
        "wrong_fixed": rates["fixed"],
        "wrong_fixed_by_direction": [v / reps for v in wrong["fixed"]],
        "wrong_sequential_every_example": rates["seq1"],
        "wrong_sequential_every_64": rates["seq64"],
        "wrong_old_fixed": rates["old"],
        "power_distance": shift,
        "power": rates["power"],
        "power_old": rates["old_power"],
        "seconds": time.perf_counter() - started,
    }


def article_sd_from(run_dir: Path) -> float:
    """The between-article SD of per-article F1 (fraction) of a run's SQuAD v1.1 job."""
    results = json.loads((run_dir / "results.json").read_text())
    job = next(j for j in results["jobs"] if "by_article" in j["details"] and j["metrics"].get("f1"))
    f1 = np.array([a["f1"] for a in job["details"]["by_article"].values()]) / 100.0
    return float(np.std(f1, ddof=1))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=1000)
    parser.add_argument("--ns", type=int, nargs="*", default=list(NS))
    parser.add_argument("--squad-run", type=Path, help="a run of minilm-squad on its held-out articles")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("decision_validity.json"))
    args = parser.parse_args(argv)
    article_sd = article_sd_from(args.squad_run) if args.squad_run else SQUAD_ARTICLE_SD
    jobs = [
        (s, n, args.reps if n <= 800 else max(200, args.reps // 3), 1000 * i + n)
        for i, s in enumerate(scenarios(article_sd))
        for n in args.ns
    ]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = []
        for row in pool.map(cell, jobs):
            rows.append(row)
            print(f"{row['scenario']}, n={row['n']}: {row['seconds']:.0f} s", file=sys.stderr, flush=True)
    worst = max(max(r["wrong_fixed"], r["wrong_sequential_every_example"]) - r["limit"] for r in rows)  # type: ignore[operator]
    args.out.write_text(json.dumps({"alpha": ALPHA, "article_sd": article_sd, "rows": rows}, indent=1) + "\n")
    print(markdown(rows))
    print(f"\nworst margin to the limit: {worst:+.4f} ({'valid everywhere' if worst <= 0 else 'NOT VALID'})")
    return 0 if worst <= 0 else 1


def markdown(rows: list[dict[str, object]]) -> str:
    def pct(x: object) -> str:
        return "–" if x is None else f"{100 * float(x):.1f}"  # type: ignore[arg-type]

    lines = [
        "| scenario | n | wrong: fixed n | wrong: sequential, every example / every 64 | wrong: auditkit 0.2 |"
        " limit | power (0.2) |",
        "|---|--:|--:|--:|--:|--:|--:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['scenario']} | {r['n']} | {pct(r['wrong_fixed'])} | {pct(r['wrong_sequential_every_example'])} /"
            f" {pct(r['wrong_sequential_every_64'])} | {pct(r['wrong_old_fixed'])} | {pct(r['limit'])} |"
            f" {pct(r['power'])} ({pct(r['power_old'])}) |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
