// supra train: up-training (spec §8) on token shards, on one process or under mpirun
// (distributed data parallel). Only rank 0 prints and writes files.
#include <cstdio>
#include <memory>

#include "commands.h"
#include "supra/error.h"
#include "supra/train.h"

namespace supra::cli {
namespace {

struct TrainFlags {
  train::TrainOptions o;
  std::string model, out, precision = "f32";
  std::vector<std::string> data, val_data;
  bool no_progress = false;
};

void run(TrainFlags& f) {
  if (f.precision == "f32")
    f.o.precision = train::ComputePrecision::F32;
  else if (f.precision == "bf16")
    f.o.precision = train::ComputePrecision::BF16;
  else
    throw Error("--precision must be f32 or bf16, got \"" + f.precision + "\"");
  if (!f.o.resume) f.o.model = model_folder(f.model);
  f.o.out = f.out;
  f.o.data.assign(f.data.begin(), f.data.end());
  f.o.val_data.assign(f.val_data.begin(), f.val_data.end());
  f.o.progress = !f.no_progress;

  const std::unique_ptr<train::Communicator> comm = train::make_communicator();
  try {
    const train::TrainSummary s = train::train(f.o, *comm);
    if (comm->rank() == 0) {
      std::printf("trained %lld steps: loss %.4f", static_cast<long long>(s.steps), s.last_loss);
      if (s.last_val_loss) std::printf(", validation loss %.4f", *s.last_val_loss);
      std::printf("\nmodel: %s\n", s.model_dir.string().c_str());
    }
  } catch (const std::exception& e) {
    if (comm->size() == 1) throw;
    // The other ranks may wait in a collective: report and end the whole job.
    std::fprintf(stderr, "error: rank %d: %s\n", comm->rank(), e.what());
    comm->abort(1);
  }
}

}  // namespace

void add_train(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  train::TrainOptions& o = f->o;
  CLI::App* cmd = app.add_subcommand("train", "up-train a model on token shards (run under mpirun for data parallelism)");
  // A flag given twice takes its last value (a script can append overrides); shard lists collect all.
  cmd->option_defaults()->take_last();
  add_model_option(*cmd, f->model);
  cmd->add_option("--data", f->data, "training token shards (from tokenize-data)")->required()->take_all();
  cmd->add_option("--val-data", f->val_data, "held-out token shards for the validation loss")->take_all();
  cmd->add_option("--val-fraction", o.val_fraction, "hold out this fraction of the training sequences instead");
  cmd->add_option("--out", f->out, "run folder: train_log.csv, loss.png, checkpoints/, model/")->required();
  cmd->add_option("--seq-len", o.seq_len, "tokens per sequence (chunks of seq-len + 1)")->capture_default_str();
  cmd->add_option("--batch-size", o.batch_size, "sequences per optimizer step, over all ranks")->capture_default_str();
  cmd->add_option("--grad-accum", o.grad_accum, "micro-batches per step on each rank")->capture_default_str();
  cmd->add_option("--steps", o.steps, "optimizer steps")->required();
  cmd->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  cmd->add_option("--end-lr", o.end_lr, "learning rate at the last step (cosine decay)")->capture_default_str();
  cmd->add_option("--warmup", o.warmup, "linear warmup steps")->capture_default_str();
  cmd->add_option("--weight-decay", o.adam.weight_decay, "AdamW decoupled weight decay")->capture_default_str();
  cmd->add_option("--beta1", o.adam.beta1, "AdamW beta1")->capture_default_str();
  cmd->add_option("--beta2", o.adam.beta2, "AdamW beta2")->capture_default_str();
  cmd->add_option("--eps", o.adam.eps, "AdamW epsilon")->capture_default_str();
  cmd->add_option("--grad-clip", o.grad_clip, "clip the global gradient norm to this (0: off)")->capture_default_str();
  cmd->add_option("--z-loss", o.z_loss, "z-loss coefficient")->capture_default_str();
  cmd->add_option("--precision", f->precision, "matrix products in f32 or bf16 (parameters stay f32)")
      ->capture_default_str();
  cmd->add_option("--seed", o.seed, "seed of the data order")->capture_default_str();
  cmd->add_option("--eval-every", o.eval_every, "steps between validation losses (0: after the last step only)")
      ->capture_default_str();
  cmd->add_option("--eval-batches", o.eval_batches, "validation batches of --batch-size sequences")->capture_default_str();
  cmd->add_option("--checkpoint-every", o.checkpoint_every, "steps between checkpoints (0: none)")->capture_default_str();
  cmd->add_flag("--resume", o.resume, "continue the run in --out from its latest checkpoint");
  cmd->add_option("-t,--threads", o.threads, "threads per process (0: all cores)")->capture_default_str();
  cmd->add_flag("--no-progress", f->no_progress, "no progress bar on stderr");
  cmd->callback([f] { run(*f); });
}

}  // namespace supra::cli
