// StateCache: recurrent states of prompt prefixes, so that a request sharing a prefix with an
// earlier one (a system prompt, a conversation so far) starts from the stored state instead of
// prefilling it again. States are stored after every `block` tokens (the model's attention
// block, so cached and uncached prefills split the prompt identically and give bit-identical
// states). Least recently used entries go first when the byte budget is exceeded.
// With a PrefixCacheDir (--prefix-cache-dir) every entry is mirrored as a file there: inserts
// save it, evictions remove it, and a new cache starts with the files' entries.
// Owned by the scheduler thread: not thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <optional>
#include <span>
#include <unordered_map>
#include <vector>

#include "supra/state.h"
#include "supra/tokenizer.h"

namespace supra::serve {

class PrefixCacheDir;

class StateCache {
 public:
  // `folder` (may be null) outlives the cache; its entries are loaded here.
  StateCache(std::size_t budget_bytes, std::size_t block, PrefixCacheDir* folder = nullptr);

  struct Hit {
    std::size_t length = 0;  // tokens of the prompt the state has consumed
    State state;
  };
  // The longest cached prefix of `tokens` that leaves at least one token to run (its logits
  // start the generation). Keys are verified token by token, not trusted to the hash.
  std::optional<Hit> lookup(std::span<const TokenId> tokens);
  // Stores the state after `prefix` (a multiple of block() tokens); too-large states are skipped.
  void insert(std::span<const TokenId> prefix, const State& state);

  std::size_t block() const { return block_; }
  std::size_t bytes() const { return bytes_; }
  std::size_t entries() const { return lru_.size(); }

 private:
  struct Entry {
    std::vector<TokenId> tokens;
    State state;
    std::size_t bytes = 0;
    std::uint64_t hash = 0;
  };
  using List = std::list<Entry>;

  List::iterator find(std::uint64_t hash, std::span<const TokenId> prefix);
  void add(std::span<const TokenId> prefix, const State& state, bool save);
  void evict_until(std::size_t budget);

  std::size_t budget_;
  std::size_t block_;
  PrefixCacheDir* folder_;
  std::size_t bytes_ = 0;
  List lru_;  // most recently used first
  std::unordered_multimap<std::uint64_t, List::iterator> index_;
};

// FNV-1a over the token ids: the cache key before verification.
std::uint64_t hash_tokens(std::span<const TokenId> tokens);

}  // namespace supra::serve
