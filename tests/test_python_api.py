"""The Python API on objects: dict suites, DataFrames, datasets.Dataset, lists of dicts, loaded models and
pipelines, CSV/Parquet read directly; and the typed outcome's to_pandas / report / gate / card."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from conftest import DATA, MODELS, TINY_QA, TINY_SST2, data_owner, requires_data, requires_models
from hypothesis import given, settings
from hypothesis import strategies as st

import auditkit
from auditkit.core.errors import DatasetError, SuiteError
from auditkit.results.store import report_dir


def _sst2(n: int) -> pd.DataFrame:
    frame = pd.read_csv(DATA / "sst2" / "dev.tsv", sep="\t", quoting=3).head(n)
    return frame.rename(columns={"sentence": "text"})


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> auditkit.running.runner.RunOutcome:  # type: ignore[name-defined]
    """One in-memory suite: a DataFrame and a loaded model object, a list of dicts and a pipeline."""
    import datasets
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline

    if not (MODELS / "minilm-sst2" / "config.json").is_file() or not (DATA / "sst2" / "dev.tsv").is_file():
        pytest.skip("needs ../shared/models/minilm-sst2 and ../shared/data/sst2/dev.tsv")
    out = tmp_path_factory.mktemp("api")
    model = AutoModelForSequenceClassification.from_pretrained(MODELS / "minilm-sst2")
    tokenizer = AutoTokenizer.from_pretrained(MODELS / "minilm-sst2")
    classifier = pipeline("text-classification", model=model, tokenizer=tokenizer, device="cpu")
    frame = _sst2(48)
    suite = {
        "name": "notebook",
        "output_dir": str(out),
        "bootstrap": {"resamples": 200},
        "models": [
            {"name": "object", "id": model, "tokenizer": tokenizer},
            {"name": "pipe", "model": classifier},
            {"name": "dir", "id": str(MODELS / "minilm-sst2")},
        ],
        "tasks": [
            {"name": "frame", "kind": "classification", "dataset": frame, "models": ["object", "dir"]},
            {"name": "dicts", "kind": "classification", "dataset": frame.to_dict("records"), "models": ["pipe"]},
            {
                "name": "hfds",
                "kind": "classification",
                "dataset": datasets.Dataset.from_pandas(frame),
                "models": ["pipe"],
            },
            {
                "name": "sst2",
                "kind": "classification",
                "dataset": {"path": DATA / "sst2" / "dev.tsv", "limit": 48},
                "models": ["dir"],
            },
        ],
        "gates": ["frame.accuracy >= 50"],
    }
    return auditkit.run_suite(suite, quiet=True)


@requires_data
@requires_models
def test_objects_run_like_files(outcome) -> None:  # type: ignore[no-untyped-def]
    jobs = {(j.model, j.task): j for j in outcome.results.jobs}
    # A model object and the same checkpoint's directory give identical per-example answers and metrics.
    assert jobs[("object", "frame")].metrics["accuracy"].value == jobs[("dir", "frame")].metrics["accuracy"].value
    assert jobs[("object", "frame")].model_fingerprint == jobs[("dir", "frame")].model_fingerprint
    assert jobs[("pipe", "dicts")].metrics["accuracy"].value == jobs[("dir", "frame")].metrics["accuracy"].value
    results = outcome.results
    assert results.datasets["frame"].source == "in-memory pandas.DataFrame, 48 rows"
    assert results.datasets["dicts"].source == "in-memory list of 48 dicts"
    assert results.datasets["hfds"].source == "in-memory datasets.Dataset, 48 rows"
    assert jobs[("pipe", "hfds")].dataset_fingerprint == jobs[("pipe", "dicts")].dataset_fingerprint
    assert results.models["object"].source == "in-memory BertForSequenceClassification"
    assert results.models["pipe"].source.startswith("in-memory pipeline('text-classification')")
    assert results.suite.path == "<in-memory suite>"
    assert "auditkit-objects-" not in (outcome.run_dir / "results.json").read_text()  # no temporary path leaks
    assert outcome.gates is not None and outcome.gates.verdict == "GO"


@requires_data
@requires_models
def test_outcome_frames_report_gate_and_card(outcome, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    metrics = outcome.to_pandas()
    assert {"model", "task", "metric", "value", "low", "high", "n"} <= set(metrics.columns)
    row = metrics[(metrics.model == "dir") & (metrics.metric == "accuracy")].iloc[0]
    assert row.n == 48 and row.low <= row.value <= row.high
    examples = outcome.to_pandas(per_example=True)
    assert list(examples.columns[:2]) == ["model", "task"] and len(examples) == 5 * 48
    files = outcome.report(out_dir=tmp_path / "report", formats=["md"])
    assert [f.name for f in files] == ["report.md"] and "Release decision" in files[0].read_text()
    decision = outcome.gate(
        gates=[auditkit.spec.schema.GateSpec(check="frame.accuracy >= 101")], out_dir=tmp_path / "g"
    )
    assert decision.verdict == "NO_GO" and json.loads((tmp_path / "g" / "gates.json").read_text())["exit_code"] == 1
    card = outcome.card("dir")
    assert card.startswith("---\n") and "model-index" in card


@requires_data
def test_wrong_types_and_bad_keys_are_one_clear_error(tmp_path: Path) -> None:
    base = {"name": "bad", "output_dir": str(tmp_path), "models": [{"name": "m", "id": "x/y"}]}
    with pytest.raises(SuiteError, match=r"tasks\[0\]\.dataset: expected a mapping .* DataFrame, .* got int"):
        auditkit.run_suite({**base, "tasks": [{"name": "t", "kind": "classification", "dataset": 42}]})
    with pytest.raises(SuiteError, match=r"models\[0\]\.id: expected a hub id or directory, .* got object"):
        auditkit.run_suite({**base, "models": [{"name": "m", "id": object()}], "tasks": []})
    with pytest.raises(SuiteError, match="a suite is a path to a YAML file, a dict or an auditkit Suite, not int"):
        auditkit.run_suite(3)  # type: ignore[arg-type]
    with pytest.raises(SuiteError, match=r"unknown key 'batch_sise' -- did you mean 'batch_size'"):
        auditkit.run_suite(
            {
                **base,
                "models": [{"name": "m", "id": "x/y", "batch_sise": 3}],
                "tasks": [{"name": "t", "kind": "classification", "dataset": _sst2(4)}],
            }
        )


@requires_data
def test_csv_and_parquet_load_without_the_datasets_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Local tables are read directly: nothing of the user's rows is copied into the datasets cache."""
    import datasets

    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    def no_cache(*args: object, **kwargs: object) -> None:
        raise AssertionError("a local table went through datasets.load_dataset (and its cache)")

    monkeypatch.setattr(datasets, "load_dataset", no_cache)
    frame = _sst2(20)
    frame.to_csv(tmp_path / "sst2.csv", index=False)
    frame.to_parquet(tmp_path / "sst2.parquet", index=False)
    tsv = load_dataset(DatasetSpec(path=DATA / "sst2" / "dev.tsv", limit=20), data_owner("classification"), name="t")
    for path in (tmp_path / "sst2.csv", tmp_path / "sst2.parquet"):
        ds = load_dataset(DatasetSpec(path=path), data_owner("classification"), name="t")
        assert [(e.text, e.label) for e in ds.examples] == [(e.text, e.label) for e in tsv.examples]
    qa = pd.DataFrame(
        [
            {
                "id": "q1",
                "question": "Who?",
                "context": "Alice ran.",
                "answers": {"text": ["Alice"], "answer_start": [0]},
            },
            {"id": "q2", "question": "Why?", "context": "Bob sat.", "answers": {"text": [], "answer_start": []}},
        ]
    )
    qa.to_parquet(tmp_path / "qa.parquet", index=False)
    ds = load_dataset(DatasetSpec(path=tmp_path / "qa.parquet"), data_owner("qa"), name="qa")
    assert ds.info["squad_version"] == "2.0" and [e.id for e in ds.examples] == ["q1", "q2"]
    (tmp_path / "broken.parquet").write_bytes(b"not parquet")
    with pytest.raises(DatasetError, match="could not read the Parquet file") as info:
        load_dataset(DatasetSpec(path=tmp_path / "broken.parquet"), data_owner("classification"), name="t")
    assert "broken.parquet" in str(info.value)


