"""What the trained-weight benchmarks share: where the shared checkpoints and data are, and the two data sets they
measure on (minilm-squad's held-out SQuAD v1.1 questions, SST-2 dev), read the way a suite reads them."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from auditkit.data import Dataset, load_dataset
from auditkit.spec.schema import DatasetSpec
from auditkit.tasks import task_class

SHARED = Path(__file__).resolve().parents[2] / "shared"


def add_shared_folders(parser: argparse.ArgumentParser) -> None:
    """``--models`` and ``--data``, defaulting like the suites: $AUDITKIT_MODELS / $AUDITKIT_DATA, else ../shared."""
    parser.add_argument("--models", type=Path, default=Path(os.environ.get("AUDITKIT_MODELS", SHARED / "models")))
    parser.add_argument("--data", type=Path, default=Path(os.environ.get("AUDITKIT_DATA", SHARED / "data")))


def squad_file(data: Path) -> Path:
    return data / "squad" / "dev-v1.1.json"


def held_out_file(models: Path) -> Path:
    """The articles minilm-squad never saw in training: the only ones it may be evaluated on."""
    return models / "minilm-squad-held-out.txt"


def held_out_squad(models: Path, data: Path, *, limit: int | None = None, sample: int | None = None) -> Dataset:
    """minilm-squad's held-out SQuAD v1.1 questions: the first ``limit``, or a seeded ``sample``."""
    spec = DatasetSpec(path=squad_file(data), articles_file=held_out_file(models), limit=limit, sample=sample)
    return load_dataset(spec, task_class("extractive_qa"), name="held-out")


def sst2_dev(data: Path) -> Dataset:
    return load_dataset(DatasetSpec(path=data / "sst2" / "dev.tsv"), task_class("classification"), name="sst2")
