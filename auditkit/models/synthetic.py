"""Build real-architecture models with deterministic weights, entirely offline.

Tests, the offline demo suite and the golden-answer script need models that (a) have the exact
architecture and tokenizer of the published checkpoints, (b) can be built without the Hugging Face
hub, and (c) have *identical* weights under every transformers version we support, so answers
produced by transformers 4.57.6's pipeline can be compared with ours under transformers 5.

The library's own initialisation cannot give (c): it changes between releases. So every parameter
is drawn from its own seeded generator, keyed by the parameter's name, and visited in name order.
The model is then written with ``save_pretrained`` and loaded back through the same code path a hub
id takes.

This module deliberately imports nothing from the rest of auditkit (only torch, transformers and
tokenizers), so the golden-answer script can import it inside a bare transformers 4.57.6 virtualenv.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

CONFIG_DIR = Path(__file__).parent / "configs"

#: Standard deviation of the task heads. Larger than the library's 0.02 so that start/end and class
#: logits are well separated (std ~3); with near-tied logits, answers would hinge on rounding noise.
HEAD_STD = 0.1
BODY_STD = 0.02
HEAD_PREFIXES = ("qa_outputs.", "classifier.", "pre_classifier.")


@dataclass(frozen=True)
class BuildRecipe:
    """What to build: a config (shipped name or path to a config.json), a WordPiece vocabulary and a seed."""

    config: str
    vocab: Path
    seed: int = 0
    lowercase: bool | None = None  # None: lower-case iff the config name says "uncased"
    #: QA models only: tilt the [CLS] embedding towards the answer head so that, as in a SQuAD v2
    #: model, the empty answer sometimes wins (0.14 makes about 60% of SQuAD v2 questions abstain).
    null_bias: float = 0.0

    def config_path(self) -> Path:
        candidate = Path(self.config)
        if candidate.suffix == ".json":
            return candidate
        return CONFIG_DIR / f"{self.config}.json"

    def do_lower_case(self) -> bool:
        if self.lowercase is not None:
            return self.lowercase
        return "uncased" in self.config

    def digest(self) -> str:
        """A short hash of everything that determines the built model's files."""
        h = hashlib.sha256()
        h.update(self.config_path().read_bytes())
        h.update(Path(self.vocab).read_bytes())
        h.update(
            f"seed={self.seed};lower={self.do_lower_case()};null={self.null_bias};head={HEAD_STD};body={BODY_STD};v2".encode()
        )
        return h.hexdigest()[:16]


def _parameter_values(name: str, shape: torch.Size, seed: int) -> torch.Tensor:
    """Deterministic values for one parameter, independent of every other parameter."""
    gen = torch.Generator().manual_seed((seed * 1_000_003 + zlib.crc32(name.encode())) % (2**63))
    noise = torch.randn(shape, generator=gen, dtype=torch.float32)
    leaf = name.rsplit(".", 1)[-1]
    is_norm = "norm" in name.lower()
    if is_norm and leaf == "weight":
        return 1.0 + 0.05 * noise
    if is_norm and leaf == "bias":
        return 0.02 * noise
    std = HEAD_STD if name.startswith(HEAD_PREFIXES) else BODY_STD
    return std * noise


def set_deterministic_weights(model: Any, seed: int) -> None:
    """Overwrite every parameter of ``model`` with seeded values, visiting names in sorted order."""
    params = dict(model.named_parameters())
    with torch.no_grad():
        for name in sorted(params):
            param = params[name]
            param.copy_(_parameter_values(name, param.shape, seed).to(param.dtype))


def add_null_bias(model: Any, cls_token_id: int, amount: float) -> None:
    """Move the [CLS] input embedding ``amount`` along the QA head's (start + end) direction."""
    head = dict(model.named_parameters())["qa_outputs.weight"].detach()
    direction = head.sum(dim=0)
    with torch.no_grad():
        model.get_input_embeddings().weight[cls_token_id] += amount * direction / direction.norm()


