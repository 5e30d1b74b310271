// Token shards (format, round trip, damaged files), corpus tokenization, packed sequences and
// the seeded data order.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <numeric>
#include <set>

#include "supra/error.h"
#include "supra/tokenizer.h"
#include "train/token_dataset.h"
#include "train/token_shard.h"
#include "train/tokenize_corpus.h"
#include "train_helpers.h"

namespace supra::test::train_tests {
namespace {

using namespace supra::train;

std::vector<TokenId> read_all(const TokenShard& s) {
  std::vector<TokenId> out(s.size());
  s.read(0, out);
  return out;
}

void expect_open_error(const fs::path& path, const std::string& needle) {
  try {
    TokenShard::open(path);
    ADD_FAILURE() << "opened " << path;
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.string()), std::string::npos) << e.what();
  }
}

TEST(TokenShard, RoundTripTwoByteTokens) {
  TempDir tmp;
  const std::vector<TokenId> written = write_random_shard(tmp.path() / "a.bin", 512, 37, 9);
  const TokenShard s = TokenShard::open(tmp.path() / "a.bin");
  EXPECT_EQ(s.vocab_size(), 512);
  EXPECT_EQ(s.documents(), 37u);
  EXPECT_EQ(read_all(s), written);
  EXPECT_EQ(fs::file_size(tmp.path() / "a.bin"), kShardHeaderBytes + 2 * written.size());
  // A window in the middle.
  std::vector<TokenId> part(11);
  s.read(100, part);
  EXPECT_TRUE(std::equal(part.begin(), part.end(), written.begin() + 100));
}

TEST(TokenShard, LargeVocabulariesUseFourByteTokens) {
  TempDir tmp;
  {
    ShardWriter w(tmp.path() / "big.bin", 70000);
    w.add_document(std::vector<TokenId>{1, 65535, 65536, 69999, 2});
    w.add_document(std::vector<TokenId>{});
    w.finish();
  }
  const TokenShard s = TokenShard::open(tmp.path() / "big.bin");
  EXPECT_EQ(read_all(s), (std::vector<TokenId>{1, 65535, 65536, 69999, 2}));
  EXPECT_EQ(s.documents(), 2u);
  EXPECT_EQ(fs::file_size(tmp.path() / "big.bin"), kShardHeaderBytes + 4 * 5);
}

TEST(TokenShard, HeaderLayoutIsTheDocumentedOne) {
  TempDir tmp;
  {
    ShardWriter w(tmp.path() / "h.bin", 300);
    w.add_document(std::vector<TokenId>{1, 299, 2});
    w.finish();
  }
  const std::string b = read_file(tmp.path() / "h.bin");
  ASSERT_EQ(b.size(), 46u);
  auto u32 = [&](std::size_t at) { std::uint32_t v; std::memcpy(&v, b.data() + at, 4); return v; };
  auto u64 = [&](std::size_t at) { std::uint64_t v; std::memcpy(&v, b.data() + at, 8); return v; };
  EXPECT_EQ(b.substr(0, 8), "SUPRATOK");
  EXPECT_EQ(u32(8), 1u);    // version
  EXPECT_EQ(u32(12), 2u);   // token width
  EXPECT_EQ(u32(16), 300u); // vocabulary
  EXPECT_EQ(u32(20), 0u);
  EXPECT_EQ(u64(24), 3u);   // tokens
  EXPECT_EQ(u64(32), 1u);   // documents
  EXPECT_EQ(static_cast<unsigned char>(b[42]), 299 & 0xff);
  EXPECT_EQ(static_cast<unsigned char>(b[43]), 299 >> 8);
}

