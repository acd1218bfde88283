"""Which onnxruntime execution providers to ask for.

The `onnxruntime-gpu` wheel always lists CUDA as available, even on machines with no
GPU or driver; asking for it there makes ORT log errors and fall back. So probe the
driver first (libcuda loads, `cuInit` succeeds, at least one device), and only then
request CUDA. The session's own `get_providers()` is the final word on what runs.
"""

from __future__ import annotations

import ctypes
import functools

import onnxruntime as ort

CPU = "CPUExecutionProvider"
CUDA = "CUDAExecutionProvider"


@functools.cache
def cuda_device_count() -> int:
    """Usable CUDA devices according to the driver; 0 when there is no driver."""
    if CUDA not in ort.get_available_providers():
        return 0
    try:
        libcuda = ctypes.CDLL("libcuda.so.1")
    except OSError:
        return 0
    if libcuda.cuInit(0) != 0:
        return 0
    count = ctypes.c_int(0)
    if libcuda.cuDeviceGetCount(ctypes.byref(count)) != 0:
        return 0
    return count.value


def choose_providers(*, prefer_gpu: bool) -> list[str]:
    if prefer_gpu and cuda_device_count() > 0:
        return [CUDA, CPU]
    return [CPU]
