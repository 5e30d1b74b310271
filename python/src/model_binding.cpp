// supra.Model and supra.Tokenizer: loading a folder, its config and tokenizer, logits of one
// sequence or of a batch.
#include <omp.h>
#include <pybind11/stl.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <mutex>
#include <set>
#include <sstream>

#include "bindings.h"
#include "supra/checkpoint.h"
#include "supra/error.h"

namespace supra::python {
namespace {

namespace fs = std::filesystem;

// Loaded models by folder, for unpickled States (weak: a State keeps its model alive, this
// table does not).
std::mutex g_models_mutex;
std::map<fs::path, std::weak_ptr<LoadedModel>> g_models;

// dtype= accepts HF's and supra's names ("float32", "bf16", torch.bfloat16, np.float16, "q4").
std::optional<DType> parse_dtype(const py::object& dtype) {
  if (dtype.is_none()) return std::nullopt;
  std::string name = py::isinstance<py::str>(dtype) ? dtype.cast<std::string>() : py::str(dtype).cast<std::string>();
  if (name.starts_with("torch.")) name = name.substr(6);
  std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) { return std::tolower(c); });
  static const std::map<std::string, DType> names = {
      {"float32", DType::F32}, {"f32", DType::F32},     {"fp32", DType::F32},   {"float", DType::F32},
      {"bfloat16", DType::BF16}, {"bf16", DType::BF16}, {"float16", DType::F16}, {"f16", DType::F16},
      {"fp16", DType::F16},    {"half", DType::F16},    {"q8_0", DType::Q8_0},  {"q8", DType::Q8_0},
      {"q4_0", DType::Q4_0},   {"q4", DType::Q4_0}};
  if (name == "auto") return std::nullopt;
  const auto it = names.find(name);
  if (it == names.end())
    throw py::value_error("dtype must be None, \"auto\", float32, bfloat16, float16, q8_0 or q4_0, got \"" + name +
                          "\"");
  return it->second;
}

// supra computes with the weights as stored (activations in float32): a dtype that asks for
// another storage is refused rather than silently ignored.
void check_dtype(const fs::path& folder, DType wanted) {
  std::set<std::string> stored;
  const Checkpoint checkpoint = Checkpoint::open_folder(folder);
  for (const std::string& name : checkpoint.names()) {
    const TensorView& t = checkpoint.get(name);
    if (t.shape.size() == 2) stored.insert(std::string(dtype_name(t.dtype)));  // the matrices; norms are vectors
  }
  if (stored.size() == 1 && *stored.begin() == dtype_name(wanted)) return;
  std::string found;
  for (const std::string& s : stored) found += (found.empty() ? "" : "+") + s;
  throw py::value_error("dtype " + std::string(dtype_name(wanted)) + ": the matrices of " + folder.string() +
                        " are stored as " + found + ", and supra computes with the weights as stored; convert "
                        "them with `supra quantize --type`, or pass dtype=None");
}

Mode mode_of(const std::string& name) {
  const auto mode = parse_mode(name);
  if (!mode) throw py::value_error("mode must be \"hybrid\", \"parallel\" or \"recurrent\", got \"" + name + "\"");
  return *mode;
}