TEST(TokenShard, DamagedFilesGiveClearErrors) {
  TempDir tmp;
  const fs::path good = tmp.path() / "good.bin";
  write_random_shard(good, 512, 5, 1);
  const std::string bytes = read_file(good);

  write_file(tmp.path() / "truncated.bin", bytes.substr(0, bytes.size() - 3));
  expect_open_error(tmp.path() / "truncated.bin", "truncated");
  write_file(tmp.path() / "padded.bin", bytes + "xx");
  expect_open_error(tmp.path() / "padded.bin", "wrong size");
  write_file(tmp.path() / "short.bin", bytes.substr(0, 20));
  expect_open_error(tmp.path() / "short.bin", "bad magic");
  std::string magic = bytes;
  magic[0] = 'X';
  write_file(tmp.path() / "magic.bin", magic);
  expect_open_error(tmp.path() / "magic.bin", "bad magic");
  std::string version = bytes;
  version[8] = 9;
  write_file(tmp.path() / "version.bin", version);
  expect_open_error(tmp.path() / "version.bin", "version 9");
  std::string width = bytes;
  width[12] = 3;
  write_file(tmp.path() / "width.bin", width);
  expect_open_error(tmp.path() / "width.bin", "width 3");
  std::string huge = bytes;
  std::memset(huge.data() + 24, 0xff, 8);  // a count whose byte size overflows
  write_file(tmp.path() / "huge.bin", huge);
  expect_open_error(tmp.path() / "huge.bin", "bytes");
  expect_open_error(tmp.path() / "absent.bin", "not found");

  // A token beyond the announced vocabulary is reported when read.
  std::string bad_token = bytes;
  bad_token[kShardHeaderBytes] = static_cast<char>(0xff);
  bad_token[kShardHeaderBytes + 1] = static_cast<char>(0xff);
  write_file(tmp.path() / "token.bin", bad_token);
  const TokenShard s = TokenShard::open(tmp.path() / "token.bin");
  std::vector<TokenId> out(4);
  EXPECT_THROW(s.read(0, out), Error);
  EXPECT_THROW(s.read(s.size() - 2, out), Error);  // past the end
}

TEST(TokenShard, WriterRejectsIdsOutsideTheVocabularyAndLeavesNothing) {
  TempDir tmp;
  {
    ShardWriter w(tmp.path() / "x.bin", 10);
    EXPECT_THROW(w.add_document(std::vector<TokenId>{1, 10}), Error);
    EXPECT_THROW(w.add_document(std::vector<TokenId>{-1}), Error);
  }  // never finished
  EXPECT_TRUE(fs::is_empty(tmp.path()));
}

TEST(Corpus, SplitsDocuments) {
  const std::string text = "one\r\ntwo a\n\n  \nthree\nfour\n\n";
  EXPECT_EQ(split_documents(text, DocumentSplit::File), (std::vector<std::string_view>{text}));
  EXPECT_EQ(split_documents(text, DocumentSplit::Lines),
            (std::vector<std::string_view>{"one", "two a", "three", "four"}));
  EXPECT_EQ(split_documents(text, DocumentSplit::Paragraphs),
            (std::vector<std::string_view>{"one\r\ntwo a", "three\nfour"}));
  EXPECT_TRUE(split_documents(" \n\t", DocumentSplit::File).empty());
  EXPECT_FALSE(parse_document_split("words").has_value());
}

TEST(Corpus, DocumentsAreBosTokensEos) {
  TempDir tmp;
  write_file(tmp.path() / "a.txt", "Once upon a time\n\nThe cat sat.\n");
  write_file(tmp.path() / "b.txt", "Lily was happy.");
  const Tokenizer tok = Tokenizer::load_folder(stories());
  const CorpusStats st = tokenize_corpus(tok, {tmp.path() / "a.txt", tmp.path() / "b.txt"}, tmp.path() / "c.bin",
                                         {DocumentSplit::Paragraphs, true});
  std::vector<TokenId> expected;
  for (const char* doc : {"Once upon a time", "The cat sat.", "Lily was happy."}) {
    expected.push_back(tok.bos_id());
    const auto ids = tok.encode(doc, false);
    expected.insert(expected.end(), ids.begin(), ids.end());
    expected.push_back(tok.eos_id());
  }
  const TokenShard s = TokenShard::open(tmp.path() / "c.bin");
  EXPECT_EQ(read_all(s), expected);
  EXPECT_EQ(st.documents, 3u);
  EXPECT_EQ(st.files, 2u);
  EXPECT_EQ(st.tokens, expected.size());
  EXPECT_EQ(s.vocab_size(), 512);

  tokenize_corpus(tok, {tmp.path() / "b.txt"}, tmp.path() / "d.bin", {DocumentSplit::File, false});
  std::vector<TokenId> no_eos{tok.bos_id()};
  const auto ids = tok.encode("Lily was happy.", false);
  no_eos.insert(no_eos.end(), ids.begin(), ids.end());
  EXPECT_EQ(read_all(TokenShard::open(tmp.path() / "d.bin")), no_eos);
}

