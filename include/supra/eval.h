// Evaluation: the model card's benchmarks built and scored the way EleutherAI
// lm-evaluation-harness does (shared docs/lm-eval-protocol.md), plus perplexity.
//
//   load_documents   data files -> documents with lm-eval's (context, continuation) requests
//   encode_pair      a request -> token ids (whitespace move, whole-then-split, BOS per profile)
//   Scorer           token ids -> per-choice log-likelihoods through the model, reading a
//                    context shared by the choices (or by the few-shot header of many
//                    documents) once and forking the recurrent state for each continuation;
//                    several documents at a time, in batched model steps (Model::forward(Batch&))
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "supra/model.h"
#include "supra/tokenizer.h"

namespace supra::eval {

// The two harness behaviours that changed over time (protocol §1).
enum class Profile {
  V0_4_2,   // the paper's era: no BOS; MMLU description ends in "\n"
  V0_4_12,  // current: BOS prepended; MMLU description ends in "\n\n"
};
std::optional<Profile> parse_profile(std::string_view name);  // "v0.4.2" | "v0.4.12"
std::string_view profile_name(Profile profile);

// One loglikelihood request, exactly as lm-eval builds it (before the whitespace move).
struct Request {
  std::string context;
  std::string continuation;
};

struct Document {
  std::string task;                  // lm-eval task name: "arc_easy", ..., "mmlu_abstract_algebra"
  std::int64_t doc_id = 0;           // index in the task's evaluation split
  std::vector<Request> requests;     // one per choice, in choice order
  std::vector<std::string> choices;  // doc_to_choice strings; their code-point lengths divide for acc_norm
  int gold = 0;
  bool reports_acc_norm = true;      // false for WinoGrande and MMLU
  std::string source_file;           // data file (relative to the data dir) and row, for messages
  std::int64_t source_row = 0;
};

struct TaskOptions {
  Profile profile = Profile::V0_4_2;
  std::optional<int> num_fewshot;  // default: 5 for MMLU, 0 for the others
};

// The six tasks, in the order results are reported.
const std::vector<std::string>& task_names();

// Reads the documents of `task` ("mmlu" = every subject, alphabetical, as lm-eval orders them)
// from a data folder laid out like the shared assets/eval (llm-foundry/, piqa-original/,
// hellaswag/, mmlu/). Malformed data throws supra::Error naming the file and line.
std::vector<Document> load_documents(const std::string& task, const std::filesystem::path& data_dir,
                                     const TaskOptions& options);

struct EncodedRequest {
  std::vector<TokenId> context;       // BOS first in profile v0.4.12
  std::vector<TokenId> continuation;
};

// lm-eval's TemplateLM._encode_pair (protocol §3).
EncodedRequest encode_pair(const Tokenizer& tokenizer, const Request& request, Profile profile);

struct ChoiceScore {
  double loglikelihood = 0;
  bool is_greedy = false;
  std::int64_t input_len = 0;   // model input length after truncation and dropping the last token
  std::int64_t truncated = 0;   // tokens cut from the left
};

// Scores requests with lm-eval's HFLM rules (protocol §4): input (ctx + cont) cut from the left
// to max_length + 1 tokens, last token dropped; log-softmax in float64 over fp32 logits.
//
// Documents are scored in groups: consecutive documents with at most batch_size distinct
// contexts in all (a document with more makes a group alone). Contexts of a group that share
// most of their tokens (a few-shot header, WinoGrande's two contexts) read that shared header
// once and continue from copies of its state. A group runs batched model steps of at most
// batch_size sequences each: its headers, its contexts, then every choice's continuation from a
// copy of its context's state. So at most batch_size states are forked at a time, and the
// scores equal those of batch_size 1 to float rounding.
class Scorer {
 public:
  explicit Scorer(const Model& model, int max_length = 2048, int batch_size = 16);
  // The requests of one document (its choices).
  std::vector<ChoiceScore> score(const std::vector<EncodedRequest>& requests);
  // The requests of several documents (one vector per document, its choices in order), scored
  // together; the result has one vector per document. Every request is checked before any work.
  std::vector<std::vector<ChoiceScore>> score_documents(const std::vector<std::vector<EncodedRequest>>& documents);
  // Throws supra::Error when a request cannot be scored: an empty continuation, no context left
  // to predict it from within max_length, or a token id outside the model's vocabulary.
  void check(const EncodedRequest& request) const;
  int batch_size() const { return batch_size_; }
  std::int64_t tokens_processed() const { return tokens_processed_; }

 private:
  // The model's state after `tokens`, and the logits after their last token.
  struct Checkpoint {
    std::vector<TokenId> tokens;
    State state;
    std::vector<float> logits;
  };
  struct Request;  // a request after truncation, placed in its group
  // Scores a group's requests; `contexts` is the number of distinct contexts among them.
  void score_group(std::vector<Request>& requests, std::size_t contexts);
  // One batched model step over `sequences` (at most batch_size of them); their logits are
  // then batch_.logits(i).
  struct Sequence {
    std::span<const TokenId> ids;
    State* state;
    LogitsWanted wanted;
  };
  void step(std::span<const Sequence> sequences);

  const Model& model_;
  int max_length_;
  int batch_size_;
  // The model's working memory, reused by every step. Scores need no bit-exactness between
  // batch sizes (only sampling does): the fused products are fastest for many choices at once.
  Batch batch_{Batch::Rows::Fused};
  // Carried from group to group, so that the few-shot header the documents of a task share is
  // read once, not once per group: the last header read that the next documents may start
  // with (empty before there is one), and the previous group's last context.
  Checkpoint header_;
  std::vector<TokenId> last_context_;
  std::int64_t tokens_processed_ = 0;
};

}  // namespace supra::eval
