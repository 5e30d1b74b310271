// StateStore: the named states of the states API (POST /v1/states and friends), shared by
// all HTTP handler threads (docs/SERVE.md, "Stored states").
//
// Without a folder every state lives in memory, within the memory budget. With a folder
// (`--state-dir`) every state is a file there, written durably before add() returns, so it
// survives a restart or a crash; memory then only caches the states used most recently, within
// the memory budget, and the disk budget bounds the files. A full budget refuses new states
// (507) instead of dropping ones a client may still use. An optional TTL expires states; expired
// states are removed whenever the store is used (lookups, lists, adds).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "serve/state_dir.h"
#include "supra/state_file.h"

namespace supra::serve {

struct StateStoreOptions {
  std::size_t memory_bytes = 64u << 20;  // states held in memory
  std::size_t disk_bytes = 1u << 30;     // state files, with a folder
  std::optional<std::filesystem::path> folder;
  std::int64_t ttl_seconds = 0;          // 0: states never expire
};

struct StateInfo {
  std::string id;
  std::size_t tokens = 0;
  std::int64_t position = 0;
  std::size_t bytes = 0;                   // the State's floats
  std::int64_t created = 0;                // Unix seconds
  std::optional<std::int64_t> expires_at;  // Unix seconds, with a TTL
};

class StateStore {
 public:
  // With a folder: reads every state file in it (see StateDir::scan); a damaged file is skipped
  // with a warning line, a file of another model is an error (supra::Error): one folder per model.
  StateStore(const StateStoreOptions& options, const StateCodec& codec);

  // Stores `s` under a new id (on disk first, with a folder); throws ApiError 507 when a budget
  // is full, 500 when the file cannot be written.
  StateInfo add(SavedState s);
  std::optional<SavedState> get(const std::string& id);  // a copy: callers run on it
  std::optional<StateInfo> info(const std::string& id);
  bool erase(const std::string& id);
  std::vector<StateInfo> list();

 private:
  struct Entry {
    StateInfo info;
    std::int64_t expires_ms = 0;                 // 0: never
    std::size_t file_bytes = 0;                  // with a folder
    std::size_t memory_bytes = 0;                // when held in memory
    std::shared_ptr<const SavedState> loaded;   // null: only on disk
    std::list<std::string>::iterator recent;     // in recent_, when loaded
  };

  void load_folder();
  std::string new_id_locked();
  StateInfo insert_locked(Entry e, std::shared_ptr<const SavedState> s);
  void hold_locked(const std::string& id, Entry& e, std::shared_ptr<const SavedState> s);
  void drop_locked(std::map<std::string, Entry>::iterator it);
  void expire_locked();
  std::shared_ptr<const SavedState> read_file(const std::string& id) const;

  const StateStoreOptions options_;
  const StateCodec codec_;
  std::optional<StateDir> dir_;
  std::mutex mutex_;
  std::map<std::string, Entry> states_;
  std::set<std::string> writing_;                       // ids whose files are being written
  std::set<std::pair<std::int64_t, std::string>> expiry_;  // (expires_ms, id), with a TTL
  std::list<std::string> recent_;                        // loaded states, most recently used first
  std::size_t memory_ = 0, disk_ = 0, disk_reserved_ = 0;
  std::mt19937_64 ids_{std::random_device{}()};
};

}  // namespace supra::serve
