"""Endpoints: retries, budgets, concurrency, timeouts and contract checks against a real misbehaving server
on 127.0.0.1 (tests/chaos.py), and `auditkit serve` giving the same answers and metrics as a local run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from chaos import ChaosServer, squad_file
from conftest import REPO, TINY_QA, TINY_SST2, cli, requires_data, write_suite

from auditkit.core.errors import ContractError, ModelError, SuiteError
from auditkit.results import load_results
from auditkit.results.store import report_dir

QUESTIONS = ["What comes first?"] * 8


def endpoint_suite(tmp_path: Path, url: str, questions: list[str], **endpoint: object) -> Path:
    squad_file(tmp_path / "chaos.json", questions)
    settings = {"url": url, "contract": "azureml-qa", "batch_size": 1, "backoff": 0.01, "retries": 2, **endpoint}
    return write_suite(
        tmp_path / "suite.yaml",
        f"""
name: chaos
bootstrap: {{resamples: 50}}
output_dir: {tmp_path / "runs"}
models:
  - name: deployed
    endpoint: {json.dumps(settings)}
tasks:
  - name: qa
    kind: extractive_qa
    dataset: {{path: chaos.json}}
""",
    )


def run(suite: Path):
    from auditkit.running.runner import run_suite

    return run_suite(suite, quiet=True)


def test_retries_recover_from_429_with_retry_after_and_503_with_backoff(tmp_path: Path) -> None:
    questions = list(QUESTIONS)
    questions[2] = "What comes first? #429"
    questions[5] = "What comes first? #503"
    with ChaosServer() as server:
        outcome = run(endpoint_suite(tmp_path, server.url, questions))
    [job] = outcome.results.jobs
    assert job.failures.count == 0
    assert job.metrics["exact_match"].value == 100.0
    assert job.timing.requests == 8 and job.timing.retries == 2
    assert sorted(job.timing.retry_waits) == [0.01, 1.0]  # back-off for the 503, Retry-After for the 429
    assert server.requests == 10
    assert job.timing.batch_latency_ms_p50 == 1.5  # the server's own compute report, kept apart from request latency
    assert job.timing.request_latency_ms_p50 > 0


def test_persistent_errors_and_timeouts_are_listed_and_fail_the_gates(tmp_path: Path) -> None:
    questions = list(QUESTIONS)
    questions[1] = "What comes first? #500"
    questions[3] = "What comes first? #slow"
    questions[6] = "What comes first? #400"
    with ChaosServer() as server:
        suite = endpoint_suite(tmp_path, server.url, questions, timeout=0.5, retries=1)
        proc = cli("run", str(suite), "-q", cwd=tmp_path)
        assert proc.returncode == 1, proc.stderr  # the endpoint-failures gate fails
        assert "endpoint failures [deployed]: 3 of 8 examples failed" in " ".join(proc.stderr.split())
        run_dir = Path(proc.stdout.strip().splitlines()[-1])
        results = load_results(run_dir)
        [job] = results.jobs
        errors = {f.id: f for f in job.failures.examples}
        assert list(errors) == ["q1", "q3", "q6"]  # listed in dataset order, whatever order the requests finished in
        assert errors["q1"].error.startswith("HTTP 500") and errors["q1"].attempts == 2
        assert errors["q3"].error.startswith("timed out after 0.5 s") and errors["q3"].attempts == 2
        assert (
            errors["q6"].error.startswith("HTTP 400") and errors["q6"].attempts == 1
        )  # a rejected request is not retried
        assert (
            job.metrics["exact_match"].value == 100.0 and job.failures.excluded_from_scoring == 3
        )  # scored on the answered five
        assert json.loads((run_dir / "gates.json").read_text())["failed"] == 1
        report = (report_dir(run_dir) / "report.md").read_text()
        assert "## Endpoint failures" in report and "3 of 8 examples failed" in report and "q3" in report
        assert (
            "examples failed at the endpoint**; its metrics cover the 5 examples scored" in report
        )  # said beside the metrics too
        html = (report_dir(run_dir) / "report.html").read_text()
        assert 'id="failures"' in html and "over the limit" in html

        tolerant = endpoint_suite(tmp_path, server.url, questions, timeout=0.5, retries=1, max_failure_rate=0.5)
        assert cli("run", str(tolerant), "-q", "--report", "none", cwd=tmp_path).returncode == 0


def test_request_budget_caps_every_attempt(tmp_path: Path) -> None:
    with ChaosServer() as server:
        outcome = run(endpoint_suite(tmp_path, server.url, QUESTIONS, request_budget=5, concurrency=1))
    [job] = outcome.results.jobs
    assert server.requests == 5
    assert job.failures.count == 3
    assert all(f.error == "request budget of 5 requests spent" and f.attempts == 0 for f in job.failures.examples)


def test_concurrency_limit_holds(tmp_path: Path) -> None:
    with ChaosServer(delay=0.05) as server:
        run(endpoint_suite(tmp_path, server.url, ["What comes first?"] * 30, concurrency=3))
    assert server.requests == 30
    assert 1 < server.max_in_flight <= 3


@pytest.mark.parametrize(
    ("marker", "message"),
    [
        ("#missing", "answer lacks key(s) 'start'"),
        ("#span", "of the context is 'Alpha', but the answer is 'not in the context'"),
        ("#notjson", "the response is not JSON"),
        ("#short", "expected 2 answers (one per item sent), got 1"),
    ],
)
def test_contract_violations_name_the_example_and_keep_earlier_runs(tmp_path: Path, marker: str, message: str) -> None:
    from auditkit.results import resolve_run_dir

    with ChaosServer() as server:
        earlier = run(endpoint_suite(tmp_path, server.url, QUESTIONS)).run_dir
        questions = list(QUESTIONS)
        questions[5] = f"What comes first? {marker}"
        with pytest.raises(ContractError) as caught:
            run(endpoint_suite(tmp_path, server.url, questions, batch_size=2))
    text = str(caught.value)
    assert "breaks the azureml-qa contract" in text and message in text
    assert "'q5'" in text or "'q4'..'q5'" in text
    assert resolve_run_dir(tmp_path / "runs" / "chaos") == earlier
    runs = [p for p in (tmp_path / "runs" / "chaos").iterdir() if not p.name.endswith(".report")]
    assert len(runs) == 2  # the earlier run and LATEST; nothing half-written


def test_token_comes_from_the_environment_and_is_never_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "s3cret-token-value"
    with ChaosServer(token=token) as server:
        suite = endpoint_suite(tmp_path, server.url, QUESTIONS, auth_env="CHAOS_TOKEN")
        monkeypatch.delenv("CHAOS_TOKEN", raising=False)
        with pytest.raises(SuiteError, match="CHAOS_TOKEN is not set"):  # found before any model loads
            run(suite)
        monkeypatch.setenv("CHAOS_TOKEN", "wrong")
        with pytest.raises(ModelError, match="rejected the credentials \\(HTTP 401\\)"):
            run(suite)
        monkeypatch.setenv("CHAOS_TOKEN", token)
        outcome = run(suite)
    assert server.auth_seen == {"Bearer wrong", f"Bearer {token}"}
    from auditkit.reports import report

    report(outcome.run_dir)
    for path in outcome.run_dir.rglob("*"):
        if path.is_file() and path.suffix in (".json", ".md", ".html", ".xml"):
            assert token not in path.read_text(encoding="utf-8"), path


@pytest.mark.parametrize(
    ("endpoint", "message"),
    [
        (
            {"contract": "azureml-qa", "url": "http://127.0.0.1:1/score", "headers": {"Authorization": "Bearer x"}},
            "carries a secret",
        ),
        ({"contract": "azure-qa", "url": "http://127.0.0.1:1/score"}, "unknown contract 'azure-qa'"),
        ({"contract": "hf-inference", "url": "http://127.0.0.1:1/"}, "say which with task:"),
        (
            {"contract": "azureml-qa", "task": "text-classification", "url": "http://127.0.0.1:1/"},
            "does not serve text-classification",
        ),
        ({"contract": "custom", "task": "question-answering", "url": "http://127.0.0.1:1/"}, "needs a mapping"),
        ({"contract": "azureml-qa", "url": "127.0.0.1:1/score"}, "must start with http"),
    ],
)
def test_bad_endpoint_specs_are_located_errors(tmp_path: Path, endpoint: dict, message: str) -> None:
    from auditkit.running.suite import load_suite

    suite = endpoint_suite(tmp_path, "http://127.0.0.1:1/score", QUESTIONS)
    text = suite.read_text().replace(suite.read_text().split("endpoint: ")[1].split("\n")[0], json.dumps(endpoint))
    suite.write_text(text)
    with pytest.raises(SuiteError, match=message) as caught:
        load_suite(suite)
    assert "models[0].endpoint" in str(caught.value) or "models" in str(caught.value)


def test_local_settings_on_an_endpoint_are_rejected(tmp_path: Path) -> None:
    from auditkit.running.suite import load_suite

    suite = endpoint_suite(tmp_path, "http://127.0.0.1:1/score", QUESTIONS)
    suite.write_text(suite.read_text().replace("  - name: deployed\n", "  - name: deployed\n    device: cuda\n"))
    with pytest.raises(SuiteError, match="device apply to local models"):
        load_suite(suite)


def test_contract_shapes() -> None:
    from auditkit.endpoints.client import retry_after
    from auditkit.endpoints.contracts import Violation, make_contract
    from auditkit.spec.schema import EndpointMapping

    hf = make_contract("hf-inference")
    assert hf.qa_request(["q"], ["c"], {"top_k": 1, "doc_stride": None}) == {
        "inputs": {"question": "q", "context": "c"},
        "parameters": {"top_k": 1},
    }
    assert hf.qa_request(["a", "b"], ["x", "y"], {})["inputs"] == [
        {"question": "a", "context": "x"},
        {"question": "b", "context": "y"},
    ]
    one = {"score": 0.5, "start": 0, "end": 1, "answer": "x"}
    assert hf.qa_results(one, 1) == [[one]]
    assert hf.qa_results([one, one], 1) == [[one, one]]  # top_k answers to one question
    assert hf.classify_request(["t"]) == {"inputs": "t", "parameters": {"top_k": None}}
    labels = [{"label": "POSITIVE", "score": 0.9}, {"label": "NEGATIVE", "score": 0.1}]
    assert hf.classify_results(labels, 1) == [labels] and hf.classify_results([labels, labels], 2) == [labels, labels]
    with pytest.raises(Violation, match="expected 3 label-score lists"):
        hf.classify_results([labels, labels], 3)

    azure = make_contract("azureml-qa")
    body = azure.qa_request(
        ["What is my name?", "Where do I live?"],
        ["My name is John and I live in Seattle.", "My name is Ravi and I live in Hyderabad."],
        {},
    )
    assert body == {
        "inputs": {
            "question": ["What is my name?", "Where do I live?"],
            "context": ["My name is John and I live in Seattle.", "My name is Ravi and I live in Hyderabad."],
        }
    }
    assert azure.read_qa(body)[0] == ["What is my name?", "Where do I live?"]
    with pytest.raises(Violation, match=r"has 1 entries but inputs\.context has 2"):
        azure.read_qa({"inputs": {"question": ["a"], "context": ["b", "c"]}})

    custom = make_contract(
        "custom",
        EndpointMapping(
            item={"q": "$question", "c": "$context"},
            batch_key="data.instances",
            results_key="predictions",
            answer="text",
            start="begin",
            score="prob",
        ),
    )
    assert custom.qa_request(["q1"], ["c1"], {}) == {"data": {"instances": [{"q": "q1", "c": "c1"}]}}
    got = custom.qa_results({"predictions": [{"text": "c", "begin": 0, "end": 1, "prob": 0.2}]}, 1)
    assert got == [[{"answer": "c", "score": 0.2, "start": 0, "end": 1}]]
    with pytest.raises(Violation, match="no 'predictions'"):
        custom.qa_results({"results": []}, 1)

    assert retry_after("3") == 3.0 and retry_after(None) is None and retry_after("soon") is None
    assert 0 < retry_after(time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(time.time() + 30))) <= 30


def _serve(
    model_dir: str, contract: str, cwd: Path, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[str], str]:
    auth = ["--auth-env", next(iter(env))] if env else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditkit.cli", "serve", model_dir, "--contract", contract, "--port", "0", "-q", *auth],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=cwd,
        env={**os.environ, **(env or {})},
    )
    url = proc.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise AssertionError(f"serve did not start: {url!r} {proc.stderr.read()}")
    return proc, url


@requires_data
@pytest.mark.slow
def test_served_models_answer_exactly_like_the_local_run(tmp_path: Path) -> None:
    """`auditkit serve` on loopback (one server with a token) vs the same checkpoints run locally: same answers, same
    metrics.
    """
    from conftest import model_spec

    from auditkit.models.hf import materialize

    # Served equals local whatever the architecture's size: tiny models (tests/fixtures/models).
    qa_dir = materialize(model_spec("qa", str(TINY_QA), "bert-base-cased-vocab.txt"))
    cls_dir = materialize(model_spec("cls", str(TINY_SST2), "bert-base-uncased-vocab.txt"))
    env = {"SERVE_TOKEN": "local-secret"}
    qa_server, qa_url = _serve(qa_dir, "azureml-qa", tmp_path, env)
    cls_server, cls_url = _serve(cls_dir, "hf-inference", tmp_path)
    try:
        suite = write_suite(
            tmp_path / "suite.yaml",
            f"""
