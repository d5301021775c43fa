"""The machine a report names: its CPU's model and the kernels torch dispatches to."""

from __future__ import annotations

import pytest

from simfunc.machine import Machine, cpu_model, this_machine

X86 = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC  9R14
flags\t\t: fpu vme avx512f
processor\t: 1
model name\t: AMD EPYC  9R14
"""
ARM = """processor\t: 0
BogoMIPS\t: 50.00
Features\t: fp asimd
CPU implementer\t: 0x41

Hardware\t: BCM2835
Model\t\t: Raspberry Pi 4 Model B Rev 1.4
"""


@pytest.mark.parametrize("text, expected", [
    (X86, "AMD EPYC 9R14"),  # the first processor's, whitespace collapsed
    (ARM, "Raspberry Pi 4 Model B Rev 1.4"),  # "Model" before "Hardware"
    ("Hardware\t: BCM2835\n", "BCM2835"),
    ("processor\t: 0\nmodel name\t:\n", None),  # empty values are not a name
    ("", None),
])
def test_the_cpu_model_is_read_from_cpuinfo(text, expected):
    assert cpu_model(text) == expected


def test_this_machine_names_the_kernels_torch_uses_here():
    import torch

    machine = this_machine()
    assert machine.kernels == torch.backends.cpu.get_cpu_capability()
    assert machine.torch == torch.__version__.split("+")[0]
    assert machine.cpu and machine.architecture
    assert this_machine() is machine  # read once per process


def test_the_description_is_one_line_with_every_field():
    machine = Machine("AMD EPYC 9R14", "x86_64", "2.13.0", "AVX512")
    assert machine.describe() == "AMD EPYC 9R14 (x86_64; torch 2.13.0, AVX512)"
