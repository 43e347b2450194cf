#!/usr/bin/env bash
# LightLDA (Microsoft, 2015-2017, with the old "multiverso-initial" parameter
# server) as an LDA baseline: builds it if needed, converts a UCI
# bag-of-words corpus to its binary block format, trains single-process and
# prints one JSON line to stdout.
#
#   LIGHTLDA_SRC=~/src/LightLDA DOCWORD=docword.txt VOCAB=vocab.txt \
#     TOPICS=100 ITERATIONS=50 THREADS=2 tools/bench/lightlda.sh
#
# Inputs (environment):
#   LIGHTLDA_SRC  LightLDA checkout with multiverso in LIGHTLDA_SRC/multiverso
#                 (also accepted: LIGHTLDA_SRC/LightLDA or LIGHTLDA_SRC/src/LightLDA)
#   DOCWORD       UCI docword file: lines D, W, NNZ, then "doc word count" (1-based)
#   VOCAB         UCI vocab file, one word per line (W lines)
#   TOPICS (100) ITERATIONS (100) THREADS (1)
#   ALPHA (0.1) BETA (0.01) MH_STEPS (2)
#   EVAL_EVERY (1)  evaluate the likelihood every N iterations (upstream: 5);
#                   evaluation runs inside the timed run, set it higher to time
#                   sampling alone
#   LIGHTLDA_BUILD  build folder (default ${TMPDIR:-/tmp}/lightlda-build)
#   WORK            folder for converted data and logs (default: a new temp dir)
#   MPIEXEC         optional launcher prefix, e.g. "mpiexec -n 1"; by default
#                   the binary runs directly as an MPI singleton
#
# Needs: g++, make, MPICH (mpicxx; Debian: libmpich-dev), ZeroMQ with the C++
# header zmq.hpp (Debian: libzmq3-dev cppzmq-dev), awk, python3.
# Nothing is downloaded.
set -euo pipefail

die() { echo "lightlda.sh: $*" >&2; exit 2; }

how_to_get_sources() {
  cat >&2 <<'EOF'
lightlda.sh: LIGHTLDA_SRC is unset or does not hold LightLDA + multiverso.
Get a copy (LightLDA pins multiverso as a git submodule, branch
multiverso-initial, commit 9ed99cd2d3080a8683d1c511de5927e2b7274438):

  git clone https://github.com/microsoft/LightLDA
  cd LightLDA
  git clone https://github.com/microsoft/Multiverso multiverso
  git -C multiverso checkout 9ed99cd2d3080a8683d1c511de5927e2b7274438

(or: git submodule update --init, which fetches the same commit), then
  export LIGHTLDA_SRC=$PWD
EOF
  exit 3
}

# ---- locate sources ---------------------------------------------------------
SRC=""
if [[ -n ${LIGHTLDA_SRC:-} ]]; then
  for d in "$LIGHTLDA_SRC" "$LIGHTLDA_SRC/LightLDA" "$LIGHTLDA_SRC/src/LightLDA"; do
    if [[ -f $d/src/lightlda.cpp && -f $d/multiverso/include/multiverso/multiverso.h ]]; then
      SRC=$(cd "$d" && pwd); break
    fi
  done
fi
[[ -n $SRC ]] || how_to_get_sources

: "${DOCWORD:?set DOCWORD to a UCI docword file}"
: "${VOCAB:?set VOCAB to a UCI vocab file}"
[[ -r $DOCWORD ]] || die "cannot read DOCWORD=$DOCWORD"
[[ -r $VOCAB ]] || die "cannot read VOCAB=$VOCAB"
DOCWORD=$(realpath "$DOCWORD"); VOCAB=$(realpath "$VOCAB")
TOPICS=${TOPICS:-100}
ITERATIONS=${ITERATIONS:-100}
THREADS=${THREADS:-1}
ALPHA=${ALPHA:-0.1}
BETA=${BETA:-0.01}
MH_STEPS=${MH_STEPS:-2}
EVAL_EVERY=${EVAL_EVERY:-1}
BUILD=${LIGHTLDA_BUILD:-${TMPDIR:-/tmp}/lightlda-build}
PY=${PY:-python3}

