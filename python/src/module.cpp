// supra._supra: the native half of `import supra` (python/supra/__init__.py re-exports it).
#include "bindings.h"

PYBIND11_MODULE(_supra, m) {
  m.doc() = "supra: SUPRA linear-attention language models from Python (docs/PYTHON.md)";
  m.attr("__version__") = SUPRA_PYTHON_VERSION;
  supra::python::register_errors(m);
  supra::python::bind_state(m);  // before Model: its methods take and return States
  supra::python::bind_model(m);
  supra::python::bind_generate(m);
  supra::python::bind_eval(m);
}
