// Up-training (docs/TRAINING.md, spec §8): linearising a softmax teacher into a SUPRA model,
// tokenizing a corpus into a shard, and the training loop with data parallelism over a
// Communicator (MPI where launched by mpirun, one process otherwise).
#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "supra/tokenizer.h"

namespace supra::train {

// ---- Linearisation (spec §8.1) ----

// Reads the teacher folder and writes the SUPRA folder atomically (config.json,
// model.safetensors, tokenizer and generation files). `out` must not exist. With
// `from_scratch` only the teacher's shapes and tokenizer are kept: every weight is newly
// initialised (open_lm's init), for a from-scratch baseline of the same architecture.
void linearize_folder(const std::filesystem::path& teacher, const std::filesystem::path& out, std::uint64_t seed,
                      bool from_scratch = false);

// ---- Corpus tokenization ----

// How a text file is cut into documents.
enum class DocumentSplit {
  File,        // the whole file is one document
  Lines,       // every non-blank line is a document
  Paragraphs,  // blocks separated by one or more blank lines
};
std::optional<DocumentSplit> parse_document_split(std::string_view name);  // "file" | "lines" | "paragraphs"

struct CorpusOptions {
  DocumentSplit split = DocumentSplit::File;
  bool eos = true;  // end every document with EOS (needs a tokenizer with an EOS id)
};

struct CorpusStats {
  std::uint64_t files = 0;
  std::uint64_t documents = 0;
  std::uint64_t tokens = 0;
  std::uint64_t bytes = 0;  // of text read
};

// Tokenizes every file (in the given order) and writes the shard atomically: each document is
// BOS + its tokens (+ EOS), with no BOS/EOS from the tokenizer's own settings.
CorpusStats tokenize_corpus(const Tokenizer& tokenizer, const std::vector<std::filesystem::path>& texts,
                            const std::filesystem::path& shard, const CorpusOptions& options);

// ---- The training loop ----

// The up-training loop (spec §8): packed sequences in a seeded order, gradient accumulation,
// data parallelism over a Communicator, AdamW with warmup + cosine LR and global-norm clipping,
// held-out validation, atomic checkpoints with bit-for-bit resume, a CSV log and a loss plot.
//
// Data parallelism: the global batch of `batch_size` rows per step is cut into
// world_size × grad_accum micro-batches of equal size; rank k computes micro-batches
// k·grad_accum … (k+1)·grad_accum − 1. Gradients and loss terms are summed over ranks and
// divided by their number, so a step equals the same step of one process with the same global
// batch (to float rounding). Only rank 0 writes files.

// Communicator: what data-parallel training needs from the processes it runs in (rank, size,
// sums across ranks, broadcast, barrier). The trainer talks only to this interface, so the
// transport (MPI today, NCCL later) stays behind it.
class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Every rank ends with the element-wise sum over all ranks (same values on every rank).
  virtual void allreduce_sum(std::span<float> values) = 0;
  virtual void allreduce_sum(std::span<double> values) = 0;
  // Every rank ends with the bytes of rank `root`.
  virtual void broadcast(std::span<std::byte> bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every process of the job: after an error on one rank, the others would otherwise wait
  // forever in the next collective.
  [[noreturn]] virtual void abort(int exit_code) = 0;
};

// The MPI communicator when this build has MPI and the process was started by a launcher;
// otherwise one process, so that `supra train` without mpirun never touches MPI (an MPI
// singleton start spawns helper daemons and fails in many containers).
std::unique_ptr<Communicator> make_communicator();

// Precision of the matrix products; parameters, gradients and optimizer stay float32.
enum class ComputePrecision { F32, BF16 };

struct AdamWConfig {
  double beta1 = 0.9;
  double beta2 = 0.95;
  double eps = 1e-8;
  double weight_decay = 0.1;
};

struct TrainOptions {
  std::filesystem::path model;  // starting model folder (ignored when resuming)
  std::filesystem::path out;    // run folder: log, plot, checkpoints/, model/
  std::vector<std::filesystem::path> data;
  std::vector<std::filesystem::path> val_data;  // held-out shards, or
  double val_fraction = 0;                      // the last fraction of the training sequences
  std::int64_t seq_len = 2048;
  std::int64_t batch_size = 8;  // global rows per optimizer step
  std::int64_t grad_accum = 1;  // micro-batches per step on each rank
  std::int64_t steps = 0;
  double lr = 3e-4;
  double end_lr = 1e-5;
  std::int64_t warmup = 0;
  AdamWConfig adam;
  double grad_clip = 1.0;  // 0: no clipping
  double z_loss = 0;
  ComputePrecision precision = ComputePrecision::F32;
  std::uint64_t seed = 0;
  std::int64_t eval_every = 0;  // steps between validations (0: only after the last step)
  std::int64_t eval_batches = 8;  // validation batches of batch_size rows (fewer if the set is smaller)
  std::int64_t checkpoint_every = 0;  // 0: no checkpoints
  bool resume = false;
  int threads = 0;  // OpenMP threads per rank (0: the runtime's default)
  bool progress = true;  // progress on stderr (rank 0)
};

struct TrainSummary {
  std::int64_t steps = 0;  // total optimizer steps of the run
  double last_loss = 0;
  std::optional<double> last_val_loss;
  std::filesystem::path model_dir;  // the exported final model
};

// Checks the options (sizes, ranges, files); throws supra::Error with the flag's name.
void validate_options(const TrainOptions& options, int world_size);

TrainSummary train(const TrainOptions& options, Communicator& comm);

// The trainer's validation loss (at F32 precision) of a model folder on token shards
// (tokenize_corpus's format): mean cross-entropy over their first `max_sequences` packed
// sequences (0: all) of seq_len + 1 tokens, every position scored from an empty state
// (`supra perplexity --shard`). Throws
// supra::Error when the shards do not fit the model or hold less than one sequence.
struct ShardLoss {
  std::uint64_t sequences = 0;
  std::int64_t seq_len = 0;
  double scored_tokens = 0;
  double cross_entropy = 0;
};
ShardLoss shard_loss(const std::filesystem::path& model_folder, const std::vector<std::filesystem::path>& shards,
                     std::int64_t seq_len, std::uint64_t max_sequences = 0);

}  // namespace supra::train
