// The JSON reader of untrusted files (io/json_file.h) and the regular-file checks behind it
// (io/input_file.h): depth limits, size caps, FIFOs and devices, short error quotes.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "expect_error.h"
#include "io/input_file.h"
#include "io/json_file.h"
#include "test_support.h"

namespace supra {
namespace {

namespace fs = std::filesystem;

std::string nested(std::size_t depth, const std::string& inner = "1") {
  return std::string(depth, '[') + inner + std::string(depth, ']');
}

TEST(JsonDepth, TheLimitIsExact) {
  EXPECT_NO_THROW(check_json_depth(nested(kMaxJsonDepth), "t"));
  EXPECT_SUPRA_ERROR(check_json_depth(nested(kMaxJsonDepth + 1), "t"), "t: JSON nested deeper than 64 levels");
  EXPECT_NO_THROW(check_json_depth(nested(3), "t", 3));
  EXPECT_SUPRA_ERROR(check_json_depth("{\"a\":{\"b\":[{}]}}", "t", 3), "deeper than 3");
}

TEST(JsonDepth, BracketsInStringsDoNotCount) {
  const std::string brackets = "\"" + std::string(1000, '[') + "\\\"" + std::string(1000, '{') + "\"";
  EXPECT_NO_THROW(check_json_depth("[" + brackets + "]", "t", 1));
  EXPECT_EQ(parse_json("[" + brackets + "]", "t", 1)[0].get<std::string>().size(), 2001u);
  // An escaped backslash before the closing quote ends the string: the brackets after it count.
  EXPECT_SUPRA_ERROR(check_json_depth("[\"\\\\\", [[1]]]", "t", 2), "deeper than 2");
}

TEST(JsonParse, DeepNestingIsAnErrorNotACrash) {
  // 100k levels crashed nlohmann's recursive copy; the pre-scan stops before the parser runs.
  for (const std::string& text : {nested(100000), std::string(100000, '{'),
                                  "{\"dim\": " + std::string(60000, '[') + "1" + std::string(60000, ']') + "}"})
    EXPECT_SUPRA_ERROR(parse_json(text, "config.json"), "config.json: JSON nested deeper than 64 levels");
}

TEST(JsonParse, ErrorsAreShortAndOneLine) {
  // An unterminated megabyte string: the parser's message quotes the token it stopped in.
  const std::string text = "{\"a\": \"" + std::string(1 << 20, 'x');
  try {
    parse_json(text, "f.json");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_LT(message.size(), 300u);
    EXPECT_NE(message.find("f.json: invalid JSON"), std::string::npos) << message;
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_SUPRA_ERROR(parse_json("{\"a\": 1e99999}", "f.json"), "invalid JSON");
  EXPECT_SUPRA_ERROR(parse_json("", "f.json"), "invalid JSON");
}

TEST(JsonQuote, QuotesAreCut) {
  nlohmann::json big = nlohmann::json::array();
  for (int i = 0; i < 100000; ++i) big.push_back(i);
  const std::string quoted = quote_json(big);
  EXPECT_LE(quoted.size(), 83u);
  EXPECT_EQ(quoted.substr(0, 7), "[0,1,2,");
  EXPECT_EQ(quoted.substr(quoted.size() - 3), "...");
  EXPECT_EQ(quote_json(nlohmann::json::parse(R"({"a":[1,"x"]})")), R"({"a":[1,"x"]})");
  EXPECT_EQ(quote_json(std::string(200, 'y')).size(), 83u);
  // Never inside a UTF-8 sequence.
  const std::string cut = shorten_text(std::string(79, 'a') + "\xC3\xA9", 80);
  EXPECT_EQ(cut, std::string(79, 'a') + "...");
}

class HostileFiles : public ::testing::Test {
 protected:
  fs::path path(const std::string& name) const { return dir_.path() / name; }
  test::TempDir dir_;
};

TEST_F(HostileFiles, FifosAreRefusedWithoutBlocking) {
  ASSERT_EQ(::mkfifo(path("config.json").c_str(), 0600), 0);
  EXPECT_SUPRA_ERROR(read_json_file(path("config.json")), "config.json: not a regular file (a FIFO)");
  EXPECT_SUPRA_ERROR(read_small_file(path("config.json"), 100), "not a regular file (a FIFO)");
  EXPECT_SUPRA_ERROR(open_regular_file(path("config.json")), "not a regular file (a FIFO)");
}

TEST_F(HostileFiles, DevicesDirectoriesAndSocketsAreRefused) {
  fs::create_symlink("/dev/zero", path("zero.json"));
  EXPECT_SUPRA_ERROR(read_json_file(path("zero.json")), "zero.json: not a regular file (a character device)");
  fs::create_directory(path("dir.json"));
  EXPECT_SUPRA_ERROR(read_json_file(path("dir.json")), "not a regular file (a directory)");

  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string socket_path = path("s.json").string();
  if (socket_path.size() < sizeof address.sun_path) {
    socket_path.copy(address.sun_path, socket_path.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address), 0);
    EXPECT_SUPRA_ERROR(read_json_file(path("s.json")), "not a regular file (a socket)");
  }
  ::close(fd);
  EXPECT_SUPRA_ERROR(read_json_file(path("missing.json")), "cannot open " + path("missing.json").string());
}

TEST_F(HostileFiles, SizesAreCapped) {
  test::write_file(path("big.json"), "[" + std::string(2000, ' ') + "]");
  EXPECT_EQ(read_json_file(path("big.json"), 2002), nlohmann::json::array());
  EXPECT_SUPRA_ERROR(read_json_file(path("big.json"), 2001), "larger than the 2001-byte limit");
  test::write_file(path("empty"), "");
  EXPECT_EQ(read_small_file(path("empty"), 0), "");
  EXPECT_EQ(read_small_file(path("big.json"), 1 << 20).size(), 2002u);
}

}  // namespace
}  // namespace supra