// config.json as Python's json module reads it.
py::object config_dict(const LoadedModel& m) {
  std::ifstream in(m.folder / "config.json", std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return py::module_::import("json").attr("loads")(text.str());
}

py::array_t<float> logits(const LoadedModel& m, const py::object& ids_object, PyState* state,
                          const std::string& mode_name) {
  const Mode mode = mode_of(mode_name);
  std::vector<TokenId> ids = to_ids(ids_object, "ids");
  if (ids.empty()) throw py::value_error("ids must hold at least one token");
  if (state) check_state_model(*state, m);
  std::vector<float> out;
  {
    py::gil_scoped_release unlocked;
    m.use_threads();
    if (state) {
      out = m.model.forward(ids, state->state, mode, LogitsWanted::All);
      state->tokens.insert(state->tokens.end(), ids.begin(), ids.end());
    } else {
      State fresh = m.model.new_state();
      out = m.model.forward(ids, fresh, mode, LogitsWanted::All);
    }
  }
  return to_array(std::move(out), {static_cast<py::ssize_t>(ids.size()), m.model.config().vocab_size});
}

// One batched step (Model::forward(Batch&)): each sequence continues its State (a fresh one
// where none is given); one token is a recurrent step, more a parallel block.
py::list logits_batch(const LoadedModel& m, const py::sequence& sequences, const py::object& states_object) {
  std::vector<std::vector<TokenId>> ids;
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    ids.push_back(to_ids(sequences[i], "sequence " + std::to_string(i)));
    if (ids.back().empty()) throw py::value_error("sequence " + std::to_string(i) + " is empty");
  }
  std::vector<PyState*> given(ids.size(), nullptr);
  if (!states_object.is_none()) {
    const auto states = states_object.cast<py::sequence>();
    if (states.size() != ids.size())
      throw py::value_error("states holds " + std::to_string(states.size()) + " entries for " +
                            std::to_string(ids.size()) + " sequences");
    for (std::size_t i = 0; i < ids.size(); ++i)
      if (!states[i].is_none()) {
        given[i] = arg_as<PyState*>(states[i], "states", "supra.State or None entries");
        check_state_model(*given[i], m);
      }
  }
  std::vector<State> fresh(ids.size());
  std::vector<std::vector<float>> out(ids.size());
  {
    py::gil_scoped_release unlocked;
    m.use_threads();
    Batch batch;
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (!given[i]) fresh[i] = m.model.new_state();
      batch.add(ids[i], given[i] ? given[i]->state : fresh[i], LogitsWanted::All);
    }
    m.model.forward(batch);  // checks every entry (ids, states, a State twice) before any work
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::span<const float> row = batch.logits(i);
      out[i].assign(row.begin(), row.end());
      if (given[i]) given[i]->tokens.insert(given[i]->tokens.end(), ids[i].begin(), ids[i].end());
    }
  }
  py::list result;
  for (std::size_t i = 0; i < ids.size(); ++i)
    result.append(to_array(std::move(out[i]), {static_cast<py::ssize_t>(ids[i].size()), m.model.config().vocab_size}));
  return result;
}

}  // namespace

LoadedModel::LoadedModel(fs::path folder_path, Model loaded, std::optional<Tokenizer> tok, int thread_count)
    : folder(std::move(folder_path)),
      model(std::move(loaded)),
      loaded_tokenizer(std::move(tok)),
      defaults(load_generation_defaults(folder)),
      threads(thread_count),
      codec(model) {
  if (defaults.stop_ids.empty() && loaded_tokenizer) defaults.stop_ids = {loaded_tokenizer->eos_id()};
}

const Tokenizer& LoadedModel::tokenizer() const {
  if (!loaded_tokenizer) throw py::value_error(folder.string() + " has no tokenizer.model: only ids can be used");
  return *loaded_tokenizer;
}

// OpenMP's count when the module loaded (OMP_NUM_THREADS, else the cores): what a model loaded
// with threads=None uses, even on a thread where another model set its own count before.
const int g_default_threads = omp_get_max_threads();

void LoadedModel::use_threads() const { omp_set_num_threads(threads > 0 ? threads : g_default_threads); }

ModelRef load_model(const fs::path& path, const py::object& dtype, const py::object& threads_object) {
  std::error_code ec;
  if (!fs::exists(path, ec)) raise(PyExc_FileNotFoundError, "model folder " + path.string() + " not found");
  if (!fs::is_directory(path, ec)) raise(PyExc_NotADirectoryError, path.string() + " is not a model folder");
  if (!fs::exists(path / "config.json", ec))
    raise(PyExc_FileNotFoundError, (path / "config.json").string() + " not found: not a model folder");
  int threads = 0;
  if (!threads_object.is_none()) {
    threads = arg_as<int>(threads_object, "threads", "an int or None");
    if (threads < 1)
      throw py::value_error("threads must be at least 1 (None: every core), got " + std::to_string(threads));
  }
  const std::optional<DType> wanted = parse_dtype(dtype);
  const fs::path folder = fs::weakly_canonical(path);
  ModelRef m;
  {
    py::gil_scoped_release unlocked;
    if (wanted) check_dtype(folder, *wanted);
    std::optional<Tokenizer> tokenizer;
    if (fs::exists(folder / "tokenizer.model", ec)) tokenizer = Tokenizer::load_folder(folder);
    m = std::make_shared<LoadedModel>(folder, Model::load(folder), std::move(tokenizer), threads);
  }
  std::lock_guard lock(g_models_mutex);
  g_models[folder] = m;
  return m;
}