def weights_digest(model: Any) -> str:
    """sha256 over all parameters in name order (dtype, shape and raw bytes)."""
    h = hashlib.sha256()
    params = dict(model.named_parameters())
    for name in sorted(params):
        tensor = params[name].detach().to("cpu").contiguous()
        h.update(f"{name}:{tensor.dtype}:{tuple(tensor.shape)};".encode())
        h.update(tensor.view(torch.uint8).numpy().tobytes() if tensor.numel() else b"")
    return h.hexdigest()


def _write_tokenizer(vocab: Path, lowercase: bool, out_dir: Path, max_length: int) -> None:
    """Write a BERT WordPiece tokenizer as tokenizer.json + vocab.txt + tokenizer_config.json.

    Assembled from ``tokenizers`` components the way the hub's BERT ``tokenizer.json`` files are (BERT
    normaliser and pre-tokeniser, WordPiece, [CLS] A [SEP] B [SEP] template), rather than through a
    transformers tokenizer class: transformers 5's ``DistilBertTokenizerFast(vocab_file=...)``
    silently ignores the file and yields an empty vocabulary.
    """
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    tok = Tokenizer(
        models.WordPiece(models.WordPiece.read_file(str(vocab)), unk_token="[UNK]", max_input_chars_per_word=100)
    )
    tok.normalizer = normalizers.BertNormalizer(
        clean_text=True, handle_chinese_chars=True, strip_accents=None, lowercase=lowercase
    )
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tok.decoder = decoders.WordPiece(prefix="##")
    tok.add_special_tokens(specials)
    cls_id, sep_id = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0",
        pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)],
    )
    tok.save(str(out_dir / "tokenizer.json"))
    shutil.copyfile(vocab, out_dir / "vocab.txt")
    special = {
        "unk_token": "[UNK]",
        "sep_token": "[SEP]",
        "pad_token": "[PAD]",
        "cls_token": "[CLS]",
        "mask_token": "[MASK]",
    }
    config = {
        "tokenizer_class": "DistilBertTokenizer",
        "do_lower_case": lowercase,
        "model_max_length": max_length,
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": True,
        **special,
    }
    (out_dir / "tokenizer_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "special_tokens_map.json").write_text(json.dumps(special, indent=2) + "\n")


def build_model(recipe: BuildRecipe, out_dir: Path) -> Path:
    """Build the model described by ``recipe`` into ``out_dir`` (created); return ``out_dir``.

    The directory is written next to its final place and renamed into it, so a concurrent or
    interrupted build never leaves a half-written model that a later run would load.
    """
    from transformers import AutoConfig, AutoModelForQuestionAnswering, AutoModelForSequenceClassification

    config_dict = json.loads(recipe.config_path().read_text())
    architecture = config_dict.get("architectures", [""])[0]
    config = AutoConfig.for_model(**config_dict)
    if architecture.endswith("ForQuestionAnswering"):
        model = AutoModelForQuestionAnswering.from_config(config)
    elif architecture.endswith("ForSequenceClassification"):
        model = AutoModelForSequenceClassification.from_config(config)
    else:
        raise ValueError(f"config {recipe.config_path()} names no supported architecture: {architecture!r}")
    set_deterministic_weights(model, recipe.seed)
    if recipe.null_bias:
        vocab_lines = Path(recipe.vocab).read_text(encoding="utf-8").splitlines()
        add_null_bias(model, vocab_lines.index("[CLS]"), recipe.null_bias)

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    model.save_pretrained(staging)
    max_length = int(config_dict.get("max_position_embeddings", 512))
    _write_tokenizer(Path(recipe.vocab), recipe.do_lower_case(), staging, max_length)
    (staging / "auditkit_build.json").write_text(
        json.dumps(
            {
                "config": recipe.config,
                "seed": recipe.seed,
                "lowercase": recipe.do_lower_case(),
                "null_bias": recipe.null_bias,
                "weights_sha256": weights_digest(model),
            },
            indent=2,
        )
        + "\n"
    )
    if out_dir.exists():
        shutil.rmtree(out_dir)
    staging.rename(out_dir)
    return out_dir
