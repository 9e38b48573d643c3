"""Registry of endpoint contracts: a new contract is one module here plus one entry below."""

from __future__ import annotations

from ...schema import EndpointMapping
from .azureml_qa import AzureMLQA
from .base import Contract, Violation
from .custom import Custom
from .hf_inference import HFInference

CONTRACTS: dict[str, type[Contract]] = {c.name: c for c in (AzureMLQA, HFInference, Custom)}


def make_contract(name: str, mapping: EndpointMapping | None = None) -> Contract:
    return CONTRACTS[name](mapping)


__all__ = ["CONTRACTS", "Contract", "Violation", "make_contract"]
