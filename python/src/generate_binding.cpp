// Model.generate and Model.stream: HF `generate` semantics (defaults from
// generation_config.json, sampling only with do_sample) over one token loop that mirrors
// supra::generate (src/generate/generator.cpp) step for step, so that a seed gives the tokens
// of `supra generate` with the same flags. The loop is ours rather than supra::generate's so
// that a stream can hand each token back to Python, and Ctrl-C can stop it between tokens.
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>
#include <random>

#include "bindings.h"
#include "supra/stop_strings.h"
#include "supra/error.h"
#include "supra/sampler.h"

namespace supra::python {
namespace {

struct GenerationOutput {
  std::string text;                // the continuation, cut before a stop string
  std::vector<TokenId> ids;        // the new tokens, a final EOS included
  std::vector<TokenId> prompt_ids;
  std::string finish_reason;       // "eos", "stop" (a stop string), "length"
  std::uint64_t seed = 0;
};

// The HF arguments of generate() over the folder's defaults.
struct GenerateArgs {
  py::object prompt, max_new_tokens, temperature, top_k, top_p, min_p, repetition_penalty, do_sample, seed, stop;
  PyState* state = nullptr;
  std::string mode;
};

// The seed of a run: the one given, or (None, -1) a fresh 53-bit one, as `supra generate`.
std::uint64_t seed_of(const py::object& seed) {
  if (!seed.is_none() && arg_as<long long>(seed, "seed", "an int") != -1) {
    const long long s = seed.cast<long long>();
    if (s < 0) throw py::value_error("seed must be a non-negative integer, or None / -1 for a random one");
    return static_cast<std::uint64_t>(s);
  }
  std::random_device entropy;
  return ((std::uint64_t{entropy()} << 32) | entropy()) & ((std::uint64_t{1} << 53) - 1);
}

std::vector<std::string> stops_of(const py::object& stop) {
  std::vector<std::string> stops;
  if (stop.is_none()) return stops;
  if (py::isinstance<py::str>(stop))
    stops.push_back(stop.cast<std::string>());
  else
    stops = arg_as<std::vector<std::string>>(stop, "stop", "a string or a list of strings");
  for (const std::string& s : stops)
    if (s.empty()) throw py::value_error("stop strings must not be empty");
  return stops;
}

GenerationOptions options_of(const LoadedModel& m, const GenerateArgs& a) {
  GenerationOptions o = m.defaults;
  const auto mode = parse_mode(a.mode);
  if (!mode) throw py::value_error("mode must be \"hybrid\", \"parallel\" or \"recurrent\", got \"" + a.mode + "\"");
  o.mode = *mode;
  if (!a.max_new_tokens.is_none()) {
    o.max_new_tokens = arg_as<int>(a.max_new_tokens, "max_new_tokens", "an int");
    if (o.max_new_tokens < 0) throw py::value_error("max_new_tokens must not be negative");
  }
  // HF: do_sample (given, else generation_config.json's) decides; the warpers apply only then.
  const bool sample =
      a.do_sample.is_none() ? o.sampling.temperature > 0 : arg_as<bool>(a.do_sample, "do_sample", "a bool");
  if (!a.repetition_penalty.is_none())
    o.sampling.repetition_penalty = arg_as<float>(a.repetition_penalty, "repetition_penalty", "a float");
  if (sample) {
    if (o.sampling.temperature <= 0) o.sampling.temperature = 1.0f;  // HF's default temperature
    if (!a.temperature.is_none()) o.sampling.temperature = arg_as<float>(a.temperature, "temperature", "a float");
    if (!(o.sampling.temperature > 0))
      throw py::value_error("temperature must be positive when sampling (do_sample=False decodes greedily)");
    if (!a.top_k.is_none()) o.sampling.top_k = arg_as<int>(a.top_k, "top_k", "an int");
    if (!a.top_p.is_none()) o.sampling.top_p = arg_as<float>(a.top_p, "top_p", "a float");
    if (!a.min_p.is_none()) o.sampling.min_p = arg_as<float>(a.min_p, "min_p", "a float");
  } else {
    o.sampling.temperature = 0;
    if (!a.temperature.is_none() || !a.top_k.is_none() || !a.top_p.is_none() || !a.min_p.is_none())
      if (PyErr_WarnEx(PyExc_UserWarning,
                       "do_sample is False (generation_config.json samples only with do_sample): temperature, "
                       "top_k, top_p and min_p have no effect; pass do_sample=True to sample",
                       1) < 0)
        throw py::error_already_set();  // warnings turned into errors (python -W error)
  }
  try {
    o.sampling.validate();
  } catch (const Error& e) {
    // The engine names the command line's flag ("--top-p must be ..."); name the argument instead.
    std::string message = e.what();
    if (message.starts_with("--")) {
      const std::size_t end = std::min(message.find(' '), message.size());
      std::string name = message.substr(2, end - 2);
      std::replace(name.begin(), name.end(), '-', '_');
      message = name + message.substr(end);
    }
    throw py::value_error(message);
  }
  o.sampling.seed = seed_of(a.seed);
  return o;
}

// The prompt's ids: text is tokenized (BOS first unless it continues a non-empty state; ""
// is BOS alone, as `supra generate`), ids are taken as they are.
std::vector<TokenId> prompt_of(const LoadedModel& m, const GenerateArgs& a) {
  const bool fresh = a.state == nullptr || a.state->tokens.empty();
  if (py::isinstance<py::str>(a.prompt)) {
    std::vector<TokenId> ids = m.tokenizer().encode(a.prompt.cast<std::string>(), fresh);
    if (ids.empty() && fresh) ids = {m.tokenizer().bos_id()};
    if (ids.empty()) throw py::value_error("the prompt gives no tokens to continue the state with");
    return ids;
  }
  std::vector<TokenId> ids = to_ids(a.prompt, "prompt");
  if (ids.empty()) throw py::value_error("the prompt ids must hold at least one token");
  return ids;
}

// One generation, advanced a token at a time. step() runs without the GIL.
class Generation {
 public:
  Generation(ModelRef model, const GenerateArgs& args)
      : model_(std::move(model)),
        options_(options_of(*model_, args)),
        stops_(stops_of(args.stop)),
        user_state_(args.state),
        streamer_(model_->tokenizer()) {
    if (user_state_) check_state_model(*user_state_, *model_);
    output_.prompt_ids = prompt_of(*model_, args);
    output_.seed = options_.sampling.seed;
    sampler_.emplace(options_.sampling);
    state_ = user_state_ ? user_state_->state : model_->model.new_state();
    sequence_ = user_state_ ? user_state_->tokens : std::vector<TokenId>{};
    sequence_.insert(sequence_.end(), output_.prompt_ids.begin(), output_.prompt_ids.end());
    for (TokenId id : sequence_) streamer_.push(id);  // the text so far, so the continuation's spacing is right
  }

