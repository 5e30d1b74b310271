#!/usr/bin/env bash
# The paper's claim at toy scale (docs/UPTRAINING.md): linearize stories260K and up-train it,
# train the same SUPRA architecture from scratch on the same tokens, and compare validation
# losses with the teacher's. Reproduces every number and plot of that page.
#   experiments/uptrain/run.sh [WORK_DIR]      (about 30-60 minutes on 2 cores)
# Needs a built supra (scripts/build.sh) and gnuplot for the plot (apt-get install gnuplot-nox).
set -euo pipefail
repo="$(cd "$(dirname "$0")/../.." && pwd)"
supra="$repo/build/tools/supra/supra"
teacher="$repo/models/stories260K"
work="${1:-/tmp/supra-uptrain}"
mkdir -p "$work/stories"
cd "$work"
export OMP_WAIT_POLICY=passive

# 1. Training text sampled from the teacher itself: it was trained on TinyStories, which is not
#    available here, and real corpora (Shakespeare, Wikipedia) are far outside its 512-piece
#    story vocabulary. Plain ancestral sampling (temperature 1, no top-k/top-p) draws from the
#    teacher's own distribution. 2,200 stories train, 200 validate.
for s in $(seq 1 2400); do
  [ -s "stories/$s.txt" ] || "$supra" generate -m "$teacher" -p "" -n 400 --temperature 1 --top-k 0 --seed "$s" \
    2>/dev/null >"stories/$s.txt"
done
[ -f train.bin ] || "$supra" tokenize-data -m "$teacher" --out train.bin $(for i in $(seq 1 2200); do echo "stories/$i.txt"; done)
[ -f val.bin ] || "$supra" tokenize-data -m "$teacher" --out val.bin $(for i in $(seq 2201 2400); do echo "stories/$i.txt"; done)

# 2. The two starting points: the linearized teacher, and the same architecture initialised anew.
[ -d supra0 ] || "$supra" linearize -m "$teacher" -o supra0 --seed 0
[ -d scratch0 ] || "$supra" linearize -m "$teacher" -o scratch0 --seed 0 --from-scratch

# 3. The same recipe and the same token order for both (1.23M tokens: 300 steps of 16 x 256).
recipe=(--data train.bin --val-data val.bin --seq-len 256 --batch-size 16 --lr 1e-3 --end-lr 1e-4
  --weight-decay 0.1 --grad-clip 1 --z-loss 1e-4 --eval-batches 10 --seed 1 --threads 2 --no-progress)
[ -f run_up/model/config.json ] || "$supra" train -m supra0 --out run_up --steps 300 --warmup 30 \
  --eval-every 25 --checkpoint-every 100 "${recipe[@]}"
[ -f run_scratch/model/config.json ] || "$supra" train -m scratch0 --out run_scratch --steps 300 --warmup 30 \
  --eval-every 25 --checkpoint-every 100 "${recipe[@]}"
# The longer up-training run whose result is the repository's default model.
[ -f run_long/model/config.json ] || "$supra" train -m supra0 --out run_long --steps 1200 --warmup 50 \
  --eval-every 100 --checkpoint-every 200 "${recipe[@]}"

# 4. The teacher's validation loss, by the trainer's definition (the same 160 sequences).
"$supra" perplexity -m "$teacher" --shard val.bin --seq-len 256 --max-sequences 160 --json >teacher_val.json
teacher_ce=$(sed -n 's/.*"cross_entropy": \([0-9.e+-]*\).*/\1/p' teacher_val.json)

# 5. Validation curves (x: training tokens) for both runs, the teacher as a line.
for run in run_up run_scratch run_long; do
  awk -F, 'NR > 1 && $9 != "" { print $2, $9 }' "$run/train_log.csv" >"$run.val.dat"
done
gnuplot <<GP
set terminal pngcairo size 900,540 font ",11"
set output "uptrain_vs_scratch.png"
set xlabel "training tokens"
set ylabel "validation cross-entropy (nats/token)"
set grid
set key top right
plot "run_scratch.val.dat" using 1:2 with linespoints lw 2 title "SUPRA from scratch", \
     "run_up.val.dat" using 1:2 with linespoints lw 2 title "SUPRA up-trained from the teacher", \
     "run_long.val.dat" using 1:2 with linespoints lw 1 dt 2 title "up-trained, longer run (shipped model)", \
     $teacher_ce with lines lw 2 dt 3 title "softmax teacher (stories260K)"
GP
echo "teacher validation cross-entropy: $teacher_ce"
for run in run_up run_scratch run_long; do echo "$run: $(tail -n 1 "$run.val.dat")"; done
