#!/usr/bin/env bash
# Compares cutoff rules of synchronous SGD: 16 workers, one server shard,
# Fashion-MNIST MLP, all in one process. SCENARIO=groups (the default):
# run-times are log-normal with two correlated groups (each group shares a
# random shock per iteration, like a rack). SCENARIO=regime: four groups
# switch between normal and 30x slow phases that persist (a Markov chain
# per group; P_SLOW and P_RECOVER set its switching probabilities, 0.05
# and 0.15 by default), plus log-normal noise per worker. SCALING=linear
# scales each step with the gradients it aggregates (LR sets the learning
# rate). MODEL=softmax trains softmax regression instead of the MLP (far
# less CPU per gradient); FACTOR sets the regime's slowdown (30). For each rule it reports gradients per second, the mean cutoff,
# wall time to a target test accuracy (first evaluation at or above it,
# evaluated every EVAL_EVERY versions), final accuracy and the
# predictor's decision latency; then the mean cutoff per tenth of the run.
# bdsgd's model is trained (`metronome predictor train`) on the trace of a
# recording run of rule full with other emulated delays.
#
# Every rule runs with each seed of SEEDS (default 1 2 3: the seed of the
# initial parameters, the mini-batches and the emulated delays); the table
# has medians over the seeds and the time to target of each seed.
#
# usage: tools/experiments/cutoffs.sh [BINARY] [OUT_DIR]
#   RULES="full static:1 ..." picks rules; TARGET, VERSIONS, EVAL_EVERY,
#   SEEDS change the run.
set -euo pipefail
bin=${1:-build/bin/metronome}
out=${2:-runs/cutoffs}
target=${TARGET:-0.80}
versions=${VERSIONS:-600}
eval_every=${EVAL_EVERY:-10}
seeds=${SEEDS:-1 2 3}
workers=16
case ${SCENARIO:-groups} in
groups)
  stragglers="[{model: groups, groups: 2, mu: -4.5, sigma: 0.8, own_share: 0.6}]"
  ;;
regime)
  stragglers="[{model: regime, groups: 4, p_slow: ${P_SLOW:-0.05}, p_recover: ${P_RECOVER:-0.15}, factor: ${FACTOR:-30}, mu: -5, sigma: 0.5, own_share: 1}]"
  ;;
*)
  echo "unknown SCENARIO '$SCENARIO' (groups, regime)" >&2
  exit 2
  ;;
esac
mkdir -p "$out"

topology() { # $1 = cutoff section, $2 = dir, $3 = seed
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
  algorithm: ${MODEL:-mlp}
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
  learning_rate: ${LR:-0.1}
  seed: $3
  stragglers: $stragglers
options:
  metrics_dir: $2
YAML
}

# One run of rule spec $1 with seed $2 into $3.
run_one() {
  local spec=$1 seed=$2 dir=$3 rule=${1%%:*} b=${1#*:}
  [[ $spec == *:* ]] || b=
  mkdir -p "$dir"
  local section="{rule: $rule${b:+, backups: $b}, scaling: ${SCALING:-fixed}}"
  if [[ $rule == bdsgd ]]; then
    # Trained on a recording: a full run with other emulated delays (seed
    # + 1000), never on the run it is compared with.
    local rec="$out/seed$seed/record"
    mkdir -p "$rec"
    topology "{rule: full}" "$rec" $((seed + 1000)) > "$rec/topology.yaml"
    "$bin" run "$rec/topology.yaml" > "$rec/output.txt" 2> "$rec/log.txt"
    "$bin" predictor train --trace "$rec/trace.csv" \
      --out "$out/seed$seed/dmm.model" > "$out/seed$seed/dmm.json" \
      2> "$out/seed$seed/dmm.log"
    section="{rule: bdsgd, model: $(realpath "$out/seed$seed/dmm.model"), scaling: ${SCALING:-fixed}}"
  fi
  topology "$section" "$dir" "$seed" > "$dir/topology.yaml"
  "$bin" run "$dir/topology.yaml" > "$dir/output.txt" 2> "$dir/log.txt"
}

rules=${RULES:-full static:1 static:2 static:4 elfving ecdf bdsgd}
for seed in $seeds; do
  for spec in $rules; do
    run_one "$spec" "$seed" "$out/seed$seed/${spec/:/}"
  done
done

/usr/bin/python3 - "$out" "$target" "$rules" "$seeds" <<'PY'
import json, statistics, sys
out, target = sys.argv[1], float(sys.argv[2])
rules, seeds = sys.argv[3].split(), sys.argv[4].split()


def final_record(path):
    """The last line of `path` that is a JSON object (the final line)."""
    for line in reversed(open(path).read().splitlines()):
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict):
            return record
    sys.exit(f"{path}: no final JSON line")


print(f"{'rule':<9} {'s/version':>9} {'grads/s':>8} {'mean_c':>6} "
      f"{'to_target_s':>11} {'(per seed)':<20} {'accuracy':>8} "
      f"{'decision_us':>11} {'decision%':>9} {'late':>4}")
for spec in rules:
    name = spec.replace(":", "")
    rows = []
    for seed in seeds:
        d = f"{out}/seed{seed}/{name}"
        final = final_record(f"{d}/output.txt")
        reached = next((e["wall_s"] for e in map(json.loads,
                        open(f"{d}/evaluations.jsonl"))
                        if e["test_accuracy"] >= target), float("nan"))
        rows.append((final, reached))
    med = lambda xs: statistics.median(xs)
    per_version = med([f["wall_s"] / f["iterations"] for f, _ in rows])
    decision = med([f["decision_mean_s"] for f, _ in rows])
    print(f"{name:<9} {per_version * 1e3:7.2f}ms "
          f"{med([f['gradients_per_s'] for f, _ in rows]):8.1f} "
          f"{med([f['mean_cutoff'] for f, _ in rows]):6.2f} "
          f"{med([r for _, r in rows]):11.2f} "
          f"{' '.join(f'{r:.2f}' for _, r in rows):<20} "
          f"{med([f['final_test_accuracy'] for f, _ in rows]):8.4f} "
          f"{decision * 1e6:11.1f} {100 * decision / per_version:8.2f}% "
          f"{sum(f['late_decisions'] for f, _ in rows):4d}")
print()
print(f"mean cutoff per tenth of the run (seed {seeds[0]}):")
for spec in rules:
    name = spec.replace(":", "")
    cs = [json.loads(l)["cutoff"]
          for l in open(f"{out}/seed{seeds[0]}/{name}/iterations.jsonl")]
    k = max(1, len(cs) // 10)
    parts = [sum(cs[i:i + k]) / len(cs[i:i + k])
             for i in range(0, len(cs), k)][:10]
    print(f"{name:<9} " + " ".join(f"{p:5.1f}" for p in parts))
PY
