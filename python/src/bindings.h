// The pieces the Python module's binding files share: the loaded model that Python objects keep
// alive, a State with the tokens it has consumed, and the conversions between Python values and
// the engine's types.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "supra/generate.h"
#include "supra/model.h"
#include "supra/state_file.h"
#include "supra/tokenizer.h"

namespace supra::python {

namespace py = pybind11;

// A model folder loaded once: the weights, the tokenizer, generation_config.json's defaults and
// the identity its states carry. Python's Model, Tokenizer and States share it.
struct LoadedModel {
  LoadedModel(std::filesystem::path folder, Model model, std::optional<Tokenizer> tokenizer, int threads);

  // The folder's tokenizer; raises ValueError when it has no tokenizer.model (such a folder
  // still computes logits of ids, as `supra logits --ids` does).
  const Tokenizer& tokenizer() const;

  std::filesystem::path folder;
  Model model;
  std::optional<Tokenizer> loaded_tokenizer;
  GenerationOptions defaults;  // generation_config.json; stop ids default to the tokenizer's EOS
  int threads;                 // 0 = OpenMP's default (all cores)
  StateCodec codec;            // state files of this model; its fingerprint is the model's identity

  // OpenMP's thread count belongs to the calling thread: set it before each piece of model work.
  void use_threads() const;
};
using ModelRef = std::shared_ptr<LoadedModel>;

// Loads a model folder (the GIL released while the weights load). Raises FileNotFoundError for
// a missing folder or config.json, ValueError for bad arguments and bad files.
ModelRef load_model(const std::filesystem::path& folder, const py::object& dtype, const py::object& threads);
// The live model of that folder, or a newly loaded one: what an unpickled State attaches to.
ModelRef model_for_folder(const std::filesystem::path& folder);

// supra.State: the engine's State, the tokens it has consumed (position == tokens.size(), as
// the state file requires) and the model it was made by.
struct PyState {
  ModelRef model;
  State state;
  std::vector<TokenId> tokens;
};
// Raises ValueError unless `s` can continue on `model` (same architecture and state shape).
void check_state_model(const PyState& s, const LoadedModel& model);

// Token ids from a list, a tuple, a NumPy array or anything np.asarray takes (a CPU torch
// tensor): shape [T] or HF's [1, T], integer values within int32. Raises TypeError for text or
// non-integer arrays, ValueError for other shapes and values.
std::vector<TokenId> to_ids(const py::handle& ids, const std::string& what);

// An argument's value as T; TypeError naming the argument otherwise (pybind11's own cast
// error would be a RuntimeError without the name).
template <class T>
T arg_as(const py::object& value, const char* name, const char* type) {
  try {
    return value.cast<T>();
  } catch (const py::cast_error&) {
    throw py::type_error(std::string(name) + " must be " + type + ", got " +
                         py::str(py::type::of(value).attr("__name__")).cast<std::string>());
  }
}

// A float32 NumPy array over `values` without copying them (the array owns the vector).
py::array_t<float> to_array(std::vector<float>&& values, std::vector<py::ssize_t> shape);

// Raises the pending KeyboardInterrupt (or other signal error) if the user pressed Ctrl-C.
// Called between tokens from code that runs without the GIL: takes it briefly.
void check_interrupt();

// Raises a Python exception of type `type` with `message` (for FileNotFoundError and friends).
[[noreturn]] void raise(PyObject* type, const std::string& message);

void register_errors(py::module_& m);
void bind_model(py::module_& m);
void bind_state(py::module_& m);
void bind_generate(py::module_& m);
void bind_eval(py::module_& m);

}  // namespace supra::python
