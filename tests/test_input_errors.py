"""Bad input gets one clear message naming the file, the place and the fix -- never a traceback."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import DATA, cli, cli_in_process, data_owner, requires_data, write_suite

from auditkit.core.errors import DatasetError, SuiteError
from auditkit.data import load_dataset
from auditkit.running.suite import load_suite
from auditkit.spec.schema import DatasetSpec

MODEL = (
    "{name: m, build: {config: distilbert-base-cased-distilled-squad, vocab: $DATA/vocab/bert-base-cased-vocab.txt}}"
)


def suite_error(path: Path) -> str:
    with pytest.raises(SuiteError) as info:
        load_suite(path)
    return str(info.value)


@requires_data
def test_unknown_keys_wrong_types_and_kinds_are_all_reported_with_lines(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path / "typo.yaml",
        """name: typo
models:
  - name: m
    build: {config: distilbert-base-cased-distilled-squad, vocab: $DATA/vocab/bert-base-cased-vocab.txt}
    batch_sise: 8
tasks:
  - name: qa
    kind: extractive_qa
    dataset: {path: $DATA/squad/dev-v1.1.json}
    params:
      doc_stride: many
      max_answr_len: 3
  - name: cls
    kind: clasification
    dataset: {path: x.tsv}
""",
    )
    message = suite_error(path)
    assert str(path) in message
    assert "line 5, column 17: models[0].batch_sise: unknown key 'batch_sise' -- did you mean 'batch_size'?" in message
    assert (
        "line 11, column 19: tasks[0].params.doc_stride: Input should be a valid integer" in message
        and "(got 'many')" in message
    )
    assert "tasks[0].params.max_answr_len: unknown key 'max_answr_len' -- did you mean 'max_answer_len'?" in message
    assert (
        "tasks[1]: unknown task kind 'clasification'; known kinds: bias_probe, classification, extractive_qa, nli"
        in message
    )


def test_yaml_syntax_error_names_line(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("name: x\nmodels: [\n  - a\n")
    message = suite_error(path)
    assert "line 3, column 3: invalid YAML" in message and "fix:" in message


@requires_data
def test_missing_files_and_bad_references(tmp_path: Path) -> None:
    path = write_suite(
        tmp_path / "refs.yaml",
        f"""name: refs
models:
  - {MODEL}
  - name: local
    id: ./no/such/dir
tasks:
  - name: qa
    kind: extractive_qa
    models: [m, ghost]
    dataset: {{path: missing.json}}
""",
    )
    message = suite_error(path)
    assert f"tasks[0].dataset.path: dataset file not found: {tmp_path / 'missing.json'}" in message
    assert "models[1].id: local model directory not found" in message
    path.write_text(
        path.read_text()
        .replace("path: missing.json", f"path: {DATA}/squad/dev-v1.1.json")
        .replace("id: ./no/such/dir", "id: org/model")
    )
    message = suite_error(path)
    assert "tasks[0].models[1]: task 'qa' names unknown model 'ghost'" in message
    assert re.search(r"line \d+, column \d+: tasks\[0\]\.models\[1\]", message)  # the line of the name itself
    assert "line 1, column 1" not in message


def test_environment_variables_expand_with_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "vocab.txt").write_text("[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n")
    (tmp_path / "d.tsv").write_text("sentence\tlabel\nhello\t1\n")
    path = tmp_path / "env.yaml"
    path.write_text("""name: env
models:
  - name: m
    build:
      config: distilbert-base-uncased-finetuned-sst-2-english
      vocab: ${MYDIR:-.}/vocab.txt
tasks:
  - name: t
    kind: classification
    dataset:
      path: ${NEEDED}/d.tsv
