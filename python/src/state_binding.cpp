// supra.State: a model's memory of the tokens it has read. Copying forks it; to_bytes is the
// state file format (docs/STATE_FORMAT.md, the server's export and `--prompt-cache`); pickling
// carries the model folder and those bytes.
#include <pybind11/stl.h>

#include "bindings.h"

namespace supra::python {
namespace {

py::bytes to_bytes(const PyState& s) {
  std::string bytes;
  {
    py::gil_scoped_release unlocked;
    bytes = s.model->codec.encode({s.state, s.tokens, {}});
  }
  return py::bytes(bytes);
}

PyState from_bytes(const ModelRef& model, const py::bytes& data) {
  const std::string_view bytes = data;  // valid while `data` lives (the caller's reference)
  SavedState stored;
  try {
    py::gil_scoped_release unlocked;
    stored = model->codec.decode(bytes);
  } catch (const std::exception& e) {
    const bool other = model->codec.from_another_model(bytes);
    throw py::value_error(std::string(other ? "the state belongs to another model: " : "not a state of this model: ") +
                          e.what());
  }
  return PyState{model, std::move(stored.state), std::move(stored.tokens)};
}

}  // namespace

void check_state_model(const PyState& s, const LoadedModel& model) {
  if (s.model.get() == &model) return;
  // Another load of a model of the same architecture (the state file's rule): it fits.
  const int vocab = model.model.config().vocab_size;
  if (s.model->codec.fingerprint() == model.codec.fingerprint() && s.model->model.config().vocab_size == vocab)
    return;
  throw py::value_error("the state belongs to another model (" + s.model->folder.string() + "), not to " +
                        model.folder.string());
}

void bind_state(py::module_& m) {
  py::class_<PyState>(m, "State",
                      "What a model remembers of the tokens it has read: a fixed-size matrix per layer for SUPRA, a KV "
                      "cache for softmax models. Not shared between threads: give each thread its own.")
      .def("copy", [](const PyState& s) { return PyState(s); }, "A fork: an independent State with the same memory.")
      .def("__copy__", [](const PyState& s) { return PyState(s); })
      .def("__deepcopy__", [](const PyState& s, const py::dict&) { return PyState(s); }, py::arg("memo"))
      .def("to_bytes", &to_bytes, "The state file (docs/STATE_FORMAT.md): what `supra generate --prompt-cache` and "
                                  "the server's state export write.")
      .def_static("from_bytes", &from_bytes, py::arg("model"), py::arg("data"),
                  "A State of `model` from state file bytes; ValueError when they are corrupt or of another model.")
      .def_property_readonly("position", [](const PyState& s) { return s.state.position; },
                             "Tokens consumed (the rotary offset of the next token).")
      .def_property_readonly("nbytes", [](const PyState& s) { return s.state.bytes(); },
                             "Bytes of float32 state (fixed for SUPRA, growing with position for a KV cache).")
      .def_property_readonly("tokens", [](const PyState& s) { return s.tokens; }, "Every token id consumed.")
      .def_property_readonly("model", [](const PyState& s) { return s.model; })
      .def("__repr__",
           [](const PyState& s) {
             return "<supra.State position=" + std::to_string(s.state.position) + " nbytes=" +
                    std::to_string(s.state.bytes()) + ">";
           })
      .def(py::pickle(
          [](const PyState& s) { return py::make_tuple(s.model->folder.string(), to_bytes(s)); },
          [](const py::tuple& t) {
            if (t.size() != 2) throw py::value_error("not a pickled supra.State");
            return from_bytes(model_for_folder(t[0].cast<std::string>()), t[1].cast<py::bytes>());
          }));
}

}  // namespace supra::python