for tool in mpicxx make awk "$PY"; do
  command -v "$tool" >/dev/null || die "$tool not found (Debian: apt-get install libmpich-dev mpich make gawk python3)"
done

# ---- build (once) -----------------------------------------------------------
# Our patch (src/trainer.cpp only; LightLDA and multiverso otherwise build
# unmodified with g++ 12 + MPICH 4 + ZeroMQ 4.3):
#  * evaluate every $LIGHTLDA_EVAL_EVERY iterations instead of hard-coded 5;
#  * print the three likelihood terms with %.12e instead of %e (7 digits);
#  * time the logged Alias / Training / Evaluation phases with a wall clock
#    (std::chrono::steady_clock) instead of multiverso's StopWatch, which on
#    Linux reads clock(): the CPU time of the WHOLE process (every trainer,
#    server and communication thread), so with THREADS=2 a phase counted
#    about twice its wall time, and even with THREADS=1 the other threads'
#    CPU time was counted (sampling_s exceeded the process's wall time);
#    times are printed with %.4f instead of %.2f.
# Build-line changes: CXX=mpicxx (system MPICH instead of the bundled
# third_party build of MPICH 3.0.4 + ZeroMQ 4.1.3), and link -lzmq -lpthread
# without -lmpl (Debian's MPICH has no separate libmpl).
STAMP="$BUILD/.lightlda-bench-built-v2"
if [[ ! -f $STAMP || ! -x $BUILD/bin/lightlda || ! -x $BUILD/bin/dump_binary ]]; then
  echo "lightlda.sh: building in $BUILD (from $SRC)" >&2
  rm -rf "$BUILD"; mkdir -p "$BUILD"
  (cd "$SRC" && tar --exclude=.git -cf - .) | tar -xf - -C "$BUILD"
  find "$BUILD" \( -name '*.o' -o -name '*.a' \) -delete
  f="$BUILD/src/trainer.cpp"
  sed -i \
    -e 's|^#include <multiverso/log.h>$|&\n#include <cstdlib>\nnamespace { int lightlda_eval_every() { const char* s = std::getenv("LIGHTLDA_EVAL_EVERY"); int n = s ? std::atoi(s) : 5; return n > 0 ? n : 5; } }|' \
    -e 's|if (iter % 5 == 0)|if (iter % lightlda_eval_every() == 0)|' \
    -e 's|likelihood : %e|likelihood : %.12e|' \
    -e 's|^#include <multiverso/stop_watch.h>$|&\n#include <chrono>\nnamespace { struct WallWatch { std::chrono::steady_clock::time_point t0 = std::chrono::steady_clock::now(); void Start() {} void Restart() { t0 = std::chrono::steady_clock::now(); } double ElapsedSeconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(); } }; }|' \
    -e 's|StopWatch watch; watch.Start();|WallWatch watch; watch.Start();|' \
    -e 's|Time used: %.2f s|Time used: %.4f s|' "$f"
  [[ $(grep -c 'lightlda_eval_every\|likelihood : %.12e' "$f") -eq 5 &&
     $(grep -c 'WallWatch' "$f") -eq 2 && $(grep -c 'Time used: %.4f s' "$f") -eq 3 ]] ||
    die "patching $f failed (unexpected LightLDA version?)"
  jobs=${MAKE_JOBS:-1}
  (cd "$BUILD/multiverso" && nice -n 10 make -j"$jobs" multiverso \
      CXX=mpicxx LD_FLAGS="-lzmq -lpthread") >"$BUILD/build.log" 2>&1 ||
    die "multiverso build failed, see $BUILD/build.log"
  (cd "$BUILD" && nice -n 10 make -j"$jobs" lightlda dump_binary CXX=mpicxx \
      LD_FLAGS="-L$BUILD/multiverso/lib -lmultiverso -lzmq -lpthread") \
      >>"$BUILD/build.log" 2>&1 || die "LightLDA build failed, see $BUILD/build.log"
  touch "$STAMP"