TEST(Corpus, CommandLine) {
  TempDir tmp;
  write_file(tmp.path() / "a.txt", "one line\nanother line\n");
  const CliResult r = run_cli("tokenize-data -m " + q(stories()) + " --out " + q(tmp.path() / "a.bin") +
                              " --split lines " + q(tmp.path() / "a.txt"));
  ASSERT_EQ(r.exit_code, 0) << describe(r);
  EXPECT_NE(r.out.find("2 documents"), std::string::npos) << r.out;
  EXPECT_EQ(TokenShard::open(tmp.path() / "a.bin").documents(), 2u);
  expect_cli_error(run_cli("tokenize-data -m " + q(stories()) + " --out " + q(tmp.path() / "b.bin") +
                           " --split words " + q(tmp.path() / "a.txt")),
                   "--split");
  expect_cli_error(run_cli("tokenize-data -m " + q(tmp.path()) + " --out " + q(tmp.path() / "b.bin") + " " +
                           q(tmp.path() / "a.txt")),
                   "tokenizer");
  EXPECT_FALSE(fs::exists(tmp.path() / "b.bin"));
}

TEST(TokenDataset, PackedSequencesSpanShards) {
  TempDir tmp;
  std::vector<TokenId> all = write_random_shard(tmp.path() / "a.bin", 512, 3, 1);
  const std::vector<TokenId> second = write_random_shard(tmp.path() / "b.bin", 512, 4, 2);
  all.insert(all.end(), second.begin(), second.end());
  const TokenDataset d({tmp.path() / "a.bin", tmp.path() / "b.bin"}, 15);
  EXPECT_EQ(d.tokens(), all.size());
  EXPECT_EQ(d.sequences(), all.size() / 16);
  std::vector<TokenId> seq(16);
  for (std::uint64_t i = 0; i < d.sequences(); ++i) {
    d.read_sequence(i, seq);
    ASSERT_TRUE(std::equal(seq.begin(), seq.end(), all.begin() + static_cast<std::ptrdiff_t>(i * 16))) << i;
  }
  EXPECT_THROW(d.read_sequence(d.sequences(), seq), Error);

  ShardWriter other(tmp.path() / "c.bin", 600);
  other.add_document(std::vector<TokenId>{1, 2});
  other.finish();
  EXPECT_THROW(TokenDataset({tmp.path() / "a.bin", tmp.path() / "c.bin"}, 15), Error);
}

TEST(TokenDataset, ValidationSplitTakesTheTail) {
  const auto [train, val] = split_validation(100, 0.1);
  EXPECT_EQ(train.begin, 0u);
  EXPECT_EQ(train.count, 90u);
  EXPECT_EQ(val.begin, 90u);
  EXPECT_EQ(val.count, 10u);
  EXPECT_EQ(split_validation(10, 0.01).second.count, 1u);  // at least one
  EXPECT_THROW(split_validation(1, 0.5), Error);
  EXPECT_THROW(split_validation(100, 0.0), Error);
}

TEST(SequenceOrder, EachEpochIsAPermutationFixedByTheSeed) {
  const SequenceRange range{5, 50};
  SequenceOrder a(range, 11), b(range, 11), c(range, 12);
  std::vector<std::uint64_t> ea, eb, ec;
  for (std::uint64_t p = 0; p < 150; ++p) ea.push_back(a.at(p)), eb.push_back(b.at(p)), ec.push_back(c.at(p));
  EXPECT_EQ(ea, eb);
  EXPECT_NE(ea, ec);
  for (int e = 0; e < 3; ++e) {
    std::set<std::uint64_t> seen(ea.begin() + e * 50, ea.begin() + (e + 1) * 50);
    EXPECT_EQ(seen.size(), 50u);
    EXPECT_EQ(*seen.begin(), 5u);
    EXPECT_EQ(*seen.rbegin(), 54u);
  }
  EXPECT_FALSE(std::equal(ea.begin(), ea.begin() + 50, ea.begin() + 50));  // reshuffled per epoch
  std::vector<std::uint64_t> identity(50);
  std::iota(identity.begin(), identity.end(), 5);
  EXPECT_FALSE(std::equal(ea.begin(), ea.begin() + 50, identity.begin()));
  // Random access (a resumed run starts mid-epoch) gives the same sequence.
  SequenceOrder d(range, 11);
  for (std::uint64_t p : {120u, 3u, 77u, 149u}) EXPECT_EQ(d.at(p), ea[p]) << p;
}

}  // namespace
}  // namespace supra::test::train_tests
