// The engine's errors as Python exceptions. supra::Error is bad input (a file, an argument):
// ValueError with the C++ message. Anything else a std::exception carries stays pybind11's
// mapping (RuntimeError, MemoryError for std::bad_alloc), so nothing reaches Python as a crash.
#include <Python.h>

#include "bindings.h"
#include "supra/error.h"

namespace supra::python {

void raise(PyObject* type, const std::string& message) {
  PyErr_SetString(type, message.c_str());
  throw py::error_already_set();
}

void check_interrupt() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

void register_errors(py::module_&) {
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(PyExc_ValueError, e.what());
    }
  });
}

}  // namespace supra::python