fi

# ---- convert UCI -> libsvm + word dict -> binary block ---------------------
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/lightlda-run.XXXXXX")}
mkdir -p "$WORK/data" "$WORK/run"
# absolute: lightlda runs in $WORK/run and reads -input_dir $WORK/data
WORK=$(cd "$WORK" && pwd)
# a reused WORK must not leave an earlier run's dumps for the report to read
rm -f "$WORK/run"/doc_topic.* "$WORK/run"/server_*_table_*.model "$WORK/run"/LightLDA.*.log
# libsvm line per non-empty doc: "<doc>\t<word0>:<count> ...", 0-based word ids
# (docword lines must be grouped by doc, as UCI files are).
# The dict lists EVERY vocab id ("<id>\t<word>\t<tf>", tf may be 0):
# dump_binary writes vocab.0 only for word ids < (number of dict lines), so a
# dict of present words only (as upstream example/text2libsvm.py writes) drops
# the highest ids from vocab.0, though their tokens stay in block.0, whenever
# some vocab word never occurs.
awk -v LIBSVM="$WORK/data/corpus.libsvm" -v DICT="$WORK/data/corpus.dict" '
  FNR == NR {
    if (FNR <= 3) next                      # D, W, NNZ
    d = $1; w = $2 - 1; c = $3
    if (d != last && line != "") { print line > LIBSVM; line = "" }
    line = (line == "") ? d "\t" w ":" c : line " " w ":" c
    tf[w] += c; total += c; last = d; next
  }
  { word[FNR - 1] = $0; nv = FNR }
  END {
    if (line != "") print line > LIBSVM
    for (i = 0; i < nv; i++) printf "%d\t%s\t%d\n", i, word[i], tf[i] + 0 > DICT
    print total > (DICT ".tokens")
  }' "$DOCWORD" "$VOCAB"
# dump_binary: one block (block.0, vocab.0); truncates documents at 8192 tokens.
"$BUILD/bin/dump_binary" "$WORK/data/corpus.libsvm" "$WORK/data/corpus.dict" \
  "$WORK/data" 0 >"$WORK/data/dump_binary.log" 2>&1 ||
  die "dump_binary failed, see $WORK/data/dump_binary.log"
TOKENS=$(sed -n 's/^The number of tokens in the output block is: //p' "$WORK/data/dump_binary.log")
[[ $TOKENS == "$(cat "$WORK/data/corpus.dict.tokens")" ]] ||
  echo "lightlda.sh: warning: dump_binary kept $TOKENS of $(cat "$WORK/data/corpus.dict.tokens") tokens (docs > 8192 tokens are truncated)" >&2
NUM_DOCS=$(wc -l <"$WORK/data/corpus.libsvm")
NUM_VOCABS=$(wc -l <"$WORK/data/corpus.dict")
USED_VOCABS=$(sed -n 's/^Local vocab_size for the output block is: //p' "$WORK/data/dump_binary.log")

# ---- memory pools (MB), upper bounds so the model fits in one slice --------
# LightLDA preallocates fixed pools (src/meta.cpp Meta::ModelSchedule): per word
# model <= 4*min(K, 4 tf), alias <= 4*min(2K, 3 tf), delta <= 4*min(K, 8 tf)
# bytes; data must hold the whole block file. -max_num_document must exceed the
# doc count (DataBlock::Read reads D+1 offsets into a buffer of that size).
mb() { echo $(( ($1 + 1048575) / 1048576 + 1 )); }
min() { echo $(( $1 < $2 ? $1 : $2 )); }
DATA_MB=$(mb "$(stat -c %s "$WORK/data/block.0")")
MODEL_MB=$(mb $((4 * $(min $((NUM_VOCABS * TOPICS)) $((4 * TOKENS))))))
ALIAS_MB=$(mb $((4 * $(min $((2 * NUM_VOCABS * TOPICS)) $((3 * TOKENS))))))
DELTA_MB=$(mb $((4 * $(min $((NUM_VOCABS * TOPICS)) $((8 * TOKENS))))))

