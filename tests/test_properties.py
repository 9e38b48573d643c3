"""Property-based tests (hypothesis): whatever bytes a suite, a dataset file, a predictions file or a model card
holds, auditkit either reads it or raises one AuditkitError that names the file -- never another exception."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import data_owner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditkit.core.errors import AuditkitError

PROPERTY = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: Text as JSON and YAML escapes can carry it: any characters, and lone surrogates ("\\ud800"), which are none.
texts = st.text(max_size=12) | st.sampled_from(["\ud800", "ok \udfff", "\udc80\ud800"])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(allow_nan=True) | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)

SUITE = {
    "name": "prop",
    "seed": 0,
    "bootstrap": {"resamples": 10},
    "models": [{"name": "m", "id": "org/model"}],
    "tasks": [{"name": "t", "kind": "classification", "dataset": {"path": "data.tsv", "limit": 2}}],
    "gates": ["t.accuracy >= 50"],
}
KEYS = ["name", "seed", "bootstrap", "models", "tasks", "gates", "baseline", "output_dir", "kind", "dataset", "id"]


def mutate(data: Any, path: list[Any], value: Any) -> Any:
    """``data`` with the node at ``path`` (as far as it exists) replaced by ``value``."""
    if not path:
        return value
    head, rest = path[0], path[1:]
    if isinstance(data, dict) and data:
        key = list(data)[head % len(data)]
        return {**data, key: mutate(data[key], rest, value)}
    if isinstance(data, list) and data:
        index = head % len(data)
        return [*data[:index], mutate(data[index], rest, value), *data[index + 1 :]]
    return value


@PROPERTY
@given(
    path=st.lists(st.integers(0, 10), max_size=4),
    value=json_values,
    extra=st.dictionaries(st.sampled_from(KEYS), json_values, max_size=2),
)
def test_any_suite_is_loaded_or_refused_with_a_suite_error(
    tmp_path: Path, path: list[int], value: Any, extra: Any
) -> None:
    from auditkit.running.suite import load_suite

    (tmp_path / "data.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t0\n")
    document = mutate(SUITE, path, value)
    if isinstance(document, dict):
        document = {**document, **extra}
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump(document, allow_unicode=True))
    try:
        load_suite(suite)
    except AuditkitError as exc:
        assert str(suite) in str(exc)


@PROPERTY
@given(text=st.text(max_size=300))
def test_any_text_as_a_suite_is_loaded_or_refused(tmp_path: Path, text: str) -> None:
    from auditkit.running.suite import load_suite

    suite = tmp_path / "suite.yaml"
    suite.write_text(text)
    try:
        load_suite(suite)
    except AuditkitError as exc:
        assert str(suite) in str(exc)


def _squad(paragraph: Any) -> dict[str, Any]:
    return {"version": "1.1", "data": [{"title": "T", "paragraphs": [paragraph]}]}


SQUAD_OK = {
    "context": "Bob ran home.",
    "qas": [{"id": "q", "question": "Who?", "answers": [{"text": "Bob", "answer_start": 0}]}],
}


@PROPERTY
@given(
    fmt=st.sampled_from(["squad", "jsonl", "tsv", "probes"]),
    path=st.lists(st.integers(0, 10), max_size=4),
    value=json_values,
    raw=st.one_of(st.none(), st.text(max_size=200)),
)
def test_any_dataset_file_is_read_or_refused_with_a_dataset_error(
    tmp_path: Path, fmt: str, path: list[int], value: Any, raw: str | None
) -> None:
    from auditkit.data import load_dataset
    from auditkit.spec.schema import DatasetSpec

    kind = {"squad": "qa", "jsonl": "classification", "tsv": "classification", "probes": "probe"}[fmt]
    suffix = {"squad": ".json", "jsonl": ".jsonl", "tsv": ".tsv", "probes": ".yaml"}[fmt]
    file = tmp_path / f"data{suffix}"
    if raw is not None:
        file.write_text(raw)
    elif fmt == "squad":
        file.write_text(json.dumps(mutate(_squad(SQUAD_OK), path, value)))
    elif fmt == "jsonl":
        records = mutate([{"text": "good", "label": 1}, {"text": "bad", "label": 0}], path, value)
        lines = records if isinstance(records, list) else [records]
        file.write_text("\n".join(json.dumps(r) for r in lines))
    elif fmt == "tsv":
        file.write_text(f"sentence\tlabel\n{json.dumps(value)}\t1\n")
    else:
        probes = {
            "name": "p",
            "kind": "classification",
            "description": "d",
            "source": "s",
            "intent": "i",
            "groups": {"a": ["Ann"], "b": ["Bob"]},
            "templates": [{"id": "t", "text": "{name} is {attribute}."}],
            "attributes": ["kind"],
        }
        file.write_text(yaml.safe_dump(mutate(probes, path, value)))
    try:
        dataset = load_dataset(DatasetSpec(path=file), data_owner(kind), name="d")
    except AuditkitError as exc:
        assert str(file) in str(exc)
    else:
        assert len(dataset) > 0 and len(dataset.fingerprint) == 64


@PROPERTY
@given(predictions=json_values, na_probs=st.one_of(st.none(), json_values))
def test_any_predictions_file_is_scored_or_refused(tmp_path: Path, predictions: Any, na_probs: Any) -> None:
    from auditkit.running.score_file import score_predictions

    dataset = tmp_path / "dev.json"
    dataset.write_text(json.dumps(_squad(SQUAD_OK)))
    preds = tmp_path / "preds.json"
    preds.write_text(json.dumps(predictions if not isinstance(predictions, dict) else {"q": "Bob", **predictions}))
    probs = None
    if na_probs is not None:
        probs = tmp_path / "na.json"
        probs.write_text(json.dumps(na_probs))
    try:
        report = score_predictions("squad_v2", dataset, preds, na_probs=probs, resamples=10)
    except AuditkitError as exc:
        assert str(tmp_path) in str(exc)
    else:
        assert 0.0 <= report["metrics"]["f1"]["value"] <= 100.0


@PROPERTY
@given(
    front=st.one_of(st.none(), json_values.map(lambda v: yaml.safe_dump(v, allow_unicode=True)), st.text(max_size=80)),
    body=st.lists(
        st.one_of(
            st.text(max_size=60),
            st.sampled_from(
                ["## Evaluation", "# Card", "```python", "```", "It reaches an F1 score of 87.1 on SQuAD."]
            ),
        ),
        max_size=12,
    ),
)
def test_any_model_card_is_audited_or_refused(tmp_path: Path, front: str | None, body: list[str]) -> None:
    from auditkit.audit import audit_card

    card = tmp_path / "README.md"
    card.write_text(("---\n" + front + "\n---\n" if front is not None else "") + "\n".join(body))
    try:
        audit = audit_card(card, rerun=False)
    except AuditkitError as exc:
        assert "README.md" in str(exc)
    else:
        assert set(audit["summary"]) >= {"claims_failed", "inconsistencies", "missing_sections"}


@pytest.mark.parametrize("bad", ["\udcff", "\x00"])
def test_undecodable_suite_bytes_are_refused(tmp_path: Path, bad: str) -> None:
    from auditkit.running.suite import load_suite

    suite = tmp_path / "suite.yaml"
    suite.write_bytes(b"name: \xff\xfe\n" if bad == "\udcff" else b"name: a\x00b\n")
    with pytest.raises(AuditkitError):
        load_suite(suite)
