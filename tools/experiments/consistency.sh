#!/usr/bin/env bash
# Compares consistency models on one straggler scenario: 8 workers, 2 server
# shards, Fashion-MNIST MLP, all in one process. SCENARIO=persistent (the
# default): worker 0 is 4x slower throughout. SCENARIO=transient: every
# worker draws a log-normal extra delay each iteration, so who is slow
# changes all the time. SCENARIO=jitter: small log-normal delays only, so
# workers stay close together. MODELS="ssp:3 essp:3" runs only those.
# For each model it reports wall time to a target training loss (mean of
# the last 20 iterations), final test accuracy and read staleness.
#
# usage: [SCENARIO=...] tools/experiments/consistency.sh [BINARY] [OUT_DIR]
set -euo pipefail
bin=${1:-build/bin/metronome}
out=${2:-runs/consistency}
target_loss=${TARGET_LOSS:-0.45}
epochs=${EPOCHS:-3}
scenario=${SCENARIO:-persistent}
case $scenario in
persistent) stragglers="[{model: constant, factor: 4, workers: [0]}]" ;;
transient) stragglers="[{model: lognormal, mu: -6.5, sigma: 1.2}]" ;;
jitter) stragglers="[{model: lognormal, mu: -7, sigma: 0.3}]" ;;
*)
  echo "unknown SCENARIO '$scenario' (persistent, transient, jitter)" >&2
  exit 2
  ;;
esac
mkdir -p "$out"

topology() { # $1 = consistency, $2 = staleness (or empty), $3 = dir
  local nodes="    - name: head
      host: 127.0.0.1
      port: 24600
      roles: [coordinator/0, server/0, server/1]"
  for i in $(seq 0 7); do
    nodes+="
    - name: w$i
      host: 127.0.0.1
      port: $((24601 + i))
      roles: [worker/$i]"
  done
  cat <<YAML
cluster:
  nodes:
$nodes
job:
  algorithm: mlp
  hidden: 128
  data:
    format: idx
    train_images: /usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
    train_labels: /usr/share/datasets/fashion-mnist/train-labels-idx1-ubyte.gz
    test_images: /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
    test_labels: /usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz
  consistency: $1
${2:+  staleness: $2}
  epochs: $epochs
  batch_size: 16
  learning_rate: 0.2
  seed: 1
  stragglers: $stragglers
options:
  metrics_dir: $3
YAML
}

printf '%-8s %10s %14s %10s %10s %10s\n' model wall_s to_target_s accuracy stale_mean stale_var
for spec in ${MODELS:-bsp: ssp:1 ssp:3 essp:3 async:}; do
  model=${spec%%:*}
  s=${spec#*:}
  name=$model${s:+$s}
  dir="$out/$name"
  mkdir -p "$dir"
  topology "$model" "$s" "$dir" > "$dir/topology.yaml"
  "$bin" run "$dir/topology.yaml" > "$dir/output.txt" 2> "$dir/log.txt"
  /usr/bin/python3 - "$dir" "$name" "$target_loss" <<'PY'
import json, sys
d, name, target = sys.argv[1], sys.argv[2], float(sys.argv[3])


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


final = final_record(f"{d}/output.txt")
summary = json.load(open(f"{d}/summary.json"))
window, reached = [], None
for line in open(f"{d}/iterations.jsonl"):
    it = json.loads(line)
    window = (window + [it["loss"]])[-20:]
    if reached is None and len(window) == 20 and sum(window) / 20 <= target:
        reached = it["wall_s"]
st = summary["staleness"]
print(f"{name:<8} {final['wall_s']:10.2f} "
      f"{reached if reached is not None else float('nan'):14.2f} "
      f"{final['final_test_accuracy']:10.4f} {st['mean']:10.3f} "
      f"{st['variance']:10.3f}")
PY
done
