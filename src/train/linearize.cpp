#include "train/linearize.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <nlohmann/json.hpp>

#include "supra/error.h"
#include "io/model_folder.h"
#include "model/tensor_table.h"
#include "train/random.h"
#include "train/scratch_init.h"

namespace supra::train {
namespace {

// Where each weight of the teacher lives, by (layer, role), under its own naming: a row block
// of a stored tensor. A tied teacher without a stored head reads the embedding for it.
class TeacherTensors {
 public:
  TeacherTensors(const ModelConfig& c, const Checkpoint& w) : w_(w) {
    const TensorNaming naming = naming_for(c, false);
    prefix_ = stored_prefix(naming, [&](const std::string& name) { return w.has(name); });
    table_ = tensor_table(c, naming);
    for (std::size_t i = 0; i < table_.size(); ++i) {
      const TensorEntry& e = table_[i];
      if (e.optional && !w.has(prefix_ + e.name)) continue;
      std::int64_t row = 0;
      for (const TensorPart& p : e.parts) {
        where_[{e.layer, p.role}] = Rows{i, row, p.rows};
        if (p.has_alias) where_[{e.layer, p.alias}] = Rows{i, row, p.rows};
        row += p.rows;
      }
    }
  }

  bool has(int layer, TensorRole role) const { return where_.count({layer, role}) != 0; }

  // The teacher's values of `role` in `layer`, float32, row-major.
  std::vector<float> get(int layer, TensorRole role) {
    const Rows& r = where_.at({layer, role});
    const TensorEntry& e = table_[r.entry];
    const std::string name = prefix_ + e.name;
    if (name != cached_name_) {
      const TensorView& t = w_.get(name);
      if (t.shape != e.shape())
        throw Error(w_.describe() + ": teacher tensor " + name + " has shape " + t.shape_string() + ", expected " +
                    shape_string(e.shape()));
      cached_ = to_f32(t);
      cached_name_ = name;
    }
    const std::int64_t width = e.is_vector() ? 1 : e.cols;
    return {cached_.begin() + r.row0 * width, cached_.begin() + (r.row0 + r.rows) * width};
  }

