"""What machine and software a run used: versions that can change a figure, and CPU features that choose a fast mode."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from pathlib import Path

from .model import Environment

#: CPU flags that decide which reduced-precision kernels are native (bf16 needs AVX512_BF16 or AMX).
_INTERESTING_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx512_bf16", "amx_bf16", "amx_int8", "amx_tile")


def cpu_features() -> list[str]:
    """The CPU's vector-extension flags that matter for inference speed, read from /proc/cpuinfo (Linux)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return []
    flags: set[str] = set()
    for line in text.splitlines():
        if line.startswith(("flags", "Features")):
            flags.update(line.split(":", 1)[1].split())
            break
    return [flag for flag in _INTERESTING_FLAGS if flag in flags]


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def environment() -> Environment:
    """Versions of everything that can change a figure, and the hardware it ran on."""
    import torch

    cuda = torch.cuda.is_available()
    return Environment(
        python=sys.version.split()[0],
        platform=platform.platform(),
        machine=platform.machine(),
        cpu_count=os.cpu_count(),
        cpu_features=cpu_features(),
        torch_threads=torch.get_num_threads(),
        packages={
            p: _version(p)
            for p in ("auditkit", "torch", "transformers", "tokenizers", "datasets", "numpy", "pandas", "pydantic")
        },
        cuda=torch.version.cuda if cuda else None,
        gpu=torch.cuda.get_device_name(0) if cuda else None,
    )