""")
    assert "environment variable NEEDED is not set" in suite_error(path)
    monkeypatch.setenv("NEEDED", str(tmp_path))
    suite = load_suite(path).suite
    assert suite.tasks[0].dataset.path == tmp_path / "d.tsv"
    assert suite.models[0].build.vocab == tmp_path / "vocab.txt"


def _spec(path: Path, **extra: object) -> DatasetSpec:
    return DatasetSpec(path=path, **extra)


@pytest.mark.parametrize(
    ("name", "content", "kind", "expected"),
    [
        ("bad.json", '{"data": [{"title": "x", "paragraphs": [', "qa", "line 1, column 41: not valid JSON"),
        (
            "noans.json",
            {
                "data": [
                    {
                        "title": "T",
                        "paragraphs": [{"context": "Alice met Bob.", "qas": [{"id": "q1", "question": "Who?"}]}],
                    }
                ]
            },
            "qa",
            "data[0].paragraphs[0].qas[0] (id q1): missing field 'answers'",
        ),
        (
            "shift.json",
            {
                "data": [
                    {
                        "title": "T",
                        "paragraphs": [
                            {
                                "context": "Alice met Bob.",
                                "qas": [
                                    {"id": "q1", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 3}]}
                                ],
                            }
                        ],
                    }
                ]
            },
            "qa",
            "question 'q1': answer_start 3 does not point at its answer 'Bob' (the context there reads 'ce ')",
        ),
        (
            "dup.json",
            {
                "data": [
                    {
                        "title": "T",
                        "paragraphs": [
                            {
                                "context": "Bob.",
                                "qas": [
                                    {"id": "q", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 0}]},
                                    {"id": "q", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 0}]},
                                ],
                            }
                        ],
                    }
                ]
            },
            "qa",
            "duplicate question id 'q'",
        ),
        (
            "label.tsv",
            "sentence\tlabel\ngood\t1\nbad\t7\n",
            "classification",
            "line 3: label 7 is outside the label set",
        ),
        (
            "cols.tsv",
            "sentence\tlabel\ngood\t1\textra\n",
            "classification",
            "line 2: expected 2 tab-separated columns, found 3",
        ),
        ("header.tsv", "text_a\tgold\nx\t1\n", "classification", "line 2: missing a string 'sentence' or 'text' field"),
        (
            "bad.jsonl",
            '{"text": "ok", "label": 1}\n{"text": "oops", "label": \n',
            "classification",
            "line 2: not valid JSON",
        ),
        ("nolabel.jsonl", '{"text": "ok"}\n', "classification", "line 1: missing field 'label'"),
        (
            "qa.jsonl",
            '{"id": "a", "question": "q?", "context": "ctx", "answers": {"text": ["zz"], "answer_start": [0]}}\n',
            "qa",
            "answer_start 0 does not point at its answer 'zz'",
        ),
        (
            "kind.tsv",
            "sentence\tlabel\ngood\t1\n",
            "qa",
            "line 2 (id 0): missing field 'answers'",
        ),
    ],
)
def test_malformed_dataset_files(tmp_path: Path, name: str, content: object, kind: str, expected: str) -> None:
    path = tmp_path / name
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    with pytest.raises(DatasetError) as info:
        load_dataset(_spec(path), data_owner(kind), name="t")
    message = str(info.value)
    assert expected in message
    assert str(path) in message or name in message


@requires_data
def test_limit_and_sample_are_deterministic() -> None:
    path = DATA / "squad" / "dev-v2.0.json"
    first = load_dataset(_spec(path, limit=5), data_owner("qa"), name="t")
    assert [e.id for e in first.examples] == [
        e.id for e in load_dataset(_spec(path), data_owner("qa"), name="t").examples[:5]
    ]
    a = load_dataset(_spec(path, sample=50), data_owner("qa"), name="t", seed=3)
    b = load_dataset(_spec(path, sample=50), data_owner("qa"), name="t", seed=3)
    c = load_dataset(_spec(path, sample=50), data_owner("qa"), name="t", seed=4)
    assert a.fingerprint == b.fingerprint != c.fingerprint
    assert (
        a.total_available == 11873
        and a.info["squad_version"] == "2.0"
        and a.selection == "random sample of 50 (seed 3)"
    )


def test_hub_dataset_unreachable_is_a_clear_error() -> None:
    with pytest.raises(DatasetError, match="could not load split 'validation' of hub dataset 'no-such/dataset-xyz'"):
        load_dataset(DatasetSpec(hub="no-such/dataset-xyz"), data_owner("qa"), name="t")


@requires_data
def test_cli_exit_code_2_without_traceback(tmp_path: Path) -> None:
    bad = write_suite(
        tmp_path / "bad.yaml",
        f"name: bad\nmodels: [{MODEL}]\ntasks: [{{name: t, kind: extractive_qa, dataset: {{path: nope.json}}}}]\n",
    )
    # The real entry point once (a fresh interpreter); the same app in process for the others.
    for call, command in (
        (cli, ["validate", str(bad)]),
        (cli_in_process, ["run", str(bad), "-q"]),
        (cli_in_process, ["run", str(tmp_path / "absent.yaml")]),
    ):
        proc = call(*command)
        assert proc.returncode == 2, proc.stderr
        assert "error:" in proc.stderr and "Traceback" not in proc.stderr
    proc = cli_in_process(
        "score", "--task", "squad", "--dataset", str(DATA / "squad" / "dev-v1.1.json"), "--predictions", str(bad)
    )
    assert proc.returncode == 2 and "not valid JSON" in proc.stderr and "Traceback" not in proc.stderr


@requires_data
def test_unknown_model_fails_before_any_job_runs(tmp_path: Path) -> None:
    suite = write_suite(
        tmp_path / "s.yaml",
        """name: s
