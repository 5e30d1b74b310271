// The built-in chat templates (supra/chat_template.h) against their formats, written out here
// piece by piece with the shipped tokenizer.
#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "supra/chat_template.h"
#include "supra/error.h"
#include "supra/tokenizer.h"
#include "test_support.h"

namespace supra {
namespace {

// Each template's exact ids: text pieces tokenized alone, <s> and </s> as ids. "</s>" typed in
// a message stays text in every template.
TEST(ChatTemplate, BuiltInTemplatesRenderTheirFormat) {
  const Tokenizer tok = Tokenizer::load_folder(test::model_folder("stories260K"));
  ASSERT_TRUE(tok.add_bos());  // chatml, zephyr and raw start with BOS because of it
  const TokenId bos = tok.bos_id(), eos = tok.eos_id();
  // Concatenates pieces: a string is tokenized alone (no BOS), an id is taken as is.
  const auto ids = [&](std::initializer_list<std::variant<std::string, TokenId>> pieces) {
    std::vector<TokenId> out;
    for (const auto& p : pieces) {
      if (const auto* id = std::get_if<TokenId>(&p)) {
        out.push_back(*id);
      } else {
        const auto part = tok.encode(std::get<std::string>(p), false);
        out.insert(out.end(), part.begin(), part.end());
      }
    }
    return out;
  };
  const std::vector<ChatMessage> chat = {
      {"system", "Be kind."}, {"user", "Hi </s> there"}, {"assistant", "Hello."}, {"user", "Tell a story."}};
  const std::vector<ChatMessage> no_system(chat.begin() + 1, chat.end());
  const auto render = [&](const char* name, const std::vector<ChatMessage>& m, bool with_bos = true) {
    return render_chat(find_chat_template(name), m, tok, with_bos);
  };

  EXPECT_EQ(render("mistral", chat),
            ids({bos, "[INST] Be kind.\n\nHi </s> there [/INST]", "Hello.", eos, "[INST] Tell a story. [/INST]"}));
  EXPECT_EQ(render("llama2", chat), ids({bos, "[INST] <<SYS>>\nBe kind.\n<</SYS>>\n\nHi </s> there [/INST] Hello. ", eos,
                                         bos, "[INST] Tell a story. [/INST]"}));
  EXPECT_EQ(render("llama2", no_system),
            ids({bos, "[INST] Hi </s> there [/INST] Hello. ", eos, bos, "[INST] Tell a story. [/INST]"}));
  EXPECT_EQ(render("chatml", chat),
            ids({bos, "<|im_start|>system\nBe kind.<|im_end|>\n<|im_start|>user\nHi </s> there<|im_end|>\n"
                      "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\nTell a story.<|im_end|>\n"
                      "<|im_start|>assistant\n"}));
  EXPECT_EQ(render("zephyr", chat), ids({bos, "<|system|>\nBe kind.", eos, "\n<|user|>\nHi </s> there", eos,
                                         "\n<|assistant|>\nHello.", eos, "\n<|user|>\nTell a story.", eos,
                                         "\n<|assistant|>\n"}));
  EXPECT_EQ(render("raw", chat), tok.encode("Be kind.\nHi </s> there\nHello.\nTell a story."));
  // Continuing a state: no leading BOS, but llama2's BOS between exchanges is format.
  EXPECT_EQ(render("mistral", no_system, false),
            ids({"[INST] Hi </s> there [/INST]", "Hello.", eos, "[INST] Tell a story. [/INST]"}));
  EXPECT_EQ(render("llama2", no_system, false),
            ids({"[INST] Hi </s> there [/INST] Hello. ", eos, bos, "[INST] Tell a story. [/INST]"}));
  EXPECT_EQ(render("raw", no_system, false), tok.encode("Hi </s> there\nHello.\nTell a story.", false));
  // The role rules hold for every template.
  try {
    render("chatml", {{"user", "a"}, {"user", "b"}});
    ADD_FAILURE() << "no error for two user messages in a row";
  } catch (const InvalidChat& e) {
    EXPECT_STREQ(e.what(), "messages[1] must have role \"assistant\": after an optional system message, user and assistant alternate");
  }
  EXPECT_THROW(render("mistral", {{"system", "s"}}), InvalidChat);

  try {
    find_chat_template("vicuna");
    ADD_FAILURE() << "no error for an unknown template";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unknown chat template 'vicuna'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("mistral, llama2, chatml, zephyr, raw"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace supra
