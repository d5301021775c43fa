"""The machine a report was written on: its CPU and the kernels torch chose for it.

simfunc trains its networks in float32. On one machine the same seeds give the same numbers
bit for bit (a rerun, a resumed run, a run on the other executor). Another CPU may not: torch,
oneDNN and MKL pick their kernels by the instruction set they find (AVX2, AVX-512, …) and by
the vendor, and a different kernel adds in a different order. The weights then differ in their
last bits, training amplifies the difference, and every value downstream moves a little; a
verdict whose interval nearly reaches its boundary can change. Reports name the machine so that
two runs' differences can be traced to it (BENCHMARKS.md and the README give an example).
"""

from __future__ import annotations

import functools
import platform
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Machine", "this_machine", "cpu_model"]

_CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Machine:
    """What decides which float kernels a run used."""

    cpu: str
    """The CPU's model name (``/proc/cpuinfo``'s ``model name``; elsewhere what ``platform``
    says), or ``"unknown CPU"``."""
    architecture: str
    """``platform.machine()``: ``x86_64``, ``aarch64``, ``arm64``…"""
    torch: str
    """torch's version, or ``"not installed"``."""
    kernels: str
    """The vectorised kernels torch dispatches to on this CPU
    (``torch.backends.cpu.get_cpu_capability()``: ``AVX512``, ``AVX2``, ``DEFAULT``…)."""

    def describe(self) -> str:
        """One line for a report's header, e.g. ``AMD EPYC (x86_64; torch 2.13.0, AVX512)``."""
        return f"{self.cpu} ({self.architecture}; torch {self.torch}, {self.kernels})"


def cpu_model(cpuinfo: str) -> str | None:
    """The first ``model name`` (x86) or ``Model`` / ``Hardware`` (ARM) of a cpuinfo text."""
    for field in ("model name", "Model", "Hardware"):
        for line in cpuinfo.splitlines():
            name, colon, value = line.partition(":")
            if colon and name.strip() == field and value.strip():
                return " ".join(value.split())
    return None


@functools.lru_cache(maxsize=1)
def this_machine() -> Machine:
    """This process's machine (read once per process)."""
    try:
        cpu = cpu_model(_CPUINFO.read_text(encoding="utf-8", errors="replace"))
    except OSError:  # not Linux
        cpu = None
    cpu = cpu or platform.processor() or "unknown CPU"
    try:
        import torch
    except ImportError:
        return Machine(cpu, platform.machine() or "unknown", "not installed", "n/a")
    return Machine(cpu, platform.machine() or "unknown", torch.__version__.split("+")[0],
                   torch.backends.cpu.get_cpu_capability())
