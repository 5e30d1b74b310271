"""`pip install .` at the repository root: builds supra._supra (python/) with the repository's CMake build: only the extension's target and the
engine libraries it links, in its own build folder (build-python/ at the repository root,
ccache used when installed), or in an existing build folder named by SUPRA_BUILD_DIR (one
configured with -DSUPRA_PYTHON=ON, e.g. the test suite's; relative to the repository root),
whose libraries are then reused."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name: str) -> None:
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext: Extension) -> None:
        # A relative SUPRA_BUILD_DIR is taken from the repository root.
        build_dir = (ROOT / os.environ.get("SUPRA_BUILD_DIR", "build-python")).resolve()
        cache = build_dir / "CMakeCache.txt"
        configure = ["cmake", "-S", str(ROOT), "-B", str(build_dir), "-DSUPRA_PYTHON=ON"]
        if not cache.exists():
            configure += [
                "-DCMAKE_BUILD_TYPE=Release",
                "-DSUPRA_BUILD_TESTS=OFF",
                f"-DPython3_EXECUTABLE={sys.executable}",
            ]
            if shutil.which("ninja"):
                configure += ["-G", "Ninja"]
            if shutil.which("ccache"):
                configure += ["-DCMAKE_CXX_COMPILER_LAUNCHER=ccache", "-DCMAKE_C_COMPILER_LAUNCHER=ccache"]
        # A folder already configured for the module is only built (its libraries reused).
        if not cache.exists() or "SUPRA_PYTHON:STRING=ON" not in cache.read_text(errors="replace"):
            subprocess.run(configure, check=True)
        jobs = os.environ.get("CMAKE_BUILD_PARALLEL_LEVEL") or str(os.cpu_count() or 1)
        subprocess.run(["cmake", "--build", str(build_dir), "--target", "supra_python", "-j", jobs], check=True)
        built = list((build_dir / "python" / "supra").glob("_supra*.so"))
        if len(built) != 1:
            raise RuntimeError(f"expected one _supra*.so in {build_dir}/python/supra, found {len(built)}")
        target = Path(self.get_ext_fullpath(ext.name))
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[0], target)


# setuptools' own scratch goes under build-python/ too: build/ is the CMake build of scripts/.
setup(
    ext_modules=[CMakeExtension("supra._supra")],
    cmdclass={"build_ext": CMakeBuild},
    options={"build": {"build_base": str(ROOT / "build-python" / "setuptools")}},
)
