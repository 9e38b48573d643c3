"""Hardening: hostile or broken input gets one clear error (never a traceback), resource bombs are refused,
faults (a full disk) publish nothing and lose nothing, and what a careful user would want said is said."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import DATA, TINY_QA, TINY_SST2, cli, cli_in_process, data_owner, requires_data, write_suite

from auditkit.core.errors import DatasetError, GateError, SuiteError
from auditkit.results.store import report_dir

# Hardening is about inputs, faults and outputs, not the architecture's size: tiny models (tests/fixtures/models).
CLS = f"{{name: cls, build: {{config: {TINY_SST2}, vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}}}"
QA = f"{{name: qa, build: {{config: {TINY_QA}, vocab: $DATA/vocab/bert-base-cased-vocab.txt}}}}"
TASK = "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4}}]\n"


def clean_error(proc: subprocess.CompletedProcess[str], *expected: str) -> None:
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and proc.stderr.startswith("error:"), proc.stderr
    for text in expected:
        assert text in " ".join(proc.stderr.split()), proc.stderr


# ---------------------------------------------------------------- the engine on degenerate input


@requires_data
def test_windows_shorter_than_the_candidate_count_do_not_crash() -> None:
    """A batch of very short contexts has fewer non-zero spans than candidates per window."""
    from conftest import model_spec

    from auditkit.engine.qa import QAEngine
    from auditkit.engine.types import QASettings
    from auditkit.models.hf import load_model

    loaded = load_model(model_spec("qa", str(TINY_QA), "bert-base-cased-vocab.txt"), "question-answering")
    for settings in (QASettings(), QASettings(top_k=5), QASettings(handle_impossible_answer=True)):
        engine = QAEngine(loaded.model, loaded.tokenizer, settings)
        answers = engine.predict(["Who?", "Who?", "What?"], ["Bob ran.", "Al.", "x"])
        assert len(answers) == 3
        for prediction, context in zip(answers, ["Bob ran.", "Al.", "x"], strict=True):
            for answer in prediction.answers:
                assert answer["answer"] == context[answer["start"] : answer["end"]]


# ---------------------------------------------------------------- resource bombs


BOMB = """name: bomb
a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e]
g: [*f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def test_yaml_alias_bombs_are_refused_in_suites_cards_and_probe_sets(tmp_path: Path) -> None:
    from auditkit.audit.card_reader import CardError, read_card
    from auditkit.data.probes import load_probe_set
    from auditkit.running.suite import load_suite

    started = time.perf_counter()
    suite = tmp_path / "bomb.yaml"
    suite.write_text(BOMB)
    with pytest.raises(SuiteError, match=r"line 3, column 8: invalid YAML: YAML aliases \(\*name\) are not accepted"):
        load_suite(suite)
    card = tmp_path / "README.md"
    card.write_text("---\n" + BOMB + "---\n# Card\n")
    with pytest.raises(CardError, match="YAML aliases"):
        read_card(card)
    probes = tmp_path / "probes.yaml"
    probes.write_text(BOMB)
    with pytest.raises(DatasetError, match="YAML aliases"):
        load_probe_set(probes)
    assert time.perf_counter() - started < 5  # refused while parsing, before anything is built


def test_duplicate_keys_are_errors_with_their_line(tmp_path: Path) -> None:
    from auditkit.running.suite import load_suite

    suite = write_suite(
        tmp_path / "dup.yaml",
        f"name: dup\nseed: 1\nseed: 2\nmodels: [{CLS}]\n{TASK}",
    )
    with pytest.raises(SuiteError, match=r"line 3, column 1: invalid YAML: duplicate key 'seed'"):
        load_suite(suite)


def test_a_twenty_megabyte_card_is_audited_in_linear_time(tmp_path: Path) -> None:
    from auditkit.audit import audit_card

    lines = ["---", "model-index:", "- name: m", "  results: []", "---", "# Model card", ""]
    size, i = 0, 0
    while size < 20_000_000:
        line = f"It reaches an F1 score of {50 + (i * 7919) % 4900 / 100:.1f} on the SQuAD v1.1 dev set."
        line = line if i % 3 == 0 else "Plain prose about the model and its intended uses, with no figures in it."
        if i % 500 == 0:
            line = f"## Section {i}"
        lines.append(line)
        size += len(line) + 1
        i += 1
    card = tmp_path / "README.md"
    card.write_text("\n".join(lines))
    started = time.perf_counter()
    audit = audit_card(card, rerun=False)
    elapsed = time.perf_counter() - started
    assert audit["summary"]["claims_not_measured"] > 50_000 and audit["summary"]["inconsistencies"] > 0
    assert elapsed < 10, f"{elapsed:.1f} s for a 20 MB card"


# ---------------------------------------------------------------- one clear error, never a traceback


@requires_data
def test_bad_cli_input_gets_one_clear_error(tmp_path: Path) -> None:
    """Each bad input is one message and exit code 2 (in process: the commands, error handling and exit codes are
    the entry point's; `tests/test_input_errors.py` runs the real entry point)."""
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "a-dir").mkdir()
    squad = str(DATA / "squad" / "dev-v1.1.json")
    vocab = str(DATA / "vocab" / "bert-base-cased-vocab.txt")
    clean_error(
        cli_in_process(
            "score", "--task", "squad", "--dataset", "missing.json", "--predictions", "a-file", cwd=tmp_path
        ),
        "missing.json",
    )
    clean_error(cli_in_process("audit-card", "a-dir", cwd=tmp_path), "a-dir: Is a directory")
    clean_error(
        cli_in_process(
            "build-model", "distilbert-base-cased-distilled-squad", "--vocab", vocab, "--out", "a-file", cwd=tmp_path
        ),
        "a-file",
    )
    (tmp_path / "nan.json").write_text('{"56be4db0acb8001400a502ec": NaN}')
    clean_error(
        cli_in_process("score", "--task", "squad", "--dataset", squad, "--predictions", "nan.json", cwd=tmp_path),
        "expected an answer string",
    )
    (tmp_path / "preds.json").write_text("{}")
    (tmp_path / "na.json").write_text('{"56be4db0acb8001400a502ec": 7}')
    clean_error(
        cli_in_process(
            "score",
            "--task",
            "squad_v2",
            "--dataset",
            squad,
            "--predictions",
            "preds.json",
            "--na-probs",
            "na.json",
            cwd=tmp_path,
        ),
        "expected a probability from 0 to 1",
    )
    for text, message in (
        ("bootstrap: {resamples: 0}\n", "bootstrap.resamples: Input should be greater than or equal to 1"),
        ('gates: ["t.accuracy >= 1e999"]\n', "the bound 1e999 is not a finite number"),
        (
            "tasks: [{name: t, kind: extractive_qa, dataset: {path: $DATA/squad/dev-v1.1.json},"
            " params: {max_seq_len: 64, doc_stride: 64}}]\n",
            "doc_stride (64) must be smaller than max_seq_len (64)",
        ),
    ):
        base = f"name: s\nmodels: [{CLS}]\n"
        if not text.startswith("tasks"):
            base += "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4}}]\n"
        suite = write_suite(tmp_path / "s.yaml", base + text)
        clean_error(cli_in_process("validate", str(suite), cwd=tmp_path), message)


