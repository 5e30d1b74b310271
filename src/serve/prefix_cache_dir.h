// PrefixCacheDir: the folder of `supra serve --prefix-cache-dir`, which mirrors the prefix cache
// (state_cache.h) so that a restarted server keeps its warm prompt prefixes (system prompts,
// conversations so far). Each cached prefix is one state file (docs/STATE_FORMAT.md; its tokens
// are the prefix) named "prefix-<hash>-<length>.state". Files are written and removed by a
// thread of their own, in the order the cache asked, so the scheduler never waits for the disk;
// a cache is allowed to lose entries (a crash may lose the last ones), never to return a wrong
// one: every file is checked as an import is, and its tokens are the key, when it is read back.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <filesystem>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "supra/state_file.h"
#include "serve/state_store.h"

namespace supra::serve {

class PrefixCacheDir {
 public:
  // Creates the folder when missing; throws supra::Error when it cannot be used.
  // `max_pending_bytes` bounds the states waiting to be written (beyond, a save is dropped).
  PrefixCacheDir(std::filesystem::path folder, const StateCodec& codec, std::size_t max_pending_bytes);
  ~PrefixCacheDir();  // writes what is pending, then stops
  PrefixCacheDir(const PrefixCacheDir&) = delete;
  PrefixCacheDir& operator=(const PrefixCacheDir&) = delete;

  // The valid cached prefixes in the folder, least recently written first, within `budget`
  // bytes (as StateCache counts them) keeping the newest; files beyond it are removed, damaged
  // ones skipped with a warning line.
  std::vector<SavedState> load(std::size_t budget) const;

  void save(std::span<const TokenId> prefix, const State& state);  // asynchronous
  void remove(std::span<const TokenId> prefix);                    // asynchronous

 private:
  struct Job {
    std::string name;
    std::string bytes;  // empty: remove the file
  };
  std::string name_of(std::span<const TokenId> prefix) const;
  void push(Job job);
  void run();

  const std::filesystem::path folder_;
  const StateCodec codec_;
  const std::size_t max_pending_bytes_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  std::size_t pending_bytes_ = 0;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once everything above exists
};

}  // namespace supra::serve
