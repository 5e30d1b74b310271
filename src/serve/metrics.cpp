#include "serve/metrics.h"

#include <sstream>

namespace supra::serve {
namespace {

template <typename T>
void emit(std::ostringstream& out, const char* name, const char* type, const char* help, const T& value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n'
      << name << ' ' << value.load() << '\n';
}

}  // namespace

std::string Metrics::prometheus() const {
  std::ostringstream o;
  emit(o, "supra_requests_total", "counter", "HTTP requests received", requests_total);
  emit(o, "supra_request_errors_total", "counter", "HTTP requests answered with an error", request_errors_total);
  emit(o, "supra_rejected_total", "counter", "requests refused because the queue was full", rejected_total);
  emit(o, "supra_prompt_tokens_total", "counter", "prompt tokens received", prompt_tokens_total);
  emit(o, "supra_tokens_generated_total", "counter", "tokens generated", generated_tokens_total);
  emit(o, "supra_cache_hits_total", "counter", "prompts that started from a cached prefix state", cache_hits_total);
  emit(o, "supra_cache_misses_total", "counter", "prompts long enough to cache that found no prefix",
       cache_misses_total);
  emit(o, "supra_cache_hit_tokens_total", "counter", "prompt tokens not prefilled thanks to the cache",
       cache_hit_tokens_total);
  emit(o, "supra_cancelled_total", "counter", "sequences cancelled by a client disconnect", cancelled_total);
  emit(o, "supra_queue_depth", "gauge", "sequences waiting for a slot", queue_depth);
  emit(o, "supra_active_sequences", "gauge", "sequences being prefilled or decoded", active_sequences);
  emit(o, "supra_cache_bytes", "gauge", "bytes held by the prefix state cache", cache_bytes);
  emit(o, "supra_cache_entries", "gauge", "prefix states held by the cache", cache_entries);
  emit(o, "supra_tokens_per_second", "gauge", "generated tokens per second, recent", tokens_per_second);
  return o.str();
}

}  // namespace supra::serve