# ---- train ---------------------------------------------------------------------
# Output files (LightLDA.<clock>.log, doc_topic.0, server_0_table_*.model) go to
# the current directory.
cmd=(${MPIEXEC:-} "$BUILD/bin/lightlda"
  -num_vocabs "$NUM_VOCABS" -num_topics "$TOPICS" -num_iterations "$ITERATIONS"
  -alpha "$ALPHA" -beta "$BETA" -mh_steps "$MH_STEPS"
  -num_local_workers "$THREADS" -num_blocks 1 -num_servers 1 -num_aggregator 1
  -max_num_document $((NUM_DOCS + 1)) -input_dir "$WORK/data"
  -data_capacity "$DATA_MB" -model_capacity "$MODEL_MB"
  -alias_capacity "$ALIAS_MB" -delta_capacity "$DELTA_MB")
echo "lightlda.sh: ${cmd[*]}" >&2
cd "$WORK/run"
# multiverso occasionally crashes during start-up (SIGSEGV in
# Table::GetRow from Server::Process_Add, about 1 run in 10 here): such a run
# is retried, up to LIGHTLDA_RETRIES (2) more times, and the crash logs kept.
retries=${LIGHTLDA_RETRIES:-2}
for ((attempt = 0; ; attempt++)); do
  rm -f doc_topic.* server_*_table_*.model LightLDA.*.log
  t0=$(date +%s.%N)
  rc=0
  LIGHTLDA_EVAL_EVERY=$EVAL_EVERY "${cmd[@]}" >lightlda.out 2>&1 || rc=$?
  t1=$(date +%s.%N)
  ((rc != 0)) || break
  cp lightlda.out "lightlda.failed-$attempt.out"
  ((attempt < retries)) ||
    die "lightlda failed (exit $rc) $((attempt + 1)) times, see $WORK/run/lightlda.failed-*.out"
  echo "lightlda.sh: warning: lightlda exited with $rc (attempt $((attempt + 1))), retrying; log in $WORK/run/lightlda.failed-$attempt.out" >&2
done
grep -q 'the number of slice = 1$' lightlda.out ||
  die "model split into several slices (pools too small?), see $WORK/run/lightlda.out"

# ---- report ------------------------------------------------------------------
# Likelihood terms logged by Trainer::Evaluate (src/trainer.cpp) with the
# formulas of src/eval.cpp, all TOTALS over the corpus (not per token):
#   doc likelihood   = sum_d [lnG(K a) - K lnG(a) + sum_k lnG(n_dk + a) - lnG(n_d + K a)]
#                      (Eval::ComputeOneDocLLH; = log p(z | alpha))
#   word likelihood  = sum_w sum_k lnG(n_kw + b)           (Eval::ComputeOneWordLLH)
#   Normalized likelihood = K [lnG(W b) - W lnG(b)] - sum_k lnG(n_k + W b)
#                      (Eval::NormalizeWordLLH)
# word + Normalized = log p(w | z, beta), so the collapsed joint is
#   log p(w, z) = doc + word + Normalized, reported divided by the token count.
# Caveat: doc is computed from the topic assignments after the iteration's
# sampling, while word/Normalized come from the worker's parameter cache, which
# multiverso (LockOption::Immutable) does not update during the iteration, i.e.
# the counts pulled before that iteration's sampling (one iteration stale).
# Eval also skips vocab words that never occur, whose K lnG(b) terms the
# normalizer does count; we add (W - used words) * K lnG(b) back (0 if every
# vocab word occurs).
# "sampling_s" sums the Alias and Training wall times LightLDA logs (wall
# clock after our patch), measured by trainer thread 0 (with THREADS > 1,
# alias building ends in a barrier, but the others' sampling is not waited
# for before the Training time is logged).
# "final_log_likelihood_per_token" is the exact joint recomputed here from the
# final dumps (doc_topic.0 and the server's word-topic / summary tables).
"$PY" - "$TOPICS" "$THREADS" "$ITERATIONS" "$TOKENS" "$t0" "$t1" \
    "$NUM_VOCABS" "$ALPHA" "$BETA" "$EVAL_EVERY" "$USED_VOCABS" <<'EOF'