@requires_data
def test_an_unwritable_output_place_fails_before_any_model_runs(tmp_path: Path) -> None:
    (tmp_path / "a-file").write_text("x")
    suite = write_suite(
        tmp_path / "s.yaml",
        f"name: s\nmodels: [{CLS}]\n{TASK}",
    )
    started = time.perf_counter()
    clean_error(
        cli_in_process("run", str(suite), "-q", "-o", "a-file/runs", cwd=tmp_path), "cannot create the run folder"
    )
    assert time.perf_counter() - started < 60


@requires_data
def test_gate_junit_pointing_at_a_folder_is_a_clear_error(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "s.yaml",
        f"name: s\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{CLS}]\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4}}]\n"
        'gates: ["t.accuracy >= 0"]\n',
    )
    proc = cli_in_process("run", str(suite), "-q", "--report", "none", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run = Path(proc.stdout.strip())
    (tmp_path / "a-dir").mkdir()
    clean_error(cli_in_process("gate", str(run), "--junit", "a-dir", cwd=tmp_path), "a-dir: Is a directory")


# ---------------------------------------------------------------- said, not silently accepted


@requires_data
def test_a_limit_beyond_the_data_is_said_and_recorded(tmp_path: Path) -> None:
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    path = tmp_path / "tiny.jsonl"
    path.write_text('\n\n{"text": "good", "label": 1}\n{"text": "bad", "label": 0}\n')
    dataset = load_dataset(DatasetSpec(path=path, limit=10), data_owner("classification"), name="tiny")
    assert len(dataset) == 2 and dataset.selection == "all"
    assert dataset.warnings == ["limit: 10 asks for more examples than the data holds (2); all are used"]
    path.write_text('\n\n{"text": "good", "label": 1}\n{"text": "bad"}\n')
    with pytest.raises(DatasetError, match="line 4: missing field 'label'"):  # the file's line, not the record's
        load_dataset(DatasetSpec(path=path), data_owner("classification"), name="tiny")


def test_probe_sets_that_cannot_measure_a_gap_are_refused(tmp_path: Path) -> None:
    from auditkit.data.probes import load_probe_set

    one_group = tmp_path / "one.yaml"
    one_group.write_text(
        "name: one\nkind: classification\ndescription: d\nsource: s\nintent: i\n"
        "groups: {a: [Ann, Bea]}\ntemplates: [{id: t, text: '{name} is {attribute}.'}]\nattributes: [kind]\n"
    )
    with pytest.raises(DatasetError, match="needs at least two"):
        load_probe_set(one_group)
    empty = tmp_path / "empty.yaml"
    empty.write_text(one_group.read_text().replace("groups: {a: [Ann, Bea]}", "groups: {a: [Ann], b: []}"))
    with pytest.raises(DatasetError, match=r"group\(s\) \['b'\] list no names"):
        load_probe_set(empty)


@requires_data
def test_a_regression_gate_against_other_questions_is_refused(tmp_path: Path) -> None:
    from auditkit.gates import gate
    from auditkit.running.runner import run_suite
    from auditkit.spec.schema import GateSpec

    def run(limit: int) -> Path:
        suite = write_suite(
            tmp_path / f"s{limit}.yaml",
            f"name: s{limit}\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{CLS}]\n"
            f"tasks: [{{name: t, kind: classification, dataset: {{path: $DATA/sst2/dev.tsv, limit: {limit}}}}}]\n",
        )
        return run_suite(suite, quiet=True, output_dir=tmp_path / "runs", report_formats=()).run_dir

    base, candidate = run(6), run(8)
    with pytest.raises(GateError, match="evaluated t on other examples"):
        gate(candidate, gates=[GateSpec(check="t.accuracy >= baseline - 1")], baseline=base)


# ---------------------------------------------------------------- faults: a full disk


def _fault_suite(tmp_path: Path) -> Path:
    return write_suite(
        tmp_path / "fault.yaml",
        f"name: fault\noutput_dir: runs\nbootstrap: {{resamples: 20}}\nmodels: [{CLS}, {QA}]\n"
        "tasks:\n"
        "  - {name: sst2, kind: classification, models: [cls], dataset: {path: $DATA/sst2/dev.tsv, limit: 12}}\n"
        "  - {name: squad, kind: extractive_qa, models: [qa], dataset: {path: $DATA/squad/dev-v1.1.json, limit: 6}}\n"
        'gates: ["sst2.accuracy >= 0"]\n',
    )


@requires_data
@pytest.mark.parametrize("victim", ["parquet", "results.json", "gates.json", "manifest.json"])
def test_a_full_disk_publishes_nothing_and_the_rerun_loses_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, victim: str
) -> None:
    """ENOSPC at each stage of publishing: no run appears, LATEST and earlier runs stay, the cache resumes."""
    from auditkit.results import store
    from auditkit.running.runner import run_suite

    suite = _fault_suite(tmp_path)
    out = tmp_path / "runs"
    first = run_suite(suite, quiet=True, output_dir=out)
    earlier = {p: p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()}
    latest = (out / "fault" / "LATEST").read_text()

    real_target = store._atomic_target

    def full_disk(path: Path):  # type: ignore[no-untyped-def]
        matches = {
            "parquet": path.suffix == ".parquet",
            "results.json": path.name == "results.json",
            "gates.json": path.name == "gates.json",
            "manifest.json": path.name == "manifest.json",
        }[victim]
        if matches and ".partial" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_target(path)

    monkeypatch.setattr(store, "_atomic_target", full_disk)
    with pytest.raises(OSError, match="No space left"):
        run_suite(suite, quiet=True, output_dir=out)
    monkeypatch.setattr(store, "_atomic_target", real_target)
    runs = sorted(p.name for p in (out / "fault").iterdir() if not p.name.startswith(".") and p.suffix != ".report")
    assert runs == sorted([first.run_dir.name, "LATEST"])  # nothing half-published
    assert (out / "fault" / "LATEST").read_text() == latest
    assert {p: p.read_bytes() for p in first.run_dir.rglob("*") if p.is_file()} == earlier
    assert not list((out / "fault").glob(".*.partial"))  # the failed run cleaned up after itself
    again = run_suite(suite, quiet=True, output_dir=out)
    assert [j.metrics for j in again.results.jobs] == [j.metrics for j in first.results.jobs]
    assert all(j.timing.cached for j in again.results.jobs)  # the predictions survived in the cache


