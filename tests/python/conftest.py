"""Shared fixtures of the Python module's tests: the repository's data, the shipped model, and
the `supra` command to compare with (SUPRA_CLI, set by ctest; tests that need it skip without)."""
import json
import os
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

import supra

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
SHIPPED = ROOT / "models" / "stories260K-supra"
GOLDEN = DATA / "golden"

_NUMPY_TYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32, "BF16": np.uint16}


def read_safetensors(path):
    """Every tensor of a .safetensors file as a NumPy array (BF16 as raw uint16)."""
    raw = Path(path).read_bytes()
    (header_len,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + header_len])
    body = raw[8 + header_len :]
    tensors = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        tensors[name] = np.frombuffer(body[begin:end], dtype=_NUMPY_TYPES[t["dtype"]]).reshape(t["shape"])
    return tensors


@pytest.fixture(scope="session")
def model():
    return supra.Model.from_pretrained(SHIPPED, threads=2)


@pytest.fixture(scope="session")
def cli():
    """Runs `supra ARGS...`; returns the CompletedProcess (text mode)."""
    path = os.environ.get("SUPRA_CLI")
    if not path or not Path(path).is_file():
        pytest.skip("SUPRA_CLI (the supra command to compare with) is not set; ctest sets it")

    def run(*args, check=True):
        r = subprocess.run([path, *map(str, args)], capture_output=True, text=True, timeout=300)
        if check and r.returncode != 0:
            raise AssertionError(f"supra {' '.join(map(str, args))} failed: {r.stderr}")
        return r

    return run
