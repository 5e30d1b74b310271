#include "serve/state_store.h"

#include <cstdio>

#include "serve/api_error.h"

namespace supra::serve {

StateStore::StateStore(std::size_t max_states, std::size_t budget_bytes) : max_states_(max_states), budget_(budget_bytes) {}

StateInfo StateStore::info_of(const std::string& id, const StoredState& s) {
  return {id, s.tokens.size(), s.state.position, s.state.bytes()};
}

StateInfo StateStore::add(StoredState s) {
  std::lock_guard lock(mutex_);
  const std::size_t size = s.state.bytes();
  if (states_.size() >= max_states_ || bytes_ + size > budget_)
    throw ApiError(400, "the state store is full; delete states first", "", "state_store_full");
  char id[32];
  std::snprintf(id, sizeof id, "state-%016llx", static_cast<unsigned long long>(ids_()));
  bytes_ += size;
  const auto it = states_.emplace(id, std::move(s)).first;
  return info_of(it->first, it->second);
}

std::optional<StoredState> StateStore::get(const std::string& id) const {
  std::lock_guard lock(mutex_);
  const auto it = states_.find(id);
  if (it == states_.end()) return std::nullopt;
  return it->second;
}

bool StateStore::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  const auto it = states_.find(id);
  if (it == states_.end()) return false;
  bytes_ -= it->second.state.bytes();
  states_.erase(it);
  return true;
}

std::vector<StateInfo> StateStore::list() const {
  std::lock_guard lock(mutex_);
  std::vector<StateInfo> out;
  for (const auto& [id, s] : states_) out.push_back(info_of(id, s));
  return out;
}

}  // namespace supra::serve
