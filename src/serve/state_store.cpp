#include "serve/state_store.h"

#include <chrono>
#include <cstdio>

#include "serve/api_error.h"
#include "supra/error.h"

namespace supra::serve {
namespace {

std::int64_t now_ms() {
  using namespace std::chrono;
  return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
}

// What a state costs in memory: its floats, its tokens and its logits.
std::size_t memory_size(const SavedState& s) {
  return s.state.bytes() + s.tokens.size() * sizeof(TokenId) + s.logits.size() * sizeof(float);
}

ApiError storage_full(const std::string& what, std::size_t budget) {
  return ApiError(507, "the state " + what + " budget (" + std::to_string(budget >> 20) +
                           " MiB) is full; delete states (DELETE /v1/states/{id}) or wait for them to expire",
                  "", "state_storage_full", "server_error");
}

}  // namespace

StateStore::StateStore(const StateStoreOptions& options, const StateCodec& codec) : options_(options), codec_(codec) {
  if (!options_.folder) return;
  dir_.emplace(*options_.folder);
  load_folder();
}

void StateStore::load_folder() {
  const std::int64_t now = now_ms();
  for (const StateDir::File& f : dir_->scan()) {
    std::string bytes;
    try {
      bytes = dir_->read(f.id, options_.disk_bytes);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "supra serve: warning: %s, skipped\n", e.what());
      continue;
    }
    if (codec_.from_another_model(bytes))
      throw Error("--state-dir " + options_.folder->string() + " holds states of another model (" + f.path.string() +
                  "); use one folder per model");
    SavedState s;
    try {
      s = codec_.decode(bytes);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "supra serve: warning: %s: %s, skipped\n", f.path.c_str(), e.what());
      continue;
    }
    Entry e;
    e.info = {f.id, s.tokens.size(), s.state.position, s.state.bytes(), f.modified_ms / 1000, std::nullopt};
    if (options_.ttl_seconds > 0) {
      e.expires_ms = f.modified_ms + options_.ttl_seconds * 1000;
      e.info.expires_at = (e.expires_ms + 999) / 1000;
      if (e.expires_ms <= now) {
        dir_->remove(f.id);
        continue;
      }
      expiry_.emplace(e.expires_ms, f.id);
    }
    e.file_bytes = bytes.size();
    disk_ += bytes.size();
    auto& entry = states_.emplace(f.id, std::move(e)).first->second;
    hold_locked(f.id, entry, std::make_shared<const SavedState>(std::move(s)));
  }
}

std::string StateStore::new_id_locked() {
  for (;;) {
    char id[32];
    std::snprintf(id, sizeof id, "state-%016llx", static_cast<unsigned long long>(ids_()));
    if (!states_.contains(id) && !writing_.contains(id)) return id;
  }
}

// Keeps `s` in memory as the most recently used state, then lets go of the least recently used
// ones beyond the memory budget (with a folder; without one the budget was checked by add()).
void StateStore::hold_locked(const std::string& id, Entry& e, std::shared_ptr<const SavedState> s) {
  e.memory_bytes = memory_size(*s);
  e.loaded = std::move(s);
  memory_ += e.memory_bytes;
  recent_.push_front(id);
  e.recent = recent_.begin();
  if (!dir_) return;
  while (memory_ > options_.memory_bytes && !recent_.empty()) {
    Entry& old = states_.at(recent_.back());
    memory_ -= old.memory_bytes;
    old.loaded.reset();
    recent_.pop_back();
  }
}

void StateStore::drop_locked(std::map<std::string, Entry>::iterator it) {
  Entry& e = it->second;
  if (e.loaded) {
    memory_ -= e.memory_bytes;
    recent_.erase(e.recent);
  }
  if (e.expires_ms) expiry_.erase({e.expires_ms, it->first});
  if (dir_) {
    dir_->remove(it->first);
    disk_ -= e.file_bytes;
  }
  states_.erase(it);
}

void StateStore::expire_locked() {
  const std::int64_t now = now_ms();
  while (!expiry_.empty() && expiry_.begin()->first <= now) drop_locked(states_.find(expiry_.begin()->second));
}

