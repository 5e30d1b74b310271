// Writes the seed corpus of every fuzz target into OUT/<target>/ from the repository's own
// test data (run by fuzz/run.sh; nothing binary is committed). Usage: make_seeds REPO OUT
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <bzlib.h>

#include "file_builders.h"
#include "io/gguf.h"
#include "io/mapped_file.h"
#include "io/safetensors.h"
#include "io/zip_archive.h"
#include "supra/state_file.h"
#include "train/token_shard.h"

namespace fs = std::filesystem;
using namespace supra;

namespace {

std::string read(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void write(const fs::path& p, const std::string& bytes) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The data.pkl of a real torch.save file.
std::string real_pickle(const fs::path& bin) {
  const MappedFile file(bin);
  const ZipArchive zip(file.bytes(), bin.string());
  for (const ZipEntry& e : zip.entries())
    if (e.name.ends_with("/data.pkl")) {
      const auto bytes = zip.stored_data(e);
      return std::string(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    }
  throw std::runtime_error("no data.pkl in " + bin.string());
}

// bzip2 of `text` (the HellaSwag data is read as a .bz2 file).
std::string bzip2(std::string text) {
  std::string out(text.size() + text.size() / 100 + 600, '\0');
  auto out_size = static_cast<unsigned int>(out.size());
  if (BZ2_bzBuffToBuffCompress(out.data(), &out_size, text.data(), static_cast<unsigned int>(text.size()), 9, 0, 0) !=
      BZ_OK)
    throw std::runtime_error("bzip2 compression failed");
  out.resize(out_size);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_seeds REPO OUT\n");
    return 2;
  }
  const fs::path repo = argv[1], out = argv[2];
  const fs::path golden = repo / "tests" / "data" / "golden";

  // safetensors: small files from the writer (F32 + BF16, with metadata).
  fs::create_directories(out / "safetensors");
  const std::vector<float> f32 = {1.0f, -2.0f, 3.5f, 0.25f, 8.0f, -0.5f};
  const std::vector<std::uint16_t> bf16 = {0x3f80, 0xc000, 0x4060};
  save_safetensors(out / "safetensors" / "small.safetensors",
                   {{"a.weight", DType::F32, {2, 3}, std::as_bytes(std::span(f32))},
                    {"b.bias", DType::BF16, {3}, std::as_bytes(std::span(bf16))}},
                   {{"format", "pt"}});

  // gguf: every metadata value type, an array of strings, one tensor of each supported type.
  {
    const GgufMetadata meta = {{"general.architecture", GgufValue::string("llama")},
                               {"general.alignment", GgufValue::scalar(GgufType::Uint32, 32)},
                               {"u8", GgufValue::scalar(GgufType::Uint8, 7)},
                               {"i64", GgufValue::scalar(GgufType::Int64, -3)},
                               {"f32", GgufValue::f32(0.5f)},
                               {"bool", GgufValue::scalar(GgufType::Bool, 1)},
                               {"tokens", GgufValue::string_array({"<unk>", "a", "\xe2\x96\x81" "b"})},
                               {"types", GgufValue::array(GgufType::Int32, {2, 1, 1})}};
    const std::vector<GgufTensorInfo> infos = {{"f32", DType::F32, {2, 3}}, {"f16", DType::F16, {4}},
                                               {"bf16", DType::BF16, {1, 2, 2}}, {"q8", DType::Q8_0, {2, 32}},
                                               {"q4", DType::Q4_0, {1, 64}}};
    fs::create_directories(out / "gguf");
    write_gguf(out / "gguf" / "small.gguf", meta, infos, [&](std::size_t i) {
      const auto& t = infos[i];
      std::int64_t rows = 1;
      for (std::size_t d = 0; d + 1 < t.shape.size(); ++d) rows *= t.shape[d];
      return std::vector<std::byte>(static_cast<std::size_t>(rows) * dtype_row_bytes(t.dtype, t.shape.back()),
                                    std::byte{0x11});
    });
  }

  // pickles: both flavours torch.save writes (plain dict, OrderedDict with _metadata).
  const std::string ordered = real_pickle(golden / "supra_gqa-bin" / "pytorch_model.bin");
  const std::string plain = real_pickle(golden / "supra_gqa-bf16" / "pytorch_model.bin");
  write(out / "pickle" / "ordered_dict.pkl", ordered);
  write(out / "pickle" / "plain_dict.pkl", plain);

  // torch zips: a complete small one, and the real pickle in a zip without its storages.
  const std::string storage(6 * sizeof(float), '\x01');
  const std::string tiny_pickle = test::kProto2 + "}" + test::p_str("w") + test::p_tensor("0", 6, {2, 3}, {3, 1}) +
                                  "s" + test::kStop;
  write(out / "torch_zip" / "tiny.bin", test::make_torch_zip(tiny_pickle, {{"0", storage}}));
  write(out / "torch_zip" / "real_pickle.bin", test::make_torch_zip(ordered, {}));
  write(out / "pickle" / "tiny.pkl", tiny_pickle);

  // config.json: every folder the tests use, OpenLM and HF.
  int n = 0;
  for (const auto& dir : fs::directory_iterator(golden))
    if (fs::exists(dir.path() / "config.json"))
      write(out / "config" / ("config" + std::to_string(n++) + ".json"), read(dir.path() / "config.json"));
  write(out / "config" / "stories260K.json", read(repo / "models" / "stories260K" / "config.json"));
  // Nesting at the depth limit and one past it, where a config value would be.
  const auto nested = [](int levels) { return std::string(levels, '[') + "1" + std::string(levels, ']'); };
  write(out / "config" / "nested_at_limit.json", "{\"model_type\": \"openlm\", \"dim\": " + nested(63) + "}");
  write(out / "config" / "nested_past_limit.json", "{\"model_type\": \"openlm\", \"dim\": " + nested(65) + "}");
  write(out / "safetensors" / "nested_shape.safetensors",
        test::make_safetensors("{\"a\":{\"dtype\":\"F32\",\"shape\":" + nested(62) + ",\"data_offsets\":[0,4]}}",
                               std::string(4, '\0')));

  // JSON in general: every config seed, a generation config, an index, escapes and edge numbers.
  for (const auto& seed : fs::directory_iterator(out / "config"))
    write(out / "json" / seed.path().filename(), read(seed.path()));
  write(out / "json" / "generation_config.json", read(repo / "models" / "stories260K" / "generation_config.json"));
  write(out / "json" / "index.json", "{\"metadata\": {\"total_size\": 16}, \"weight_map\": {\"a\": \"m-1.safetensors\"}}");
  write(out / "json" / "escapes.json", "[\"\\u00e9\\ud83d\\ude00\\n\", -0.0, 1e308, null, true, {\"\": []}]");

  // tokenizer text: the kitoken inputs, one seed per line.
  for (const char* name : {"small_input.txt", "utf8_input.txt"}) {
    std::istringstream lines(read(repo / "tests" / "data" / "tokenizer" / "kitoken" / name));
    std::string line;
    for (int i = 0; std::getline(lines, line) && i < 64; ++i)
      write(out / "tokenizer" / (std::string(name) + "." + std::to_string(i)), line);
  }
  // CSV in MMLU's layout: quoted fields with commas, doubled quotes, embedded newlines.
  write(out / "csv" / "mmlu.csv",
        "question,choice0,choice1,choice2,choice3,answer\n"
        "\"Find all c in Z_3, \"\"quoted\"\"\",0,1,\"2\nnewline\",3,1\r\n"
        "plain,a,b,c,d,0");

  // Evaluation data, one seed per format (first byte: the format, see fuzz_eval_data.cpp).
  const std::string hellaswag =
      "Removing ice from car: Then, the man writes over the snow covering the window of a car [title] a\n3\n"
      ", the man adds wax to the windshield.\n, a person board a ski lift.\n, the man puts on a christmas coat.\n"
      ", the man continues removing the snow on his car.\n";
  const std::vector<std::string> eval_seeds = {
      std::string(1, '\0') +
          R"({"query": "Question: Which is a gas?\n", "choices": ["ice", "steam", "ice", "rock"], "gold": 1})" + "\n",
      std::string(1, '\1') +
          R"({"context_options": ["Sarah was better than Maria so Sarah", "Sarah was better than Maria so Maria"], )"
          R"("continuation": "got the easier cases.", "gold": 1})" + "\n",
      std::string(1, '\2') + R"({"goal": "Open a jar", "sol1": "twist the lid ", "sol2": "hit it"})" + "\n\x1e" + "0\n",
      std::string(1, '\3') + hellaswag,
      std::string(1, '\4') + bzip2(hellaswag),
      std::string(1, '\5') + "\"What is 2+2, \"\"exactly\"\"?\",1,2,3,4,3\n\x1e" + "dev question,a,b,c,d,0\nq2,a,b,c,d,1\n"};
  for (std::size_t i = 0; i < eval_seeds.size(); ++i)
    write(out / "eval_data" / ("format" + std::to_string(i)), eval_seeds[i]);

  // Training checkpoints (first byte: the file kind, see fuzz_train_checkpoint.cpp).
  const std::string state_json =
      R"({"data_position": 48, "data_seed": 1, "epoch": 1, "format": "supra-train-checkpoint", )"
      R"("settings": {"batch_size": "16", "lr": "0.001", "seq_len": "256", "steps": "3"}, "step": 3, )"
      R"("tokens": 12288, "version": 1})";
  const std::string log_csv =
      "step,tokens,lr,loss,ce,z_loss,grad_norm,tok_s,val_loss\n"
      "1,4096,3.3e-05,6.59,6.58,0.0119,50.7,2314.6,\n2,8192,6.6e-05,6.61,6.60,0.0122,46.6,2804.6,\n"
      "3,12288,0.0001,6.4,6.39,0.011,40.1,2790.2,6.35\n";
  write(out / "train_checkpoint" / "state", std::string(1, '\0') + state_json + "\x1e" + log_csv);
  const std::vector<float> moments(12 + 3, 0.5f);
  const auto span = std::as_bytes(std::span(moments));
  save_safetensors(out / "tmp_optimizer.safetensors",
                   {{"exp_avg.model.tok_embeddings.weight", DType::F32, {4, 3}, span.first(48)},
                    {"exp_avg.model.norm.weight", DType::F32, {3}, span.subspan(48, 12)},
                    {"exp_avg_sq.model.tok_embeddings.weight", DType::F32, {4, 3}, span.first(48)},
                    {"exp_avg_sq.model.norm.weight", DType::F32, {3}, span.subspan(48, 12)}});
  write(out / "train_checkpoint" / "optimizer", std::string(1, '\1') + read(out / "tmp_optimizer.safetensors"));
  fs::remove(out / "tmp_optimizer.safetensors");
  {
    train::ShardWriter shard(out / "tmp_shard.bin", 512);
    shard.add_document(std::vector<TokenId>{1, 403, 407, 261, 2});
    shard.add_document(std::vector<TokenId>{1, 500, 2});
    shard.finish();
  }
  write(out / "train_checkpoint" / "shard", std::string(1, '\2') + read(out / "tmp_shard.bin"));
  fs::remove(out / "tmp_shard.bin");

  // Request bodies of every endpoint.
  const std::vector<std::string> bodies = {
      R"({"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0.7, "top_p": 0.9, "stop": ["."]})",
      R"({"prompt": [1, 403, 407], "max_tokens": 0, "echo": true, "logprobs": 2, "seed": 3})",
      R"({"prompt": ["a", "b"], "stream": true, "top_k": 5, "repetition_penalty": 1.1})",
      R"({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})",
      R"({"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "max_tokens": 4})",
      R"({"tokens": [1, 403], "state_id": "state-0"})"};
  for (std::size_t i = 0; i < bodies.size(); ++i)
    write(out / "http_request" / ("body" + std::to_string(i) + ".json"), bodies[i]);

  // An exported state of the shipped model after a few tokens.
  const Model model = Model::load(repo / "models" / "stories260K");
  SavedState stored{model.new_state(), {1, 403, 407}, {}};
  model.forward(stored.tokens, stored.state, Mode::Parallel, LogitsWanted::None);
  write(out / "state_import" / "stories.state", StateCodec(model).encode(stored));
  return 0;
}