  bool done() const { return done_; }
  const GenerationOutput& output() const { return output_; }

  // Chooses the next token (reading the prompt first); returns the text that became printable.
  std::string step() {
    model_->use_threads();
    if (!started_) {
      started_ = true;
      const Mode prefill = options_.mode == Mode::Hybrid ? Mode::Parallel : options_.mode;
      logits_ = model_->model.forward(output_.prompt_ids, state_, prefill);
      if (options_.max_new_tokens == 0) return finish("length");
    } else {
      advance(output_.ids.back());
    }
    const TokenId next = sampler_->sample(logits_, sequence_);
    sequence_.push_back(next);
    output_.ids.push_back(next);
    const bool eos = std::find(options_.stop_ids.begin(), options_.stop_ids.end(), next) != options_.stop_ids.end();
    std::string text = eos ? std::string() : stops_.push(streamer_.push(next));
    output_.text += text;
    if (stops_.stopped()) return text + finish("stop");
    if (eos) return text + finish("eos");
    if (output_.ids.size() == static_cast<std::size_t>(options_.max_new_tokens)) return text + finish("length");
    return text;
  }

 private:
  // Feeds the last chosen token: a recurrent step, or (parallel mode) the whole sequence again.
  void advance(TokenId last) {
    if (options_.mode == Mode::Parallel) {
      state_ = model_->model.new_state();
      logits_ = model_->model.forward(sequence_, state_, Mode::Parallel);
      return;
    }
    batch_.clear();
    batch_.add(std::span(&last, 1), state_);
    model_->model.forward(batch_);
    const std::span<const float> row = batch_.logits(0);
    logits_.assign(row.begin(), row.end());
  }

  std::string finish(const char* reason) {
    done_ = true;
    output_.finish_reason = reason;
    std::string tail = stops_.push(streamer_.flush()) + stops_.finish();
    if (user_state_) {  // the caller's state goes on after every token, the last one included
      if (!output_.ids.empty()) {
        if (options_.mode == Mode::Parallel) {
          state_ = model_->model.new_state();
          model_->model.forward(sequence_, state_, Mode::Parallel, LogitsWanted::None);
        } else {
          model_->model.forward(std::span(&output_.ids.back(), 1), state_, Mode::Recurrent, LogitsWanted::None);
        }
      }
      user_state_->state = std::move(state_);
      user_state_->tokens = sequence_;
    }
    output_.text += tail;
    return tail;
  }

