// The shared lm-eval ground truth (fixtures/evalref) for the scorer tests: where it is, its
// model, and a reference document's requests as token ids.
#pragma once
#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "supra/eval.h"
#include "supra/model.h"
#include "test_support.h"

namespace supra::test {

// ../shared/fixtures/evalref, when it is there with its model.
inline std::optional<std::filesystem::path> evalref_dir() {
  const auto shared = shared_dir();
  if (!shared || !std::filesystem::exists(*shared / "fixtures" / "evalref" / "tiny32k" / "model.safetensors"))
    return std::nullopt;
  return *shared / "fixtures" / "evalref";
}

// The evalref model, loaded once per test binary.
inline const Model& tiny32k() {
  static const Model model = Model::load(*evalref_dir() / "tiny32k");
  return model;
}

inline std::vector<eval::EncodedRequest> requests_of(const nlohmann::json& doc) {
  std::vector<eval::EncodedRequest> requests;
  for (const nlohmann::json& r : doc["requests"])
    requests.push_back({r["context_ids"].get<std::vector<TokenId>>(), r["continuation_ids"].get<std::vector<TokenId>>()});
  return requests;
}

}  // namespace supra::test
