"""The golden answers of the transformers 4.57.6 QA pipeline, continued: SQuAD v2.0 with abstentions, and short
windows with top-k lists (see ``test_qa_golden.py``; a file of their own so CI's two workers share the work)."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import requires_data
from qa_golden import V2, assert_answers_equal_the_pipeline


@requires_data
@pytest.mark.parametrize("case", V2, ids=[c["name"] for c in V2])
def test_answers_equal_pipeline_4_57_6(case: dict[str, Any]) -> None:
    assert_answers_equal_the_pipeline(case)
