#include "supra/train.h"

#include <omp.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <tuple>
#include <cstdio>
#include <string>

#include "train/communicator.h"
#include "train/optimizer.h"
#include "train/trainable_model.h"
#include "supra/error.h"
#include "io/model_folder.h"
#include "train/checkpoint_manifest.h"
#include "train/png_file.h"
#include "train/progress_bar.h"
#include "train/resume_check.h"
#include "train/run_folder.h"
#include "train/token_dataset.h"
#include "train/train_checkpoint.h"
#include "train/train_log.h"
#include "train/validation_loss.h"

namespace supra::train {
namespace fs = std::filesystem;

namespace {

std::string exact(double v) {
  char s[40];
  std::snprintf(s, sizeof s, "%.17g", v);
  return s;
}

// What decides the trajectory of a run; a resumed run must match it exactly.
std::map<std::string, std::string> run_settings(const TrainOptions& o, const TokenDataset& data,
                                                const std::string& validation) {
  return {{"seq_len", std::to_string(o.seq_len)},
          {"batch_size", std::to_string(o.batch_size)},
          {"steps", std::to_string(o.steps)},
          {"lr", exact(o.lr)},
          {"end_lr", exact(o.end_lr)},
          {"warmup", std::to_string(o.warmup)},
          {"beta1", exact(o.adam.beta1)},
          {"beta2", exact(o.adam.beta2)},
          {"eps", exact(o.adam.eps)},
          {"weight_decay", exact(o.adam.weight_decay)},
          {"grad_clip", exact(o.grad_clip)},
          {"z_loss", exact(o.z_loss)},
          {"precision", o.precision == ComputePrecision::BF16 ? "bf16" : "f32"},
          {"seed", std::to_string(o.seed)},
          {"train_tokens", std::to_string(data.tokens())},
          {"validation", validation}};
}

std::string value_text(double v) {
  if (std::isnan(v)) return "nan";  // not "-nan": the sign of a NaN means nothing
  char s[32];
  std::snprintf(s, sizeof s, "%g", v);
  return s;
}

// The error that ends a run whose numbers stopped being finite at `step`. Nothing of that step
// was saved; the newest checkpoint, if any, is intact (a deterministic run resumed from it would
// diverge again at the same step, so the advice is a new run from it).
Error diverged(std::int64_t step, const std::string& what, std::int64_t checkpoint_step, const fs::path& checkpoints) {
  std::string msg = "step " + std::to_string(step) + ": " + what + ": training stopped";
  if (checkpoint_step > 0)
    return Error(msg + "; the last good checkpoint is step " + std::to_string(checkpoint_step) + " in " +
                 checkpoints.string() + " (a model folder: start a new run from it with a smaller --lr, or with --grad-clip)");
  return Error(msg + " before any checkpoint (try a smaller --lr, or --grad-clip)");
}

void write_loss_plot(const fs::path& path, const std::vector<StepRecord>& log) {
  PlotSeries train{"train", {}, {31, 119, 180}, false};
  PlotSeries val{"validation", {}, {255, 127, 14}, true};
  for (const StepRecord& r : log) {
    train.points.emplace_back(static_cast<double>(r.step), r.loss);
    if (r.val_loss) val.points.emplace_back(static_cast<double>(r.step), *r.val_loss);
  }
  std::vector<PlotSeries> series{train};
  if (!val.points.empty()) series.push_back(val);
  write_png(path, render_line_plot(series, {"step", "loss"}));
}

void rewrite_log(const fs::path& path, const std::vector<StepRecord>& log) {
  std::string csv = csv_header();
  for (const StepRecord& r : log) csv += csv_row(r);
  write_text_file(path, csv);
}

void export_model(const fs::path& dir, const fs::path& files_from, const ParameterSet& params) {
  write_folder_atomically(
      dir,
      [&](const fs::path& tmp) {
        copy_file_synced(files_from / "config.json", tmp / "config.json");
        copy_tokenizer_files(files_from, tmp);
        save_parameters(tmp / "model.safetensors", params, {{"format", "pt"}});
      },
      /*replace=*/true);
}

// Appends rows to the run's CSV as they come (rank 0), flushed after each; a row that cannot
// be written (disk full) ends the run rather than vanish from the log.
class LogAppender {
 public:
  explicit LogAppender(const fs::path& path) : path_(path), file_(std::fopen(path.c_str(), "ab")) {
    if (file_ == nullptr) throw Error("cannot append to " + path.string() + ": " + std::strerror(errno));
  }
  ~LogAppender() { std::fclose(file_); }
  LogAppender(const LogAppender&) = delete;
  LogAppender& operator=(const LogAppender&) = delete;
  void add(const StepRecord& r) {
    const std::string row = csv_row(r);
    if (std::fwrite(row.data(), 1, row.size(), file_) != row.size() || std::fflush(file_) != 0)
      throw Error("cannot append to " + path_.string() + ": " + std::strerror(errno));
  }

