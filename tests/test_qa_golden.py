"""auditkit's QA engine gives the transformers 4.57.6 pipeline's answers, under the installed transformers.

``golden/qa_pipeline_4.57.6.json`` was produced by ``golden/make_qa_golden.py`` running the real
4.57.6 ``pipeline("question-answering")`` (see that script for how to regenerate it). The same
deterministic weights are rebuilt here, loaded through auditkit's model loader, and must reproduce
every answer, character span and top-k list; scores agree to float32 rounding (batching and padding
change the order of floating-point sums, by ~1e-5 relative at most). The SQuAD v2.0 cases are in
``test_qa_golden_v2.py`` (``qa_golden.py`` holds the check both files run).
"""

from __future__ import annotations

from typing import Any

import pytest
from conftest import requires_data
from qa_golden import GOLDEN, V1, V2, assert_answers_equal_the_pipeline


def test_golden_file_covers_required_questions() -> None:
    assert GOLDEN["transformers"] == "4.57.6"
    counts = {c["file"]: 0 for c in GOLDEN["cases"]}
    for case in GOLDEN["cases"]:
        counts[case["file"]] += len(case["answers"])
    assert counts["squad/dev-v1.1.json"] >= 300 and counts["squad/dev-v2.0.json"] >= 300
    v2 = next(c for c in GOLDEN["cases"] if c["params"]["handle_impossible_answer"])
    abstained = sum(a[0]["answer"] == "" for a in v2["answers"].values())
    assert 50 < abstained < len(v2["answers"]) - 50, "the v2 case must exercise both empty and span answers"
    assert {c["name"] for c in GOLDEN["cases"]} == {c["name"] for c in V1 + V2}, "every case runs in one file"


@requires_data
@pytest.mark.parametrize("case", V1, ids=[c["name"] for c in V1])
def test_answers_equal_pipeline_4_57_6(case: dict[str, Any]) -> None:
    assert_answers_equal_the_pipeline(case)