@requires_data
def test_a_failing_view_never_loses_the_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The run is published before its report renders: a full disk (or any bug) in the view is named, the run,
    predictions and verdict stay published and verified, and ``auditkit report`` renders it again."""
    import auditkit
    from auditkit.results import load_run, store
    from auditkit.running.runner import run_suite

    real_target = store._atomic_target

    def full_disk(path: Path):  # type: ignore[no-untyped-def]
        if path.name == "report.html":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real_target(path)

    monkeypatch.setattr(store, "_atomic_target", full_disk)
    outcome = run_suite(_fault_suite(tmp_path), quiet=True, output_dir=tmp_path / "runs")
    monkeypatch.setattr(store, "_atomic_target", real_target)
    assert outcome.report_error is not None and outcome.report_dir is None
    assert "html, md report" in outcome.report_error and "No space left" in outcome.report_error
    assert f"auditkit report {outcome.run_dir}" in outcome.report_error
    run = load_run(outcome.run_dir)  # verified against its manifest: intact
    assert all((outcome.run_dir / job.predictions).is_file() for job in run.results.jobs)
    files = auditkit.report(outcome.run_dir)
    assert any(f.name == "report.html" for f in files)


def test_the_cli_turns_a_full_disk_into_one_message(tmp_path: Path) -> None:
    code = (
        "import errno, sys\n"
        "from auditkit import cli\n"
        "def boom(*a, **k):\n"
        "    raise OSError(errno.ENOSPC, 'No space left on device', 'runs/x/results.json')\n"
        "import auditkit.running.runner\n"
        "auditkit.running.runner.run_suite = boom\n"
        "sys.argv = ['auditkit', 'run', 'suite.yaml']\n"
        "cli.main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "runs/x/results.json: No space left on device" in proc.stderr and "free some disk space" in proc.stderr


# ---------------------------------------------------------------- secrets


def test_url_credentials_and_header_values_are_redacted() -> None:
    from auditkit.core.redact import redact_headers, redact_suite_spec, redact_url

    assert (
        redact_url("https://user:pa55@host:8443/score?code=k3y&v=2#frag")
        == "https://***@host:8443/score?code=***&v=***#***"
    )
    assert redact_url("http://127.0.0.1:8000/score") == "http://127.0.0.1:8000/score"
    headers = {"X-Functions-Key": "k3y", "api-key": "k3y", "Proxy-Authorization": "k3y", "X-Auth-Token": "k3y"}
    assert set(redact_headers({**headers, "azureml-model-deployment": "blue"}).values()) == {"***", "blue"}
    spec = {"models": [{"name": "d", "endpoint": {"url": "https://u:p@h/s?code=k3y", "headers": headers}}]}
    assert "k3y" not in json.dumps(redact_suite_spec(spec)) and "u:p@" not in json.dumps(redact_suite_spec(spec))


@requires_data
def test_no_secret_reaches_any_file_or_the_console(tmp_path: Path) -> None:
    """Query keys, URL credentials and extra credential headers: used on the wire, written nowhere."""
    from chaos import ChaosServer, squad_file

    secrets = ["qu3ry-k3y", "pa55w0rd", "functi0ns-k3y", "pr0xy-k3y"]
    squad_file(tmp_path / "chaos.json", ["What comes first?"] * 4)
    with ChaosServer() as server:
        url = server.url.replace("http://", "http://auditor:pa55w0rd@") + "?code=qu3ry-k3y"
        endpoint = {
            "url": url,
            "contract": "azureml-qa",
            "batch_size": 2,
            "headers": {"X-Functions-Key": "functi0ns-k3y", "Proxy-Authorization": "pr0xy-k3y"},
        }
        suite = write_suite(
            tmp_path / "suite.yaml",
            f"name: secret\noutput_dir: runs\nbootstrap: {{resamples: 10}}\n"
            f"models: [{{name: deployed, endpoint: {json.dumps(endpoint)}}}]\n"
            "tasks: [{name: qa, kind: extractive_qa, dataset: {path: chaos.json}}]\n"
            'gates: ["qa.f1 >= 0"]\n',
        )
        proc = cli("run", str(suite), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    assert "***" in (run_dir / "results.json").read_text()
    views = report_dir(run_dir)
    written = [p for d in (run_dir, views) for p in d.rglob("*") if p.is_file() and p.suffix != ".parquet"]
    assert {"results.json", "gates.json", "report.html", "report.md", "deployed.yaml"} <= {p.name for p in written}
    for text in [proc.stdout, proc.stderr, *(p.read_text(encoding="utf-8") for p in written)]:
        assert not [s for s in secrets if s in text]


@requires_data
def test_an_unreachable_hub_fails_at_once_without_the_offline_variable(tmp_path: Path) -> None:
    """The hub is pointed at a closed port on 127.0.0.1 (no traffic leaves the machine) and HF_HUB_OFFLINE is unset."""
    import os

    suite = write_suite(
        tmp_path / "hub.yaml",
        f"name: hub\nmodels: [{{name: m, id: someorg/not-cached-anywhere}}]\n{TASK}",
    )
    env = {k: v for k, v in os.environ.items() if k != "HF_HUB_OFFLINE"} | {"HF_ENDPOINT": "http://127.0.0.1:1"}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q", "-o", "runs"],
        cwd=tmp_path, capture_output=True, text=True, env=env, check=False,
    )  # fmt: skip
    clean_error_tail = proc.stderr.splitlines()[-2:]
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot reach the Hugging Face hub, and 'someorg/not-cached-anywhere' is not in the local cache" in (
        " ".join(clean_error_tail)
    )
    assert time.perf_counter() - started < 20  # no half-minute of retries


@requires_data
def test_a_label_map_that_cannot_work_fails_before_any_model_runs(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "labels.yaml",
        f"name: labels\noutput_dir: runs\nmodels: [{CLS}]\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4},"
        " params: {label_map: {NEGATIVE: negative, POSITIVE: glad}}}]\n",
    )
    proc = cli("run", str(suite), "-q", cwd=tmp_path)
    clean_error(proc, "label_map sends 'POSITIVE' to 'glad', which is not a dataset label")
    assert not (tmp_path / "runs").exists() or not list((tmp_path / "runs").rglob("results.json"))


@requires_data
def test_auto_map_without_remote_code_is_warned_and_recorded(tmp_path: Path) -> None:
    """A config naming custom code that will not run: said on the console and kept with the model's record."""
    import shutil

    from conftest import model_spec

    from auditkit.models.hf import materialize

    built = Path(materialize(model_spec("cls", str(TINY_SST2), "bert-base-uncased-vocab.txt")))
    local = tmp_path / "model"
    shutil.copytree(built, local)
    config = json.loads((local / "config.json").read_text())
    config["auto_map"] = {"AutoModelForSequenceClassification": "modeling_custom.CustomClassifier"}
    (local / "config.json").write_text(json.dumps(config))
    suite = write_suite(
        tmp_path / "automap.yaml",
        f"name: automap\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{{name: m, id: {local}}}]\n{TASK}",
    )
    proc = cli("run", str(suite), "-q", "--report", "none", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "auto_map names custom code" in proc.stderr
    from auditkit.results import load_results

    [warning] = load_results(Path(proc.stdout.strip())).models["m"].warnings
    assert "not run without trust_remote_code" in warning and "'distilbert'" in warning


# ---------------------------------------------------------------- code from a suite runs only with an opt-in


@requires_data
@pytest.mark.parametrize(
    "module", ["sys:exit", "os:getpid", "evaluate_metric_script.py", "accuracy"], ids=["exit", "call", "script", "hub"]
)
def test_a_suite_runs_no_code_without_the_opt_in(tmp_path: Path, module: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every ``evaluate:`` metric is code (an installed callable, a local script, a Hub metric script): a suite
    that names one stops before anything loads unless the person running it allows it -- the suite file cannot."""
    (tmp_path / "evaluate_metric_script.py").write_text("import sys\nsys.exit(0)\n")
    suite = write_suite(
        tmp_path / "suite.yaml",
        f"name: hostile\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{CLS}]\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4},"
        f" evaluate: [{{module: {module}}}]}}]\n"
        'gates: ["t.accuracy >= 90"]\n',
    )
    monkeypatch.delenv("AUDITKIT_ALLOW_SUITE_CODE", raising=False)
    monkeypatch.chdir(tmp_path)
    if module == "sys:exit":  # the command line: one clear message, exit 2
        proc = subprocess.run(
            [sys.executable, "-m", "auditkit.cli", "run", str(suite)], cwd=tmp_path, capture_output=True, text=True,
            check=False, env={k: v for k, v in os.environ.items() if k != "AUDITKIT_ALLOW_SUITE_CODE"},
        )  # fmt: skip
        assert proc.returncode == 2 and "the suite would run code: tasks[0].evaluate[0]" in proc.stderr
        assert "--allow-suite-code" in proc.stderr and "Traceback" not in proc.stderr
    else:
        from auditkit.running.runner import run_suite

        with pytest.raises(SuiteError, match=r"the suite would run code: tasks\[0\]\.evaluate\[0\]"):
            run_suite(suite, quiet=True)
    assert not (tmp_path / "runs").exists()  # nothing ran, nothing was written


@requires_data
def test_allowed_code_cannot_end_the_run_or_pick_its_exit_code(tmp_path: Path) -> None:
    """With the opt-in, metric code that calls sys.exit is an error naming the metric: never exit 0, no verdict."""
    suite = write_suite(
        tmp_path / "suite.yaml",
        f"name: exiting\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{CLS}]\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4},"
        ' evaluate: [{module: "sys:exit"}]}]\n'
        'gates: ["t.accuracy >= 90"]\n',
    )
    proc = subprocess.run(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "--allow-suite-code"], cwd=tmp_path,
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert proc.returncode == 2 and "evaluate metric 'sys:exit' tried to exit the process" in proc.stderr


@requires_data
def test_sigterm_publishes_nothing_and_leaves_no_staging_folder(tmp_path: Path) -> None:
    """What CI runners send on cancel: the run stops like Ctrl-C (exit 130), its .partial folder is removed."""
    import signal
    import time

    suite = write_suite(
        tmp_path / "suite.yaml",
        f"name: term\noutput_dir: runs\nbootstrap: {{resamples: 10}}\nmodels: [{CLS}]\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv}}]\n",
    )
    env = {**os.environ, "AUDITKIT_CACHE": str(tmp_path / "cache"), "AUDITKIT_CHUNK": "8"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditkit.cli", "run", str(suite), "-q"], cwd=tmp_path, env=env,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "cache").rglob("chunks/*.json")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130 and "interrupted" in stderr and "Traceback" not in stderr
    assert not list((tmp_path / "runs").rglob(".*.partial")) and not list((tmp_path / "runs").rglob("results.json"))


@requires_data
def test_label_sets_and_names_are_checked_at_load(tmp_path: Path) -> None:
    """A label set naming one label twice, and a name too long for a file name, fail at load with the fix."""
    import re

    from auditkit.running.suite import load_suite

    dataset = "{path: $DATA/sst2/dev.tsv, labels: [negative, Negative]}"
    twice = write_suite(
        tmp_path / "s.yaml",
        f"name: s\nmodels: [{CLS}]\ntasks: [{{name: t, kind: classification, dataset: {dataset}}}]\n",
    )
    with pytest.raises(SuiteError, match=re.escape("label 'Negative' is listed twice (as 'negative')")):
        load_suite(twice)
    long_name = write_suite(
        tmp_path / "long.yaml",
        f"name: s\nmodels: [{CLS}]\ntasks: [{{name: {'t' * 101}, kind: classification,"
        " dataset: {path: $DATA/sst2/dev.tsv}}]\n",
    )
    with pytest.raises(SuiteError, match="at most 100 characters"):
        load_suite(long_name)


# ---------------------------------------------------------------- --until-decided keeps what it computed


def _two_models(seed_b: int) -> str:
    vocab = "$DATA/vocab/bert-base-uncased-vocab.txt"
    return "".join(
        f"  - {{name: {name}, build: {{config: {TINY_SST2}, vocab: {vocab}, seed: {seed}}}}}\n"
        for name, seed in (("a", 0), ("b", seed_b))
    )


@requires_data
def test_until_decided_publishes_pairs_and_reuses_what_it_computed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One gated model of two: both are published and the report compares them on the examples both saw; an
    early-stopped baseline is used on its examples (the candidate never looks past them); no gate: said."""
    from auditkit import load_run, run_suite

    head = (
        "seed: 0\noutput_dir: runs\n"
        "tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, sample: 300}}]\n"
    )
    two = write_suite(
        tmp_path / "two.yaml",
        f"name: two\n{head}models:\n{_two_models(1)}gates:\n  - {{check: 't.accuracy >= 90', models: [a]}}\n",
    )
    outcome = run_suite(two, output_dir=tmp_path / "runs", quiet=True, until_decided=True, report_formats=["md"])
    assert outcome.report_error is None and outcome.gates.verdict == "NO_GO"
    by_model = {job.model: job for job in outcome.results.jobs}
    seen = by_model["a"].sequential
    assert seen is not None and seen.stopped == "decided" and seen.n_used < 300
    assert by_model["b"].sequential is not None and by_model["b"].sequential.stopped == "not sequential"
    assert "no gate" in by_model["b"].sequential.reason
    report = " ".join((outcome.report_dir / "report.md").read_text().split())
    assert f"compared on the {seen.n_used} examples both saw" in report
    assert "no gate on a metric applies to b · t" in " ".join(capsys.readouterr().err.split())

    # The early-stopped run as a baseline: a full candidate is tested on the baseline's examples, in their
    # order, with the anytime-valid test; a sequential candidate never looks past them.
    cand = write_suite(
        tmp_path / "cand.yaml",
        f"name: cand\n{head}baseline: {outcome.run_dir}\nmodels:\n{_two_models(2)}"
        "gates:\n  - {check: 't.accuracy >= baseline - 5', models: [b], baseline_model: a}\n",
    )
    full = run_suite(cand, output_dir=tmp_path / "runs", quiet=True, report_formats=["md"])
    [result] = full.gates.results
    assert result.n == seen.n_used and result.anytime_valid and "stopped early" in " ".join(result.notes)
    frame = load_run(outcome.run_dir).predictions("a", "t")
    assert result.baseline_value == pytest.approx(100 * frame["correct"].mean())
    early = run_suite(cand, output_dir=tmp_path / "runs", quiet=True, until_decided=True, report_formats=["md"])
    job_b = next(job for job in early.results.jobs if job.model == "b")
    assert job_b.sequential is not None and job_b.sequential.n_used <= seen.n_used
    assert set(load_run(early.run_dir).predictions("b", "t")["id"]) <= set(frame["id"])

    # No gates at all: said before any model loads, and every job runs on all its examples.
    capsys.readouterr()
    bare = write_suite(tmp_path / "bare.yaml", f"name: bare\n{head}models:\n{_two_models(1)}")
    plain = run_suite(bare, output_dir=tmp_path / "runs", quiet=True, until_decided=True, report_formats=[])
    assert all(job.sequential is not None and job.sequential.n_used == 300 for job in plain.results.jobs)
    assert "--until-decided has nothing to decide" in " ".join(capsys.readouterr().err.split())


@requires_data
def test_what_is_decidable_is_decided_before_any_model_loads(tmp_path: Path) -> None:
    """A gate on a metric the task lacks, a card gate without a card, text that is not Unicode in a JSON Lines
    record (lone surrogate), a SQuAD file whose title is a number: each is one clear error (or a run) before
    any model loads, from the suite check and from a run."""
    from auditkit import run_suite
    from auditkit.core.errors import AuditkitError
    from auditkit.running.preflight import load_datasets
    from auditkit.running.suite import load_suite

    suite = "name: early\noutput_dir: runs\nmodels: [" + CLS + "]\n" + TASK
    cases = {
        "metric": (suite + 'gates: ["t.f1 >= 50"]\n', "task 't' has no metric 'f1'"),
        "card": (suite + 'gates: ["card.claims_failed <= 0"]\n', "no model it applies to has a 'card:'"),
    }
    (tmp_path / "bad.jsonl").write_text('{"text": "fine", "label": 1}\n{"text": "broken \\ud800 text", "label": 0}\n')
    cases["surrogate"] = (
        suite.replace("path: $DATA/sst2/dev.tsv, limit: 4", f"path: {tmp_path / 'bad.jsonl'}"),
        "line 2: field 'text' holds a lone surrogate (U+D800)",
    )
    for name, (text, expected) in cases.items():
        path = write_suite(tmp_path / f"{name}.yaml", text)
        if name != "card":  # a card audit may come later (`auditkit gate RUN --audit AUDIT`): only a run refuses
            with pytest.raises(AuditkitError) as checked:
                load_datasets(load_suite(path))
            assert expected in " ".join(str(checked.value).split())
        with pytest.raises(AuditkitError) as refused:
            run_suite(path, output_dir=tmp_path / "runs", quiet=True)
        assert expected in " ".join(str(refused.value).split())
    assert not (tmp_path / "runs").exists()  # nothing was computed or written
    clean_error(cli("run", str(tmp_path / "surrogate.yaml"), "-q", cwd=tmp_path), "lone surrogate")

    squad = json.loads((DATA / "squad" / "dev-v1.1.json").read_text())
    squad["data"] = squad["data"][:1]
    squad["data"][0]["title"] = 1905
    (tmp_path / "numeric.json").write_text(json.dumps(squad))
    qa = "name: numeric\noutput_dir: runs\nmodels: [" + QA + "]\n"
    qa += f"tasks: [{{name: q, kind: extractive_qa, dataset: {{path: {tmp_path / 'numeric.json'}, limit: 3}}}}]\n"
    outcome = run_suite(write_suite(tmp_path / "numeric.yaml", qa), output_dir=tmp_path / "runs", quiet=True,
                        report_formats=["md"])  # fmt: skip
    assert outcome.report_error is None and outcome.results.jobs[0].metrics["f1"].n == 3