 private:
  fs::path path_;
  std::FILE* file_;
};

}  // namespace

void validate_options(const TrainOptions& o, int world_size) {
  auto need = [](bool ok, const std::string& what) {
    if (!ok) throw Error(what);
  };
  need(!o.out.empty(), "--out: a run folder is required");
  need(o.resume || !o.model.empty(), "--model: a model folder is required (or --resume)");
  need(!o.data.empty(), "--data: at least one token shard is required");
  need(o.steps > 0, "--steps must be positive");
  need(o.seq_len > 0, "--seq-len must be positive");
  need(o.batch_size > 0, "--batch-size must be positive");
  need(o.grad_accum > 0, "--grad-accum must be positive");
  need(o.batch_size % (o.grad_accum * world_size) == 0,
       "--batch-size " + std::to_string(o.batch_size) + " must be a multiple of ranks × --grad-accum (" +
           std::to_string(world_size) + " × " + std::to_string(o.grad_accum) + ")");
  need(o.lr > 0 && std::isfinite(o.lr), "--lr must be positive");
  need(o.end_lr >= 0 && o.end_lr <= o.lr, "--end-lr must be in [0, --lr]");
  need(o.warmup >= 0 && o.warmup <= o.steps, "--warmup must be in [0, --steps]");
  need(o.adam.beta1 >= 0 && o.adam.beta1 < 1, "--beta1 must be in [0, 1)");
  need(o.adam.beta2 >= 0 && o.adam.beta2 < 1, "--beta2 must be in [0, 1)");
  need(o.adam.eps > 0, "--eps must be positive");
  need(o.adam.weight_decay >= 0, "--weight-decay must not be negative");
  need(o.grad_clip >= 0, "--grad-clip must not be negative (0 turns clipping off)");
  need(o.z_loss >= 0, "--z-loss must not be negative");
  need(o.val_fraction >= 0 && o.val_fraction < 1, "--val-fraction must be in [0, 1)");
  need(o.val_data.empty() || o.val_fraction == 0, "--val-data and --val-fraction exclude each other");
  need(o.eval_every >= 0, "--eval-every must not be negative");
  need(o.eval_batches > 0, "--eval-batches must be positive");
  need(o.eval_every == 0 || !o.val_data.empty() || o.val_fraction > 0,
       "--eval-every needs validation data (--val-data or --val-fraction)");
  need(o.checkpoint_every >= 0, "--checkpoint-every must not be negative");
  need(o.threads >= 0, "--threads must not be negative");
}

TrainSummary train(const TrainOptions& o, Communicator& comm) {
  validate_options(o, comm.size());
  if (o.threads > 0) omp_set_num_threads(o.threads);
  const bool writer = comm.rank() == 0;
  const fs::path ckpt_dir = o.out / "checkpoints", log_path = o.out / "train_log.csv";

  // Rank 0 holds the run folder until the run ends: a second run on it is refused.
  std::optional<RunFolderLock> lock;
  if (writer) lock.emplace(o.out);
  fs::path files_dir = o.model;  // config.json and tokenizer files of the model being trained
  bool take_over = false;        // the folder holds a run that stopped before its first checkpoint
  if (o.resume) {
    files_dir = latest_checkpoint(ckpt_dir);
    if (writer) verify_checkpoint_checksums(files_dir);  // before anything is read from it
  } else if (writer) {
    take_over = check_folder_for_new_run(o.out);
  }
  comm.barrier();  // rank 0 has checked the folder before any rank reads from it

  TrainableModel model = TrainableModel::load(files_dir);
  ParameterSet& params = model.parameters();
  if (const auto bad = find_bad_value(params))
    throw Error(files_dir.string() + ": " + *bad + ": refusing to train non-finite weights");
  const TokenDataset data(o.data, o.seq_len);
  if (data.vocab_size() > model.config().vocab_size)
    throw Error("--data: the shards use a vocabulary of " + std::to_string(data.vocab_size()) + " tokens, the model has " +
                std::to_string(model.config().vocab_size));
  std::optional<TokenDataset> held_out;
  SequenceRange train_range{0, data.sequences()}, val_range;
  std::string validation = "none";
  if (!o.val_data.empty()) {
    held_out.emplace(o.val_data, o.seq_len);
    if (held_out->vocab_size() > model.config().vocab_size) throw Error("--val-data: the vocabulary is larger than the model's");
    val_range = {0, held_out->sequences()};
    if (val_range.count == 0) throw Error("--val-data: the shards hold less than one sequence of --seq-len + 1 tokens");
    validation = "shards of " + std::to_string(held_out->tokens()) + " tokens";
  } else if (o.val_fraction > 0) {
    std::tie(train_range, val_range) = split_validation(data.sequences(), o.val_fraction);
    validation = "last " + std::to_string(val_range.count) + " sequences";
  }
  if (train_range.count == 0)
    throw Error("--data: the shards hold " + std::to_string(data.tokens()) + " tokens, less than one sequence of --seq-len + 1");
  const TokenDataset& val_data = held_out ? *held_out : data;
  const bool has_val = val_range.count > 0;

  CheckpointState state;
  state.data_seed = o.seed;
  state.settings = run_settings(o, data, validation);
  AdamW adam(params, o.adam);
  if (o.resume) {
    const CheckpointState saved = load_checkpoint_state(files_dir);
    check_resume_state(saved, RunFacts{o.steps, o.batch_size, o.seq_len, o.seed, train_range.count, state.settings},
                       files_dir);
    OptimizerState moments = load_optimizer_state(files_dir, params);
    if (moments.step != saved.step)
      throw Error("--resume: " + (files_dir / "optimizer.safetensors").string() + " is of step " +
                  std::to_string(moments.step) + ", trainer_state.json of step " + std::to_string(saved.step));
    adam.set_state(saved.step, std::move(moments.m), std::move(moments.v));
    state.step = saved.step;
    state.tokens = saved.tokens;
    state.log = saved.log;
  }
  // Every rank starts from rank 0's parameters (they read the same files; this makes it certain).
  if (comm.size() > 1)
    for (Parameter& p : params.all()) comm.broadcast(std::as_writable_bytes(std::span<float>(p.data)), 0);

  std::optional<LogAppender> log_file;
  std::int64_t checkpoint_step = state.step;  // of the newest checkpoint (0: none yet)
  if (writer) {
    if (take_over) {
      std::fprintf(stderr, "note: %s holds a run that stopped before its first checkpoint; starting it anew\n",
                   o.out.string().c_str());
      fs::remove(o.out / "loss.png");  // the stopped run's; train_log.csv is rewritten below
    }
    remove_unfinished_checkpoints(ckpt_dir);
    rewrite_log(log_path, state.log);  // drops rows a killed run wrote after its last checkpoint
    log_file.emplace(log_path);
  }

  const std::int64_t B = o.batch_size, T = o.seq_len, A = o.grad_accum, W = comm.size();
  const std::int64_t rows = B / (W * A);
  const LrSchedule schedule{o.lr, o.end_lr, o.warmup, o.steps};
  SequenceOrder order(train_range, o.seed);
  ParameterSet grads = params.zeros_like();
  std::vector<TokenId> tokens(static_cast<std::size_t>(rows * (T + 1)));
  ProgressBar bar(stderr, ::isatty(2) != 0, state.step, o.steps);
  const auto val_count = std::min<std::uint64_t>(static_cast<std::uint64_t>(o.eval_batches * B), val_range.count);
  const std::int64_t val_rows = std::max<std::int64_t>(1, B / W);

  for (std::int64_t step = state.step; step < o.steps; ++step) {
    const auto t0 = std::chrono::steady_clock::now();
    grads.fill_zero();
    double terms[3] = {0, 0, 0};  // loss, ce, z_loss: sums of micro-batch means
    for (std::int64_t a = 0; a < A; ++a) {
      const auto first = static_cast<std::uint64_t>(step * B + (comm.rank() * A + a) * rows);
      for (std::int64_t r = 0; r < rows; ++r)
        data.read_sequence(order.at(first + static_cast<std::uint64_t>(r)),
                           std::span(tokens).subspan(static_cast<std::size_t>(r * (T + 1)), static_cast<std::size_t>(T + 1)));
      const LossTerms lt = model.forward_backward(tokens, rows, T, o.z_loss, grads, o.precision);
      terms[0] += lt.loss, terms[1] += lt.ce, terms[2] += lt.z_loss;
    }
    if (W > 1)
      for (Parameter& g : grads.all()) comm.allreduce_sum(std::span<float>(g.data));
    comm.allreduce_sum(std::span<double>(terms));
    // Sum of W·A equal micro-batch means → mean over the global batch.
    const float scale = 1.0f / static_cast<float>(W * A);
    for (Parameter& g : grads.all())
      for (float& x : g.data) x *= scale;
    StepRecord rec;
    rec.step = step + 1;
    rec.tokens = (step + 1) * B * T;
    rec.loss = terms[0] / static_cast<double>(W * A);
    rec.ce = terms[1] / static_cast<double>(W * A);
    rec.z_loss = terms[2] / static_cast<double>(W * A);
    rec.grad_norm = global_grad_norm(grads);
    // Every rank sees the same reduced loss and gradients, so every rank stops here together.
    if (!std::isfinite(rec.loss) || !std::isfinite(rec.grad_norm))
      throw diverged(rec.step, "the loss is " + value_text(rec.loss) + " and the gradient norm " + value_text(rec.grad_norm),
                     checkpoint_step, ckpt_dir);
    if (o.grad_clip > 0) clip_grad_norm(grads, o.grad_clip);
    rec.lr = schedule.at(step);
    adam.step(params, grads, rec.lr);
    if (auto bad = find_bad_value(params)) throw diverged(rec.step, "after the update, " + *bad, checkpoint_step, ckpt_dir);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    rec.tok_s = seconds > 0 ? static_cast<double>(B * T) / seconds : 0;

    const bool last = step + 1 == o.steps;
    if (has_val && (last || (o.eval_every > 0 && (step + 1) % o.eval_every == 0)))
      rec.val_loss = validation_loss(model, val_data, val_range, val_count, val_rows, o.precision, comm).cross_entropy;
    if (rec.val_loss && !std::isfinite(*rec.val_loss))
      throw diverged(rec.step, "the validation loss is " + value_text(*rec.val_loss), checkpoint_step, ckpt_dir);
    state.log.push_back(rec);
    if (writer) {
      log_file->add(rec);
      if (o.progress) bar.update(rec.step, rec.loss, rec.tok_s);
    }
    if (o.checkpoint_every > 0 && (step + 1) % o.checkpoint_every == 0) {
      state.step = step + 1;
      state.tokens = rec.tokens;
      state.data_position = static_cast<std::uint64_t>((step + 1) * B);
      state.epoch = order.epoch_of(state.data_position);
      if (writer) {
        files_dir = save_checkpoint(ckpt_dir, files_dir, params, adam, state);
        write_loss_plot(o.out / "loss.png", state.log);
      }
      checkpoint_step = state.step;
      comm.barrier();
    }
  }

  TrainSummary summary;
  summary.steps = o.steps;
  summary.model_dir = o.out / "model";
  if (!state.log.empty()) {
    summary.last_loss = state.log.back().loss;
    summary.last_val_loss = state.log.back().val_loss;
  }
  if (writer) {
    export_model(summary.model_dir, files_dir, params);
    write_loss_plot(o.out / "loss.png", state.log);
  }
  comm.barrier();
  return summary;
}

}  // namespace supra::train