name: served
bootstrap: {{resamples: 100}}
output_dir: {tmp_path / "runs"}
models:
  - {{name: local-qa, id: {qa_dir}}}
  - name: served-qa
    endpoint: {{url: "{qa_url}", contract: azureml-qa, batch_size: 8, concurrency: 2}}
  - {{name: local-cls, id: {cls_dir}}}
  - name: served-cls
    endpoint: {{url: "{cls_url}", contract: hf-inference, task: text-classification, batch_size: 16}}
tasks:
  - name: squad
    kind: extractive_qa
    models: [local-qa, served-qa]
    dataset: {{path: $DATA/squad/dev-v1.1.json, limit: 40}}
  - name: sst2
    kind: classification
    models: [local-cls, served-cls]
    dataset: {{path: $DATA/sst2/dev.tsv, labels: [negative, positive], limit: 64}}
  - name: ceo
    kind: bias_probe
    models: [local-qa, served-qa]
    dataset: {{path: {REPO}/suites/probes/seed-ceo.yaml}}
""",
        )
        # The server requires a token: without one the run stops at the first request.
        denied = cli("run", str(suite), "-q", "--report", "none", cwd=tmp_path)
        assert denied.returncode == 2 and "rejected the credentials (HTTP 401)" in denied.stderr
        suite.write_text(
            suite.read_text().replace("contract: azureml-qa,", "contract: azureml-qa, auth_env: SERVE_TOKEN,")
        )
        proc = cli("run", str(suite), "-q", cwd=tmp_path, env=env)
        assert proc.returncode == 0, proc.stderr
    finally:
        qa_server.terminate()
        cls_server.terminate()
    run_dir = Path(proc.stdout.strip().splitlines()[-1])
    results = load_results(run_dir)
    jobs = {(j.model, j.task): j for j in results.jobs}
    import numpy as np
    import pandas as pd

    # Answers and labels are identical; scores agree to float32 precision (a request's batch pads differently from a
    # local batch).
    for local, served, task, exact, close in (
        ("local-qa", "served-qa", "squad", ["id", "prediction", "start", "end", "exact", "f1"], ["score"]),
        ("local-cls", "served-cls", "sst2", ["id", "model_label", "correct"], ["confidence"]),
    ):
        a = pd.read_parquet(run_dir / jobs[(local, task)].predictions)
        b = pd.read_parquet(run_dir / jobs[(served, task)].predictions)
        pd.testing.assert_frame_equal(a[exact], b[exact])
        np.testing.assert_allclose(a[close].to_numpy(float), b[close].to_numpy(float), rtol=1e-5, atol=1e-6)
        for name, estimate in jobs[(local, task)].metrics.items():
            assert jobs[(served, task)].metrics[name].value == pytest.approx(estimate.value, rel=1e-5, abs=1e-4), name
        assert jobs[(served, task)].failures.count == 0
    local_bias = pd.read_parquet(run_dir / jobs[("local-qa", "ceo")].predictions)
    served_bias = pd.read_parquet(run_dir / jobs[("served-qa", "ceo")].predictions)
    assert (
        local_bias["answer"].tolist() == served_bias["answer"].tolist()
        and local_bias["chosen"].tolist() == served_bias["chosen"].tolist()
    )
    assert (
        results.models["served-qa"].info["served_model_sha256"]
        == results.models["local-qa"].fingerprint["model_sha256"]
    )
    assert "local-secret" not in (run_dir / "results.json").read_text()
    report = (report_dir(run_dir) / "report.md").read_text()
    assert "Endpoints: request latency, client side" in report


def test_serve_and_runner_options_are_checked_before_anything_loads(tmp_path: Path) -> None:
    custom = cli("serve", "any-model", "--contract", "custom", cwd=tmp_path)
    assert custom.returncode == 2 and "must be one of azureml-qa, hf-inference" in custom.stderr
    unset = cli(
        "serve",
        "any-model",
        "--contract",
        "azureml-qa",
        "--auth-env",
        "AUDITKIT_UNSET_TOKEN",
        cwd=tmp_path,
        env={"AUDITKIT_UNSET_TOKEN": ""},
    )
    assert unset.returncode == 2 and "--auth-env AUDITKIT_UNSET_TOKEN: the variable is not set" in unset.stderr
    suite = endpoint_suite(tmp_path, "http://127.0.0.1:1/score", QUESTIONS)
    local = cli("run", str(suite), "--address", "auto", cwd=tmp_path)
    assert local.returncode == 2 and "--address and --workers apply to --runner ray" in " ".join(local.stderr.split())
