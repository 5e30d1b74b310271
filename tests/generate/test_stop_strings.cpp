// StopMatcher (supra/stop_strings.h): stop strings found across token boundaries, and no part of
// one ever given out.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "supra/stop_strings.h"

namespace supra {
namespace {

// Pushes `pieces` one by one; returns everything given out, finish() included.
std::string run(StopMatcher& m, const std::vector<std::string>& pieces) {
  std::string out;
  for (const auto& p : pieces) out += m.push(p);
  return out + m.finish();
}

TEST(StopMatcher, StopsAtAStringSplitAcrossPieces) {
  StopMatcher m({"\n\nUser:"});
  EXPECT_EQ(m.push("Hello"), "Hello");
  EXPECT_EQ(m.push(" there\n"), " there");  // "\n" may start the stop string: held back
  EXPECT_EQ(m.push("\nUs"), "");
  EXPECT_FALSE(m.stopped());
  EXPECT_EQ(m.push("er: more"), "");
  EXPECT_TRUE(m.stopped());
  EXPECT_EQ(m.push("anything"), "");
  EXPECT_EQ(m.finish(), "");
}

TEST(StopMatcher, HeldTextThatDoesNotStopIsGivenOut) {
  StopMatcher m({"END"});
  EXPECT_EQ(m.push("the EN"), "the ");
  EXPECT_EQ(m.push("D"), "");
  EXPECT_TRUE(m.stopped());
  StopMatcher n({"END"});
  EXPECT_EQ(run(n, {"the EN", "tire"}), "the ENtire");
  StopMatcher o({"END"});
  EXPECT_EQ(run(o, {"the E"}), "the E");  // the end of generation: held text is text after all
  EXPECT_FALSE(o.stopped());
}

TEST(StopMatcher, TheEarliestOfSeveralStringsWins) {
  StopMatcher m({"cd", "b"});
  EXPECT_EQ(run(m, {"abcd"}), "a");
  StopMatcher n({"xyz", "yz!"});
  EXPECT_EQ(run(n, {"wx", "y", "z!"}), "w");
}

TEST(StopMatcher, WithoutStringsEverythingPasses) {
  StopMatcher m({});
  EXPECT_EQ(m.push("a\n"), "a\n");
  EXPECT_EQ(m.finish(), "");
}

}  // namespace
}  // namespace supra