 private:
  struct Rows {
    std::size_t entry;  // in table_
    std::int64_t row0, rows;
  };
  const Checkpoint& w_;
  std::string prefix_;
  std::vector<TensorEntry> table_;
  std::map<std::pair<int, TensorRole>, Rows> where_;
  std::string cached_name_;  // the last tensor read: fused ones are read once for all their parts
  std::vector<float> cached_;
};

// nn.Linear's default: kaiming_uniform_(a=√5) on the weight gives bound 1/√fan_in, and the
// bias uses the same bound.
void init_linear(Parameter& p, std::int64_t fan_in, SplitMix64& rng) {
  const float bound = 1.0f / std::sqrt(static_cast<float>(fan_in));
  for (float& x : p.data) x = rng.uniform(-bound, bound);
}

// The shortest decimal that reads back as the same float: 1e-05, not 9.999999747378752e-06.
double shortest_decimal(float value) {
  for (int digits = 1; digits < 9; ++digits) {
    char text[32];
    std::snprintf(text, sizeof text, "%.*g", digits, static_cast<double>(value));
    const double parsed = std::strtod(text, nullptr);
    if (static_cast<float>(parsed) == value) return parsed;
  }
  return static_cast<double>(value);
}

}  // namespace

ModelConfig linear_config_for(const ModelConfig& teacher) {
  if (teacher.attention == AttentionKind::Linear) throw Error("the model is already a SUPRA linear-attention model");
  if (teacher.head_dim * teacher.n_heads != teacher.dim)
    throw Error("cannot linearise: head_dim " + std::to_string(teacher.head_dim) + " is not dim / n_heads (" +
                std::to_string(teacher.dim) + " / " + std::to_string(teacher.n_heads) +
                "); SUPRA projects q and k with D/H channels per head");
  ModelConfig c = teacher;
  c.format = ConfigFormat::OpenLM;
  c.model_type = "openlm";
  c.attention = AttentionKind::Linear;
  c.qk_dim = c.head_dim;
  c.v_dim = c.head_dim;
  c.use_decay = true;
  c.retnet_slopes = false;
  c.decay_start.reset();
  c.qk_norm = false;
  c.tie_embeddings = false;  // the head is stored (a copy of the embedding for tied teachers)
  c.torch_dtype.clear();
  c.validate("linearised config");
  return c;
}

std::string openlm_config_json(const ModelConfig& c) {
  nlohmann::ordered_json j;
  j["architectures"] = {"OpenLMForCausalLM"};
  j["model_type"] = "openlm";
  j["dim"] = c.dim;
  j["intermediate_dim_ffn"] = c.ffn_dim;
  j["n_layers"] = c.n_layers;
  j["n_heads"] = c.n_heads;
  j["n_heads_kv"] = c.n_kv_heads;
  j["vocab_size"] = c.vocab_size;
  j["norm_eps"] = shortest_decimal(c.norm_eps);
  j["seq_len"] = c.seq_len;
  j["weight_tying"] = c.tie_embeddings;
  j["apply_qk_norm"] = c.qk_norm;
  j["qk_head_dim"] = c.qk_dim;
  j["v_head_dim"] = c.v_dim;
  j["norm_type"] = "rms_norm";
  j["attn_name"] = c.attention == AttentionKind::Linear ? "linear_attn" : "xformers_attn";
  j["positional_embedding_type"] = c.rotary ? "rotary" : "none";
  j["ffn_type"] = "swiglu";
  j["use_decay"] = c.use_decay;
  j["use_retnet_slopes"] = c.retnet_slopes;
  j["decay_start"] = c.decay_start ? nlohmann::ordered_json(*c.decay_start) : nlohmann::ordered_json(nullptr);
  if (c.rope_base != 10000.0) j["rotary_base_frequency"] = c.rope_base;
  if (c.rope_scale != 1.0) j["rotary_scale"] = c.rope_scale;
  return j.dump(2) + "\n";
}

ParameterSet linearize_parameters(const ModelConfig& teacher, const Checkpoint& weights, std::uint64_t seed) {
  const ModelConfig c = linear_config_for(teacher);
  TeacherTensors t(teacher, weights);
  SplitMix64 rng(seed);
  ParameterSet params;
  for (const TensorEntry& e : tensor_table(c, TensorNaming::OpenLM)) {
    Parameter& p = params.add("model." + e.name, e.shape());
    if (e.init == TensorInit::LinearUniform && !t.has(e.layer, e.parts.front().role)) {
      init_linear(p, e.fan_in, rng);  // a new kernel layer (spec §3.2)
      continue;
    }
    std::vector<float> values;
    for (const TensorPart& part : e.parts) {
      if (!t.has(e.layer, part.role))
        throw Error("linearize: the teacher has no " + std::string(role_name(part.role)) + " weight for " + p.name);
      const std::vector<float> rows = t.get(e.layer, part.role);
      values.insert(values.end(), rows.begin(), rows.end());
    }
    p.data = std::move(values);
  }
  return params;
}

void linearize_folder(const std::filesystem::path& teacher, const std::filesystem::path& out, std::uint64_t seed,
                      bool from_scratch) {
  const ModelConfig teacher_config = ModelConfig::load_folder(teacher);
  const ModelConfig config = linear_config_for(teacher_config);
  ParameterSet params = linearize_parameters(teacher_config, Checkpoint::open_folder(teacher), seed);
  if (from_scratch) initialize_from_scratch(params, config, seed);
  write_folder_atomically(out, [&](const std::filesystem::path& dir) {
    write_text_file(dir / "config.json", openlm_config_json(config));
    save_parameters(dir / "model.safetensors", params, {{"format", "pt"}, {"supra_linearize_seed", std::to_string(seed)}});
    copy_tokenizer_files(teacher, dir);
  });
}

}  // namespace supra::train
