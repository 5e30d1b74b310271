#include "serve/metrics.h"

#include <sstream>

namespace supra::serve {
namespace {

template <typename T>
void emit(std::ostringstream& out, const char* name, const char* type, const char* help, const T& value) {
  out << "# HELP " << name << ' ' << help << "\n# TYPE " << name << ' ' << type << '\n' << name << ' ';
  if constexpr (requires { value.load(); }) out << value.load() << '\n';
  else out << value << '\n';
}

}  // namespace

void Metrics::count_request(int status) {
  ++requests_total;
  if (status >= 400) ++request_errors_total;
}

std::string Metrics::prometheus() const {
  std::ostringstream o;
  // Errors first: a request is counted before its error, so the snapshot has errors <= requests.
  const std::uint64_t errors = request_errors_total.load();
  const std::uint64_t requests = requests_total.load();
  emit(o, "supra_requests_total", "counter", "HTTP requests answered", requests);
  emit(o, "supra_request_errors_total", "counter", "HTTP requests answered with an error", errors);
  emit(o, "supra_connections_refused_total", "counter", "connections refused beyond the connection cap (503)",
       connections_refused_total);
  emit(o, "supra_read_timeouts_total", "counter", "requests whose headers or body did not arrive in time",
       read_timeouts_total);
  emit(o, "supra_rejected_total", "counter", "requests refused because the queue was full", rejected_total);
  emit(o, "supra_prompt_tokens_total", "counter", "prompt tokens received", prompt_tokens_total);
  emit(o, "supra_tokens_generated_total", "counter", "tokens generated", generated_tokens_total);
  emit(o, "supra_cache_hits_total", "counter", "prompts that started from a cached prefix state", cache_hits_total);
  emit(o, "supra_cache_misses_total", "counter", "prompts long enough to cache that found no prefix",
       cache_misses_total);
  emit(o, "supra_cache_hit_tokens_total", "counter", "prompt tokens not prefilled thanks to the cache",
       cache_hit_tokens_total);
  emit(o, "supra_cancelled_total", "counter", "sequences cancelled by a client disconnect", cancelled_total);
  emit(o, "supra_batch_steps_total", "counter", "batched forward passes, one per scheduler step", batch_steps_total);
  emit(o, "supra_batch_sequences_total", "counter", "sequences advanced by the batched passes (per step: the batch size)",
       batch_sequences_total);
  emit(o, "supra_batch_mixed_steps_total", "counter", "batched passes that carried prompt blocks and decode tokens together",
       batch_mixed_steps_total);
  emit(o, "supra_open_connections", "gauge", "HTTP connections being served", open_connections);
  emit(o, "supra_queue_depth", "gauge", "sequences waiting for a slot", queue_depth);
  emit(o, "supra_active_sequences", "gauge", "sequences being prefilled or decoded", active_sequences);
  emit(o, "supra_cache_bytes", "gauge", "bytes held by the prefix state cache", cache_bytes);
  emit(o, "supra_cache_entries", "gauge", "prefix states held by the cache", cache_entries);
  emit(o, "supra_state_imports_running", "gauge", "state imports being read or checked", state_imports_running);
  emit(o, "supra_tokens_per_second", "gauge", "generated tokens per second, recent", tokens_per_second);
  time_to_first_token.render(o, "supra_time_to_first_token_seconds",
                             "from a request's arrival to its first generated token");
  time_per_output_token.render(o, "supra_time_per_output_token_seconds", "between generated tokens after the first");
  request_queue_time.render(o, "supra_request_queue_time_seconds", "from a request's arrival to its first step");
  e2e_request_latency.render(o, "supra_e2e_request_latency_seconds", "from a request's arrival to its last token");
  return o.str();
}

}  // namespace supra::serve
