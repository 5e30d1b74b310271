"""`pip install .` into a fresh virtual environment (--system-site-packages: Debian's numpy,
setuptools and wheel), offline (--no-index, --no-build-isolation), then `import supra` there.
The install reuses the build folder the tests run from (SUPRA_BUILD_DIR, set by ctest)."""
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import ROOT, SHIPPED

SMOKE = textwrap.dedent(f"""
    import sys, supra
    assert supra.__file__.startswith(sys.prefix), supra.__file__
    model = supra.Model.from_pretrained({str(SHIPPED)!r}, threads=1)
    assert model.logits([1, 2, 3]).shape == (3, model.vocab_size)
    out = model.generate("Once upon a time", max_new_tokens=8)
    assert len(out.ids) > 0 and out.text
    print("ok", supra.__version__)
""")


def test_pip_install_into_a_fresh_venv_works_offline(tmp_path):
    build_dir = os.environ.get("SUPRA_BUILD_DIR")
    if not build_dir:
        pytest.skip("SUPRA_BUILD_DIR (a build folder configured with -DSUPRA_PYTHON=ON) is not set; ctest sets it")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}  # only what the venv has
    env.update(SUPRA_BUILD_DIR=str(ROOT / build_dir), PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1")
    install = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-build-isolation", "--no-index", str(ROOT)],
        capture_output=True, text=True, env=env, timeout=900,
    )
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    smoke = subprocess.run([str(python), "-c", SMOKE], capture_output=True, text=True, env=env, cwd=tmp_path,
                           timeout=300)
    assert smoke.returncode == 0, smoke.stderr
    assert smoke.stdout.startswith("ok ")
