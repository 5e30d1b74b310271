// Runs a piece of a test in a forked child whose address space is capped (RLIMIT_AS at the
// parent's current size plus a budget), so that a loader fed a hostile file is held to a
// memory bound: an allocation past the cap fails in the child, never on the machine.
#pragma once
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <new>
#include <string>

#include "supra/error.h"
#include "test_support.h"

namespace supra::test {

// What the capped child reported.
enum class CappedOutcome { Ok = 0, WrongResult = 1, OutOfMemory = 2, OtherException = 3, Crashed = 4 };

inline const char* describe(CappedOutcome o) {
  switch (o) {
    case CappedOutcome::Ok: return "ok";
    case CappedOutcome::WrongResult: return "finished with the wrong result";
    case CappedOutcome::OutOfMemory: return "ran out of its memory budget (std::bad_alloc)";
    case CappedOutcome::OtherException: return "threw something other than supra::Error";
    case CappedOutcome::Crashed: return "crashed";
  }
  return "?";
}

// Calls `body` in a child limited to `budget_bytes` more address space than this process has
// now. `body` returns whether the result is the expected one; a supra::Error it lets escape
// counts as `error_is_ok`.
inline CappedOutcome run_with_memory_cap(std::uint64_t budget_bytes, const std::function<bool()>& body,
                                         bool error_is_ok = false) {
  std::uint64_t pages = 0;
  std::ifstream("/proc/self/statm") >> pages;
  const std::uint64_t limit = pages * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE)) + budget_bytes;
  const pid_t pid = ::fork();
  if (pid == 0) {
    const rlimit cap{limit, limit};
    ::setrlimit(RLIMIT_AS, &cap);
    int code = 0;
    try {
      code = body() ? 0 : 1;
    } catch (const std::bad_alloc&) {
      code = 2;
    } catch (const supra::Error&) {
      code = error_is_ok ? 0 : 1;
    } catch (...) {
      code = 3;
    }
    ::_exit(code);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status)) return CappedOutcome::Crashed;
  return static_cast<CappedOutcome>(WEXITSTATUS(status));
}

}  // namespace supra::test