StateInfo StateStore::add(SavedState s) {
  auto held = std::make_shared<const SavedState>(std::move(s));
  const std::size_t in_memory = memory_size(*held);
  const std::int64_t created_ms = now_ms();
  Entry e;
  e.info = {"", held->tokens.size(), held->state.position, held->state.bytes(), created_ms / 1000, std::nullopt};
  if (options_.ttl_seconds > 0) {
    e.expires_ms = created_ms + options_.ttl_seconds * 1000;
    e.info.expires_at = (e.expires_ms + 999) / 1000;
  }
  if (!dir_) {
    std::lock_guard lock(mutex_);
    expire_locked();
    if (memory_ + in_memory > options_.memory_bytes) throw storage_full("memory", options_.memory_bytes);
    e.info.id = new_id_locked();
    return insert_locked(std::move(e), std::move(held));
  }
  const std::string bytes = codec_.encode(*held);
  {
    std::lock_guard lock(mutex_);
    expire_locked();
    if (disk_ + disk_reserved_ + bytes.size() > options_.disk_bytes) throw storage_full("disk", options_.disk_bytes);
    e.info.id = new_id_locked();
    writing_.insert(e.info.id);
    disk_reserved_ += bytes.size();
  }
  // Written outside the lock (an fsync takes milliseconds), acknowledged only once durable.
  std::string failure;
  try {
    dir_->write(e.info.id, bytes);
  } catch (const std::exception& error) {
    failure = error.what();
  }
  std::lock_guard lock(mutex_);
  writing_.erase(e.info.id);
  disk_reserved_ -= bytes.size();
  if (!failure.empty()) throw ApiError(500, "cannot store the state: " + failure, "", "state_write_failed", "server_error");
  disk_ += bytes.size();
  e.file_bytes = bytes.size();
  return insert_locked(std::move(e), std::move(held));
}

StateInfo StateStore::insert_locked(Entry e, std::shared_ptr<const SavedState> s) {
  const std::string id = e.info.id;
  if (e.expires_ms) expiry_.emplace(e.expires_ms, id);
  auto& entry = states_.emplace(id, std::move(e)).first->second;
  hold_locked(id, entry, std::move(s));
  return entry.info;
}

std::shared_ptr<const SavedState> StateStore::read_file(const std::string& id) const {
  try {
    return std::make_shared<const SavedState>(
        codec_.decode(dir_->read(id, options_.disk_bytes)));
  } catch (const std::exception& e) {
    throw ApiError(500, "the file of state '" + id + "' cannot be read back: " + e.what(), "state_id",
                   "state_file_unreadable", "server_error");
  }
}

std::optional<SavedState> StateStore::get(const std::string& id) {
  std::shared_ptr<const SavedState> s;
  {
    std::lock_guard lock(mutex_);
    expire_locked();
    const auto it = states_.find(id);
    if (it == states_.end()) return std::nullopt;
    Entry& e = it->second;
    if (e.loaded) {
      recent_.splice(recent_.begin(), recent_, e.recent);
      s = e.loaded;
    }
  }
  if (!s) {
    // Read outside the lock; kept in memory unless the state went meanwhile (then its file may
    // have gone before it could be read: that is the 404 of a deleted state, not a failure).
    try {
      s = read_file(id);
    } catch (const ApiError&) {
      std::lock_guard lock(mutex_);
      if (!states_.contains(id)) return std::nullopt;
      throw;
    }
    std::lock_guard lock(mutex_);
    const auto it = states_.find(id);
    if (it == states_.end()) return std::nullopt;
    if (!it->second.loaded) hold_locked(id, it->second, s);
  }
  return *s;  // copied outside the lock
}

std::optional<StateInfo> StateStore::info(const std::string& id) {
  std::lock_guard lock(mutex_);
  expire_locked();
  const auto it = states_.find(id);
  if (it == states_.end()) return std::nullopt;
  return it->second.info;
}

bool StateStore::erase(const std::string& id) {
  std::lock_guard lock(mutex_);
  expire_locked();
  const auto it = states_.find(id);
  if (it == states_.end()) return false;
  drop_locked(it);
  return true;
}

std::vector<StateInfo> StateStore::list() {
  std::lock_guard lock(mutex_);
  expire_locked();
  std::vector<StateInfo> out;
  out.reserve(states_.size());
  for (const auto& [id, e] : states_) out.push_back(e.info);
  return out;
}

}  // namespace supra::serve