def test_hub_ids_offline_say_how_to_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    with pytest.raises(DatasetError, match=r"offline mode .* reads only datasets already in the local cache"):
        load_dataset(DatasetSpec(hub="nobody/not-cached-anywhere"), data_owner("classification"), name="t")


@requires_data
@requires_models
def test_hub_eval_results_and_model_index_round_trip(outcome, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """.eval_results entries written with huggingface_hub's own writer parse back with its parser; the card's
    model-index survives ModelCard / metadata_load. A subset of a benchmark is named, never exported."""
    import yaml
    from huggingface_hub import ModelCard, metadata_load, parse_eval_result_entries

    from auditkit.cli import command

    runner_args = ["card", str(outcome.run_dir), "--model", "dir", "--out", str(tmp_path / "README.md")]
    with pytest.raises(SystemExit) as done:
        command()([*runner_args, "--eval-results", str(tmp_path)], prog_name="auditkit")
    assert done.value.code == 0
    assert not (tmp_path / ".eval_results").exists()  # 48 of SST-2's 872: not a leaderboard score
    card = ModelCard.load(tmp_path / "README.md")
    index = card.data.to_dict()["model-index"][0]["results"]
    [sst2] = [r["dataset"] for r in index if r["dataset"]["name"] == "SST-2"]
    assert sst2["type"] == "nyu-mll/glue" and "48 of 872" in sst2["split"]
    assert metadata_load(tmp_path / "README.md")["model-index"] == card.data.to_dict()["model-index"]

    # The whole dev set, under another file name and run from another folder, is the benchmark: exported.
    copy = tmp_path / "elsewhere" / "my-reviews.tsv"
    copy.parent.mkdir()
    copy.write_bytes((DATA / "sst2" / "dev.tsv").read_bytes())
    whole = auditkit.run_suite(
        {
            "name": "whole",
            "output_dir": str(tmp_path / "runs"),
            "bootstrap": {"resamples": 50},
            "models": [
                {
                    "name": "m",
                    "build": {"config": str(TINY_SST2), "vocab": str(DATA / "vocab" / "bert-base-uncased-vocab.txt")},
                }
            ],
            "tasks": [{"name": "sst2", "kind": "classification", "dataset": {"path": str(copy)}}],
        },
        quiet=True,
        report_formats=[],
    )
    from auditkit.reports.eval_results import eval_results_texts

    texts, skipped = eval_results_texts(auditkit.load_run(whole.run_dir), "m")
    assert not skipped and list(texts) == ["sst2"]
    [entry] = [e for e in parse_eval_result_entries(yaml.safe_load(texts["sst2"])) if e.task_id == "sst2-accuracy"]
    accuracy = whole.results.jobs[0].metrics["accuracy"]
    assert entry.dataset_id == "nyu-mll/glue" and entry.value == pytest.approx(round(accuracy.value, 4))
    assert "all 872 examples" in (entry.notes or "") and "95% CI" in (entry.notes or "")


@requires_data
def test_made_up_data_is_never_typed_as_a_hub_benchmark(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve questions in a file called squad.json, and a TSV under an "sst2" folder, are their own data:
    no .eval_results entry, a model-index type of their own, the same answer from any working directory."""
    from auditkit.reports.eval_results import eval_results_texts

    questions = [
        {"id": f"q{i}", "question": f"Who is number {i}?", "answers": [{"text": "Bob", "answer_start": 0}]}
        for i in range(12)
    ]
    (tmp_path / "squad.json").write_text(
        json.dumps(
            {"version": "1.1", "data": [{"title": "T", "paragraphs": [{"context": "Bob ran.", "qas": questions}]}]}
        )
    )
    (tmp_path / "sst2").mkdir()
    (tmp_path / "sst2" / "dev.tsv").write_text("sentence\tlabel\ngood film\t1\nbad film\t0\n")

    def built(config: Path, vocab: str) -> dict[str, object]:
        return {"config": str(config), "vocab": str(DATA / "vocab" / vocab)}

    outcome = auditkit.run_suite(
        {
            "name": "madeup",
            "output_dir": str(tmp_path / "runs"),
            "bootstrap": {"resamples": 20},
            "models": [
                {"name": "m", "build": built(TINY_QA, "bert-base-cased-vocab.txt")},
                {"name": "c", "build": built(TINY_SST2, "bert-base-uncased-vocab.txt")},
            ],
            "tasks": [
                {
                    "name": "qa",
                    "kind": "extractive_qa",
                    "models": ["m"],
                    "dataset": {"path": str(tmp_path / "squad.json")},
                },
                {
                    "name": "sst",
                    "kind": "classification",
                    "models": ["c"],
                    "dataset": {"path": str(tmp_path / "sst2" / "dev.tsv")},
                },
            ],
        },
        quiet=True,
        report_formats=[],
    )
    run = auditkit.load_run(outcome.run_dir)
    seen = []
    for cwd in (tmp_path, DATA / "squad", Path("/")):
        monkeypatch.chdir(cwd)
        found = [eval_results_texts(run, model) for model in ("m", "c")]
        seen.append(found)
        for (texts, skipped), task in zip(found, ("qa", "sst"), strict=True):
            assert not texts and skipped[task].startswith("not a Hub benchmark"), skipped
    assert all(found == seen[0] for found in seen)
    from huggingface_hub import ModelCard

    for model, own in (("m", "squad"), ("c", "dev")):
        [result] = ModelCard(outcome.card(model)).data.to_dict()["model-index"][0]["results"]
        assert result["dataset"] == {"name": own, "type": own, "config": "default", "split": "custom"}


FIXTURE_METRIC = Path(__file__).parent / "fixtures" / "evaluate_metrics" / "balanced_accuracy"


@requires_data
@requires_models
def test_evaluate_plugin_metrics_in_results_report_and_gates(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A local metric folder and an installed module's class, computed over the per-example predictions."""
    (tmp_path / "my_metrics.py").write_text(
        "import evaluate, datasets\n"
        "class Agreement(evaluate.Metric):\n"
        "    def _info(self):\n"
        "        return evaluate.MetricInfo(description='', citation='', inputs_description='',\n"
        "            features=datasets.Features({'predictions': datasets.Value('int64'),"
        " 'references': datasets.Value('int64')}))\n"
        "    def _compute(self, predictions, references):\n"
        "        return {'agreement': sum(p == r for p, r in zip(predictions, references)) / len(references)}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    frame = _sst2(40)
    outcome = auditkit.run_suite(
        {
            "name": "plugins",
            "output_dir": str(tmp_path / "runs"),
            "bootstrap": {"resamples": 100},
            "models": [{"name": "sst2", "id": str(MODELS / "minilm-sst2")}],
            "tasks": [
                {
                    "name": "sst2",
                    "kind": "classification",
                    "dataset": frame,
                    "evaluate": [{"module": str(FIXTURE_METRIC)}, {"module": "my_metrics:Agreement", "name": "agree"}],
                }
            ],
            "gates": ["sst2.balanced_accuracy >= 0.5", "sst2.agree <= 1"],
        },
        quiet=True,
        allow_suite_code=True,
    )
    metrics = outcome.results.jobs[0].metrics
    per_example = outcome.to_pandas(per_example=True)
    gold, pred = per_example["gold_index"], per_example["predicted_index"]
    recalls = [float((pred[gold == c] == c).mean()) for c in sorted(set(gold))]
    assert metrics["balanced_accuracy"].value == pytest.approx(sum(recalls) / len(recalls))
    assert metrics["balanced_accuracy_support"].value == 40 and metrics["agree"].interval == "none"
    assert metrics["agree"].value == pytest.approx(metrics["accuracy"].value / 100)  # our accuracy, as evaluate sees it
    assert [r.verdict for r in outcome.gates.results] == ["GO", "GO"]
    assert outcome.gates.results[0].test == "exact value"
    report = (report_dir(outcome.run_dir) / "report.md").read_text()
    row = next(line for line in report.splitlines() if line.startswith("| sst2 | sst2 | balanced\\_accuracy |"))
    assert row.endswith("| none (a plug-in metric, computed once) | 40 |")
    assert "balanced\\_accuracy comes from the evaluate module balanced\\_accuracy" in report
    with pytest.raises(SuiteError, match="cannot load evaluate metric 'no_such_module:Nope'"):
        auditkit.run_suite(
            {
                "name": "plugins",
                "output_dir": str(tmp_path / "runs"),
                "models": [{"name": "sst2", "id": str(MODELS / "minilm-sst2")}],
                "tasks": [
                    {
                        "name": "t",
                        "kind": "classification",
                        "dataset": frame,
                        "evaluate": [{"module": "no_such_module:Nope"}],
                    }
                ],
            },
            quiet=True,
            allow_suite_code=True,
        )


# ---------------------------------------------------------------- objects that are not what they should be

cells = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=8),
    st.lists(st.integers(0, 2), max_size=2),
)


@settings(max_examples=80, deadline=None)
@given(
    columns=st.lists(st.sampled_from(["text", "label", "sentence", "id", "premise", "hypothesis", "x"]), max_size=4),
    rows=st.lists(st.lists(cells, min_size=4, max_size=4), max_size=5),
    index=st.one_of(st.none(), st.lists(st.integers(-5, 99), min_size=5, max_size=5)),
    form=st.sampled_from(["frame", "path", "records"]),
)
def test_any_table_object_is_loaded_or_refused_naming_the_object(
    columns: list[str], rows: list[list[object]], index: list[int] | None, form: str
) -> None:
    """Mixed types, duplicate columns, NaN labels, odd indexes: a run either loads the table or raises one
    AuditkitError naming the object (``tasks[0].dataset``), never a temporary file; nothing stays held."""
    from auditkit.core.errors import AuditkitError
    from auditkit.data import _HELD
    from auditkit.running.inmemory import materialize
    from auditkit.running.preflight import load_datasets

    frame = pd.DataFrame([row[: len(columns)] for row in rows], columns=columns or None)
    if index is not None and len(frame):
        frame.index = index[: len(frame)]
    table: object = {"path": frame, "limit": 3} if form == "path" else frame
    if form == "records":
        table = [dict(zip(columns, row, strict=False)) for row in rows]  # a later duplicate key wins, as in dicts
    suite = {
        "name": "objects",
        "models": [{"name": "m", "id": "org/model"}],
        "tasks": [{"name": "t", "kind": "classification", "dataset": table}],
    }
    materialized = None
    try:
        materialized = materialize(suite)
        dataset = load_datasets(materialized.loaded)["t"]
        assert len(dataset) > 0 and dataset.fingerprint
    except AuditkitError as exc:
        assert "tasks[0].dataset" in str(exc) and "auditkit-objects" not in str(exc), str(exc)
    finally:
        if materialized is not None:
            materialized.cleanup()
    assert not _HELD


def test_a_model_object_that_cannot_be_saved_is_one_error_and_leaves_nothing(tmp_path: Path) -> None:
    """The user's own exception from save_pretrained is reported as the object's problem; no folder remains."""
    import tempfile

    class Unsavable:
        config = "a config"

        def save_pretrained(self, folder: Path) -> None:
            raise RuntimeError("disk quota of the notebook")

    class Tokenizer:
        def save_pretrained(self, folder: Path) -> None:
            Path(folder).mkdir(parents=True, exist_ok=True)

    before = set(Path(tempfile.gettempdir()).glob("auditkit-objects-*"))
    suite = {
        "name": "objects",
        "models": [{"name": "m", "id": Unsavable(), "tokenizer": Tokenizer()}],
        "tasks": [{"name": "t", "kind": "classification", "dataset": [{"text": "good", "label": 1}]}],
    }
    with pytest.raises(SuiteError, match=r"models\[0\] .*save_pretrained\(\) failed: RuntimeError: disk quota"):
        auditkit.run_suite(suite, output_dir=tmp_path, quiet=True)
    assert set(Path(tempfile.gettempdir()).glob("auditkit-objects-*")) == before
