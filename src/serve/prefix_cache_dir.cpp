#include "serve/prefix_cache_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <fstream>

#include "io/atomic_file.h"
#include "serve/state_cache.h"
#include "serve/state_dir.h"
#include "supra/error.h"

namespace supra::serve {
namespace fs = std::filesystem;

namespace {

bool is_prefix_file(const std::string& name) {
  return name.rfind("prefix-", 0) == 0 && name.size() > 13 && name.compare(name.size() - 6, 6, ".state") == 0;
}

}  // namespace

PrefixCacheDir::PrefixCacheDir(fs::path folder, const StateCodec& codec, std::size_t max_pending_bytes)
    : folder_(std::move(folder)), codec_(codec), max_pending_bytes_(max_pending_bytes) {
  std::error_code ec;
  fs::create_directories(folder_, ec);
  if (!fs::is_directory(folder_))
    throw Error("--prefix-cache-dir " + folder_.string() + ": not a folder" + (ec ? " (" + ec.message() + ")" : std::string()));
  if (::access(folder_.c_str(), W_OK | X_OK) != 0) throw Error("--prefix-cache-dir " + folder_.string() + ": not writable");
  thread_ = std::thread([this] { run(); });
}

PrefixCacheDir::~PrefixCacheDir() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::string PrefixCacheDir::name_of(std::span<const TokenId> prefix) const {
  char name[64];
  std::snprintf(name, sizeof name, "prefix-%016" PRIx64 "-%zu.state", hash_tokens(prefix), prefix.size());
  return name;
}

std::vector<SavedState> PrefixCacheDir::load(std::size_t budget) const {
  struct Found {
    fs::path path;
    std::int64_t modified = 0;
  };
  std::vector<Found> found;
  for (const auto& entry : fs::directory_iterator(folder_)) {
    const std::string name = entry.path().filename().string();
    if (remove_interrupted_write(entry.path())) {
      continue;
    } else if (is_prefix_file(name) && entry.is_regular_file()) {
      found.push_back({entry.path(), modified_ns(entry.path())});
    } else {
      warn_about_file(entry.path(), "not a prefix cache file of supra serve, skipped");
    }
  }
  // Newest first while the budget lasts: those are the ones the cache would have kept.
  std::ranges::sort(found, [](const Found& a, const Found& b) { return a.modified > b.modified; });
  std::vector<SavedState> kept;
  std::size_t used = 0;
  for (const Found& f : found) {
    std::error_code ec;
    const auto size = fs::file_size(f.path, ec);
    if (ec || size > budget) {
      fs::remove(f.path, ec);
      continue;
    }
    std::ifstream in(f.path, std::ios::binary);
    std::string bytes(static_cast<std::size_t>(size), '\0');
    if (!in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()))) {
      warn_about_file(f.path, "cannot be read, skipped");
      continue;
    }
    SavedState s;
    try {
      s = codec_.decode(bytes);
    } catch (const std::exception& e) {
      warn_about_file(f.path, std::string(e.what()) + ", skipped");
      continue;
    }
    // Named by its key: a file renamed by hand would put a state under another prefix.
    if (f.path.filename() != name_of(s.tokens)) {
      warn_about_file(f.path, "its tokens do not match its name, skipped");
      continue;
    }
    const std::size_t cost = s.state.bytes() + s.tokens.size() * sizeof(TokenId);
    if (used + cost > budget) {
      fs::remove(f.path, ec);  // the cache would have dropped it: so does the folder
      continue;
    }
    used += cost;
    kept.push_back(std::move(s));
  }
  std::ranges::reverse(kept);
  return kept;
}

void PrefixCacheDir::save(std::span<const TokenId> prefix, const State& state) {
  SavedState s{state, std::vector<TokenId>(prefix.begin(), prefix.end()), {}};
  push({name_of(prefix), codec_.encode(s)});
}

void PrefixCacheDir::remove(std::span<const TokenId> prefix) { push({name_of(prefix), {}}); }

void PrefixCacheDir::push(Job job) {
  {
    std::lock_guard lock(mutex_);
    // A disk slower than the cache fills: later saves are dropped (the entries stay in memory)
    // rather than queued without bound. Removals are always queued (they hold no state).
    if (!job.bytes.empty() && pending_bytes_ + job.bytes.size() > max_pending_bytes_) return;
    pending_bytes_ += job.bytes.size();
    jobs_.push_back(std::move(job));
  }
  wake_.notify_all();
}

void PrefixCacheDir::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [&] { return stopping_ || !jobs_.empty(); });
      if (jobs_.empty()) return;  // stopping, and everything is written
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    const fs::path path = folder_ / job.name;
    if (job.bytes.empty()) {
      ::unlink(path.c_str());
      continue;
    }
    try {
      write_file_atomically(path, [&](std::ostream& out) { out.write(job.bytes.data(), static_cast<std::streamsize>(job.bytes.size())); });
    } catch (const std::exception& e) {
      warn_about_file(path, std::string("not written (") + e.what() + ")");  // the entry stays in memory
    }
    std::lock_guard lock(mutex_);
    pending_bytes_ -= job.bytes.size();
  }
}

}  // namespace supra::serve
