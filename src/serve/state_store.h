// StateStore: the named states of the states API (POST /v1/states and friends), shared by
// all HTTP handler threads. Bounded in count and bytes; a full store refuses new states
// instead of dropping ones a client may still use.
#pragma once
#include <cstddef>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "serve/state_format.h"

namespace supra::serve {

struct StateInfo {
  std::string id;
  std::size_t tokens = 0;
  std::int64_t position = 0;
  std::size_t bytes = 0;
};

class StateStore {
 public:
  StateStore(std::size_t max_states, std::size_t budget_bytes);

  // Stores `s` under a new id; throws ApiError 400 when the store is full.
  StateInfo add(StoredState s);
  std::optional<StoredState> get(const std::string& id) const;  // a copy: callers run on it
  bool erase(const std::string& id);
  std::vector<StateInfo> list() const;

 private:
  static StateInfo info_of(const std::string& id, const StoredState& s);

  const std::size_t max_states_, budget_;
  mutable std::mutex mutex_;
  std::map<std::string, StoredState> states_;
  std::size_t bytes_ = 0;
  std::mt19937_64 ids_{std::random_device{}()};
};

}  // namespace supra::serve