output_dir: out
models:
  - {name: ok, build: {config: distilbert-base-uncased-finetuned-sst-2-english,
                       vocab: $DATA/vocab/bert-base-uncased-vocab.txt}}
  - {name: ghost, id: no-such-org/no-such-model}
tasks: [{name: t, kind: classification, dataset: {path: $DATA/sst2/dev.tsv, limit: 4}}]
""",
    )
    proc = cli("run", str(suite), "-q", cwd=tmp_path)
    assert proc.returncode == 2
    assert "ghost: cannot load model 'no-such-org/no-such-model'" in proc.stderr
    assert not list((tmp_path / "out").rglob("results.json"))


@requires_data
def test_articles_are_selected_by_title(tmp_path: Path) -> None:
    """Held-out articles: the questions of listed titles only, said in the selection; unknown titles are warned of."""
    listed = tmp_path / "held-out.txt"
    listed.write_text("# held out\nSuper_Bowl_50\nWarsaw\nNo_Such_Article\n")
    v1 = DatasetSpec(path=DATA / "squad" / "dev-v1.1.json", articles_file=listed)
    dataset = load_dataset(v1, data_owner("qa"), name="held-out")
    assert {e.title for e in dataset.examples} == {"Super_Bowl_50", "Warsaw"}
    assert dataset.selection.startswith("2 of the data's 48 articles listed in held-out.txt (")
    assert dataset.warnings == ["1 listed article title(s) are not in this data: No_Such_Article"]
    assert dataset.total_available == 10570
    dropped = load_dataset(
        DatasetSpec(path=DATA / "squad" / "dev-v1.1.json", exclude_articles=["Warsaw"], limit=5),
        data_owner("qa"),
        name="d",
    )
    assert "Warsaw" not in {e.title for e in dropped.examples} and len(dropped) == 5
    with pytest.raises(DatasetError, match="keeps no question"):
        load_dataset(
            DatasetSpec(path=DATA / "squad" / "dev-v1.1.json", articles=["Nowhere"]), data_owner("qa"), name="d"
        )
    with pytest.raises(DatasetError, match="applies to examples with article titles"):
        load_dataset(
            DatasetSpec(path=DATA / "sst2" / "dev.tsv", articles=["x"]), data_owner("classification"), name="d"
        )
