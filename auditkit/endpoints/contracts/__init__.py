"""Registry of endpoint contracts: a new contract is one module here plus one registry entry below."""

from __future__ import annotations

from ...core.registry import Registry
from ...spec.schema import EndpointMapping
from .azureml_qa import AzureMLQA
from .base import (
    ClassificationClient,
    ClassificationServer,
    Contract,
    QAClient,
    QAServer,
    Violation,
    capability,
)
from .custom import Custom
from .hf_inference import HFInference

#: Endpoint contracts by name; another package adds one through an ``auditkit.contracts`` entry point.
CONTRACTS: Registry[type[Contract]] = Registry("endpoint contract", "auditkit.contracts")
for _contract in (AzureMLQA, HFInference, Custom):
    CONTRACTS.add(_contract.name, _contract)


def make_contract(name: str, mapping: EndpointMapping | None = None) -> Contract:
    return CONTRACTS.get(name)(mapping)


__all__ = [
    "CONTRACTS",
    "ClassificationClient",
    "ClassificationServer",
    "Contract",
    "QAClient",
    "QAServer",
    "Violation",
    "capability",
    "make_contract",
]