  ModelRef model_;
  GenerationOptions options_;
  StopMatcher stops_;
  PyState* user_state_;  // kept alive by the Python caller (generate) or the stream's reference
  TextStreamer streamer_;
  std::optional<Sampler> sampler_;
  State state_;
  std::vector<TokenId> sequence_;  // every token so far: the repetition penalty's history
  std::vector<float> logits_;
  Batch batch_;
  GenerationOutput output_;
  bool started_ = false;
  bool done_ = false;
};

GenerateArgs args_of(py::object prompt, py::object max_new_tokens, py::object temperature, py::object top_k,
                     py::object top_p, py::object min_p, py::object repetition_penalty, py::object do_sample,
                     py::object seed, py::object stop, PyState* state, std::string mode) {
  return GenerateArgs{std::move(prompt), std::move(max_new_tokens), std::move(temperature), std::move(top_k),
                      std::move(top_p), std::move(min_p), std::move(repetition_penalty), std::move(do_sample),
                      std::move(seed), std::move(stop), state, std::move(mode)};
}

GenerationOutput generate(const ModelRef& model, const GenerateArgs& args) {
  Generation g(model, args);
  {
    py::gil_scoped_release unlocked;
    while (!g.done()) {
      g.step();
      if (!g.done()) check_interrupt();  // Ctrl-C between tokens
    }
  }
  return g.output();
}

// The iterator of Model.stream: yields text chunks; .output holds the result once it ends.
struct TextStream {
  Generation generation;
  py::object state_ref;  // keeps the caller's State alive while the stream lives

  std::string next() {
    while (!generation.done()) {
      std::string text;
      {
        py::gil_scoped_release unlocked;
        text = generation.step();
      }
      if (!text.empty()) return text;
    }
    throw py::stop_iteration();
  }
};

#define SUPRA_GENERATE_ARGS                                                                                       \
  py::arg("prompt"), py::kw_only(), py::arg("max_new_tokens") = py::none(), py::arg("temperature") = py::none(), \
      py::arg("top_k") = py::none(), py::arg("top_p") = py::none(), py::arg("min_p") = py::none(),              \
      py::arg("repetition_penalty") = py::none(), py::arg("do_sample") = py::none(), py::arg("seed") = py::none(), \
      py::arg("stop") = py::none(), py::arg("state") = py::none(), py::arg("mode") = "hybrid"

}  // namespace

void bind_generate(py::module_& m) {
  py::class_<GenerationOutput>(m, "GenerationOutput", "The result of Model.generate.")
      .def_readonly("text", &GenerationOutput::text, "The continuation (cut before a stop string).")
      .def_readonly("ids", &GenerationOutput::ids, "The new token ids (a final EOS included).")
      .def_readonly("prompt_ids", &GenerationOutput::prompt_ids)
      .def_readonly("finish_reason", &GenerationOutput::finish_reason, "\"eos\", \"stop\" or \"length\".")
      .def_readonly("seed", &GenerationOutput::seed, "The sampling seed (drawn at random when none was given).")
      .def("__repr__", [](const GenerationOutput& o) {
        return "<supra.GenerationOutput " + std::to_string(o.ids.size()) + " tokens, finish_reason=" + o.finish_reason +
               ">";
      });

  py::class_<TextStream>(m, "TextStream", "Iterator over the text chunks of a generation (Model.stream).")
      .def("__iter__", [](TextStream& s) -> TextStream& { return s; })
      .def("__next__", &TextStream::next)
      .def_property_readonly(
          "output", [](const TextStream& s) -> py::object {
            return s.generation.done() ? py::cast(s.generation.output()) : py::none();
          },
          "The GenerationOutput once the stream has ended, else None.");

  auto cls = py::reinterpret_borrow<py::class_<LoadedModel, ModelRef>>(m.attr("Model"));
  cls.def(
      "generate",
      [](const ModelRef& self, py::object prompt, py::object max_new_tokens, py::object temperature, py::object top_k,
         py::object top_p, py::object min_p, py::object repetition_penalty, py::object do_sample, py::object seed,
         py::object stop, PyState* state, std::string mode) {
        return generate(self, args_of(prompt, max_new_tokens, temperature, top_k, top_p, min_p, repetition_penalty,
                                      do_sample, seed, stop, state, mode));
      },
      SUPRA_GENERATE_ARGS,
      "Generates after `prompt` (text, or ids) with HF generate's semantics: defaults from generation_config.json, "
      "sampling only with do_sample (then temperature, top_k, top_p, min_p), repetition_penalty always; stops at "
      "EOS, after max_new_tokens, or before a `stop` string. With `state`, the prompt continues it and the state "
      "advances through every new token. Ctrl-C stops it between tokens.");
  cls.def(
      "stream",
      [](const ModelRef& self, py::object prompt, py::object max_new_tokens, py::object temperature, py::object top_k,
         py::object top_p, py::object min_p, py::object repetition_penalty, py::object do_sample, py::object seed,
         py::object stop, py::object state, std::string mode) {
        PyState* s = state.is_none() ? nullptr : arg_as<PyState*>(state, "state", "a supra.State");
        return TextStream{Generation(self, args_of(prompt, max_new_tokens, temperature, top_k, top_p, min_p,
                                                   repetition_penalty, do_sample, seed, stop, s, mode)),
                          state};
      },
      SUPRA_GENERATE_ARGS, "generate() as an iterator of text chunks, each yielded as soon as it is printable.");
}

}  // namespace supra::python
