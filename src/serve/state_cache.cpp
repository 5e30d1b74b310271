#include "serve/state_cache.h"

#include <algorithm>

#include "serve/prefix_cache_dir.h"

namespace supra::serve {
namespace {

constexpr std::uint64_t kFnvOffset = 1469598103934665603ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv_extend(std::uint64_t h, std::span<const TokenId> tokens) {
  for (TokenId t : tokens) {
    auto v = static_cast<std::uint32_t>(t);
    for (int i = 0; i < 4; ++i) {
      h ^= (v >> (8 * i)) & 0xFFu;
      h *= kFnvPrime;
    }
  }
  return h;
}

}  // namespace

std::uint64_t hash_tokens(std::span<const TokenId> tokens) { return fnv_extend(kFnvOffset, tokens); }

StateCache::StateCache(std::size_t budget_bytes, std::size_t block, PrefixCacheDir* folder)
    : budget_(budget_bytes), block_(block), folder_(folder) {
  if (!folder_) return;
  // Oldest first, so the newest ends up most recently used.
  for (const SavedState& s : folder_->load(budget_))
    if (!s.tokens.empty() && s.tokens.size() % block_ == 0) add(s.tokens, s.state, false);
}

StateCache::List::iterator StateCache::find(std::uint64_t hash, std::span<const TokenId> prefix) {
  auto [first, last] = index_.equal_range(hash);
  for (auto it = first; it != last; ++it)
    if (std::ranges::equal(it->second->tokens, prefix)) return it->second;
  return lru_.end();
}

std::optional<StateCache::Hit> StateCache::lookup(std::span<const TokenId> tokens) {
  if (tokens.size() <= block_ || lru_.empty()) return std::nullopt;
  // Hashes of every block-aligned prefix, computed in one pass, then tried longest first.
  std::vector<std::uint64_t> hashes;
  std::uint64_t h = kFnvOffset;
  for (std::size_t end = block_; end < tokens.size(); end += block_) {
    h = fnv_extend(h, tokens.subspan(end - block_, block_));
    hashes.push_back(h);
  }
  for (std::size_t i = hashes.size(); i-- > 0;) {
    const std::size_t length = (i + 1) * block_;
    auto it = find(hashes[i], tokens.first(length));
    if (it == lru_.end()) continue;
    lru_.splice(lru_.begin(), lru_, it);
    return Hit{length, it->state};
  }
  return std::nullopt;
}

void StateCache::insert(std::span<const TokenId> prefix, const State& state) { add(prefix, state, true); }

void StateCache::add(std::span<const TokenId> prefix, const State& state, bool save) {
  const std::uint64_t h = hash_tokens(prefix);
  if (auto it = find(h, prefix); it != lru_.end()) {
    lru_.splice(lru_.begin(), lru_, it);
    return;
  }
  const std::size_t size = state.bytes() + prefix.size() * sizeof(TokenId);
  if (size > budget_) return;
  evict_until(budget_ - size);
  lru_.push_front(Entry{std::vector<TokenId>(prefix.begin(), prefix.end()), state, size, h});
  index_.emplace(h, lru_.begin());
  bytes_ += size;
  if (save && folder_) folder_->save(prefix, state);
}

void StateCache::evict_until(std::size_t budget) {
  while (bytes_ > budget && !lru_.empty()) {
    auto last = std::prev(lru_.end());
    auto [first, end] = index_.equal_range(last->hash);
    for (auto it = first; it != end; ++it)
      if (it->second == last) {
        index_.erase(it);
        break;
      }
    bytes_ -= last->bytes;
    if (folder_) folder_->remove(last->tokens);
    lru_.pop_back();
  }
}

}  // namespace supra::serve