import glob, json, math, re, struct, sys
K, T, N_ITER, N = (int(x) for x in sys.argv[1:5])
t0, t1 = float(sys.argv[5]), float(sys.argv[6])
W = int(sys.argv[7])
# LightLDA stores alpha/beta as float32
a, b = (struct.unpack("f", struct.pack("f", float(x)))[0] for x in sys.argv[8:10])
eval_every, used = int(sys.argv[10]), int(sys.argv[11])
lg = math.lgamma
unused = (W - used) * K * lg(b)

it, sample_s, evals = None, 0.0, {}
num = r"(-?[0-9.]+(?:e[-+]?[0-9]+)?)"
for line in open("lightlda.out"):
    if m := re.search(r"Iter = (\d+), Block", line):
        it = int(m.group(1))
    elif m := re.search(r"(Alias|Training) Time used: " + num, line):
        sample_s += float(m.group(2))
    elif m := re.search(r"(doc|word|Normalized) likelihood : " + num, line):
        evals.setdefault(it, {})[m.group(1)] = float(m.group(2))
iters = sorted(i for i, e in evals.items() if len(e) == 3)
llh = [(evals[i]["doc"] + evals[i]["word"] + evals[i]["Normalized"] + unused) / N
       for i in iters]

doc = 0.0
for line in open("doc_topic.0"):
    c = [int(x.split(":")[1]) for x in line.split()[1:]]
    if c:
        doc += lg(K * a) - K * lg(a) + sum(lg(x + a) for x in c) \
            + (K - len(c)) * lg(a) - lg(sum(c) + K * a)
word, nk, rows = 0.0, [0] * K, 0
for f in glob.glob("server_*_table_0.model"):
    for line in open(f):
        c = [int(x.split(":")[1]) for x in line.split()[1:]]
        c = [x for x in c if x]
        if c:
            word += sum(lg(x + b) for x in c) + (K - len(c)) * lg(b)
            rows += 1
word += (W - rows) * K * lg(b)  # words without tokens: sum_k lnG(0 + b)
for f in glob.glob("server_*_table_1.model"):
    for line in open(f):
        for x in line.split()[1:]:
            k, v = x.split(":")
            nk[int(k)] += int(v)
norm = K * (lg(W * b) - W * lg(b)) - sum(lg(x + W * b) for x in nk)

wall = t1 - t0  # whole lightlda process: load, init, training, eval, dumps, ~1 s shutdown sleep
print(json.dumps({
    "system": "lightlda", "topics": K, "threads": T, "iterations": N_ITER,
    "tokens": N, "wall_s": round(wall, 3),
    "tokens_per_s": round(N * N_ITER / wall, 1),
    "sampling_s": round(sample_s, 3),
    "tokens_per_s_sampling": round(N * N_ITER / sample_s, 1) if sample_s else None,
    "eval_every": eval_every, "eval_iterations": iters,
    "log_likelihood_per_token": [round(x, 6) for x in llh],
    "final_log_likelihood_per_token": round((doc + word + norm) / N, 6),
}))
EOF