ModelRef model_for_folder(const fs::path& folder) {
  {
    std::lock_guard lock(g_models_mutex);
    const auto it = g_models.find(fs::weakly_canonical(folder));
    if (it != g_models.end())
      if (ModelRef m = it->second.lock()) return m;
  }
  return load_model(folder, py::none(), py::none());
}

void bind_model(py::module_& m) {
  py::class_<Tokenizer>(m, "Tokenizer", "The model folder's SentencePiece tokenizer (HF LlamaTokenizer conventions).")
      .def(
          "encode",
          [](const Tokenizer& t, const std::string& text, bool add_special_tokens) {
            return t.encode(text, add_special_tokens);
          },
          py::arg("text"), py::arg("add_special_tokens") = true,
          "Token ids of `text`: BOS first when the tokenizer adds one (HF tokenizer(text).input_ids); "
          "add_special_tokens=False adds none.")
      .def(
          "decode", [](const Tokenizer& t, const py::object& ids) { return t.decode(to_ids(ids, "ids")); },
          py::arg("ids"), "Text of `ids`, special tokens dropped (HF decode(skip_special_tokens=True)).")
      .def("id_to_piece", &Tokenizer::piece, py::arg("id"), "The SentencePiece piece of one id.")
      .def_property_readonly("bos_token_id", &Tokenizer::bos_id)
      .def_property_readonly(
          "eos_token_id",
          [](const Tokenizer& t) -> py::object {
            return t.eos_id() < 0 ? py::object(py::none()) : py::object(py::int_(t.eos_id()));
          },
          "The first EOS id, or None when the folder defines none.")
      .def_property_readonly("eos_token_ids", &Tokenizer::eos_ids, "Every id that ends generation.")
      .def_property_readonly("vocab_size", &Tokenizer::vocab_size)
      .def("__len__", &Tokenizer::vocab_size);

  py::class_<LoadedModel, ModelRef>(m, "Model", "A model folder loaded for inference (weights memory-mapped).")
      .def_static(
          "from_pretrained",
          [](const py::object& path, const py::object& dtype, const py::object& threads) {
            const auto folder = py::str(py::module_::import("os").attr("fspath")(path)).cast<std::string>();
            return load_model(folder, dtype, threads);
          },
          py::arg("path"), py::kw_only(), py::arg("dtype") = py::none(), py::arg("threads") = py::none(),
          "Loads an HF-layout folder (config.json, model.safetensors / pytorch_model.bin / model.gguf, "
          "tokenizer.model). dtype checks the stored weight type (supra computes with the weights as stored); "
          "threads sets the compute threads of this model's calls (None: every core).")
      .def_property_readonly("config", &config_dict, "config.json as a dict.")
      .def_property_readonly(
          "tokenizer", [](const LoadedModel& self) -> const Tokenizer& { return self.tokenizer(); },
          py::return_value_policy::reference_internal)
      .def_property_readonly("path", [](const LoadedModel& self) { return self.folder.string(); })
      .def_property_readonly("vocab_size", [](const LoadedModel& self) { return self.model.config().vocab_size; })
      .def_property_readonly("threads", [](const LoadedModel& self) -> py::object {
        return self.threads > 0 ? py::object(py::int_(self.threads)) : py::object(py::none());
      })
      .def_property_readonly("weights", [](const LoadedModel& self) { return self.model.weights_description(); },
                             "The weight file(s) and their stored dtype(s).")
      .def(
          "new_state", [](const ModelRef& self) { return PyState{self, self->model.new_state(), {}}; },
          "An empty State (no tokens consumed).")
      .def("logits", &logits, py::arg("ids"), py::arg("state") = py::none(), py::arg("mode") = "hybrid",
           "float32 logits [T, V] of `ids` (list, NumPy array or tensor of ints). With `state`, the ids continue "
           "it and the state advances; without, they start from an empty state. mode: hybrid, parallel or "
           "recurrent (equal to float32 rounding).")
      .def("logits_batch", &logits_batch, py::arg("sequences"), py::arg("states") = py::none(),
           "One batched step over several sequences (one pass over the weights): a list of [T_i, V] arrays. "
           "states: None or one State (or None) per sequence, each advanced in place.")
      .def("__repr__", [](const LoadedModel& self) {
        return "<supra.Model " + self.folder.string() + ": " + self.model.weights_description() + ">";
      });
}

}  // namespace supra::python
