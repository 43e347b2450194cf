#!/usr/bin/env bash
# Compares cutoff rules of synchronous SGD: 16 workers, one server shard,
# Fashion-MNIST MLP, all in one process. SCENARIO=groups (the default):
# run-times are log-normal with two correlated groups (each group shares a
# random shock per iteration, like a rack). SCENARIO=regime: four groups
# switch between normal and 8x slow phases that persist (a Markov chain
# per group), plus log-normal noise per worker. For each rule it reports gradients per second, the mean
# cutoff, wall time to a target test accuracy (first evaluation at or above
# it, evaluated every EVAL_EVERY versions), final accuracy and the
# predictor's decision latency; then the mean cutoff per tenth of the run.
# bdsgd's model is trained on the trace of the full run first
# (`metronome predictor train`), so full must come before it in RULES.
#
# usage: tools/experiments/cutoffs.sh [BINARY] [OUT_DIR]
#   RULES="full static:1 ..." picks rules; TARGET, VERSIONS, EVAL_EVERY,
#   SEED change the run.
set -euo pipefail
bin=${1:-build/bin/metronome}
out=${2:-runs/cutoffs}
target=${TARGET:-0.80}
versions=${VERSIONS:-600}
eval_every=${EVAL_EVERY:-20}
seed=${SEED:-1}
workers=16
case ${SCENARIO:-groups} in
groups)
  stragglers="[{model: groups, groups: 2, mu: -4.5, sigma: 0.8, own_share: 0.6}]"
  ;;
regime)
  stragglers="[{model: regime, groups: 4, p_slow: 0.05, p_recover: 0.15, factor: 8, mu: -5, sigma: 0.5, own_share: 1}]"
  ;;
*)
  echo "unknown SCENARIO '$SCENARIO' (groups, regime)" >&2
  exit 2
  ;;
esac
mkdir -p "$out"

topology() { # $1 = cutoff section, $2 = dir
  local roles="coordinator/0, server/0"
  for i in $(seq 0 $((workers - 1))); do roles+=", worker/$i"; done
  cat <<YAML
cluster:
  nodes:
    - name: all
      host: 127.0.0.1
      port: 24700
      roles: [$roles]
job:
  algorithm: mlp
  hidden: 64
  data:
    format: idx
    train_images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
    train_labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
    test_images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
    test_labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
    test_limit: 2000
  consistency: cutoff
  cutoff: $1
  iterations: $versions
  eval_every: $eval_every
  batch_size: 16
  learning_rate: 0.1
  seed: $seed
  stragglers: $stragglers
options:
  metrics_dir: $2
YAML
}

printf '%-10s %8s %10s %8s %12s %9s %12s %6s\n' rule wall_s grads_per_s mean_c \
  to_target_s accuracy decision_us late
rules=${RULES:-full static:1 static:2 static:4 elfving ecdf bdsgd}
for spec in $rules; do
  rule=${spec%%:*}
  b=${spec#*:}
  [[ $spec == *:* ]] || b=
  name=$rule${b}
  dir="$out/$name"
  mkdir -p "$dir"
  section="{rule: $rule${b:+, backups: $b}}"
  if [[ $rule == bdsgd ]]; then
    "$bin" predictor train --trace "$out/full/trace.csv" \
      --out "$out/dmm.model" > "$out/dmm.json" 2> "$out/dmm.log"
    section="{rule: bdsgd, model: $(realpath "$out/dmm.model")}"
  fi
  topology "$section" "$dir" > "$dir/topology.yaml"
  "$bin" run "$dir/topology.yaml" > "$dir/output.txt" 2> "$dir/log.txt"
  python3 - "$dir" "$name" "$target" <<'PY'
import json, sys
d, name, target = sys.argv[1], sys.argv[2], float(sys.argv[3])
final = json.loads(open(f"{d}/output.txt").read().strip().splitlines()[-1])
reached = None
for line in open(f"{d}/evaluations.jsonl"):
    e = json.loads(line)
    if reached is None and e["test_accuracy"] >= target:
        reached = e["wall_s"]
print(f"{name:<10} {final['wall_s']:8.2f} {final['gradients_per_s']:10.1f} "
      f"{final['mean_cutoff']:8.2f} "
      f"{reached if reached is not None else float('nan'):12.2f} "
      f"{final['final_test_accuracy']:9.4f} "
      f"{final['decision_mean_s'] * 1e6:12.1f} {final['late_decisions']:6d}")
PY
done

echo
echo "mean cutoff per tenth of the run:"
for spec in $rules; do
  name=${spec/:/}
  python3 - "$out/$name" "$name" <<'PY'
import json, sys
d, name = sys.argv[1], sys.argv[2]
cs = [json.loads(l)["cutoff"] for l in open(f"{d}/iterations.jsonl")]
k = max(1, len(cs) // 10)
parts = [sum(cs[i:i + k]) / len(cs[i:i + k]) for i in range(0, len(cs), k)]
print(f"{name:<10} " + " ".join(f"{p:5.1f}" for p in parts[:10]))
PY
done
