#!/usr/bin/env bash
# Issue 14 "Done when": runs at --budget 0.02 with different simulated seeds. Every run that ends
# budget_exhausted is resumed with the same budget, and must complete no further task.
# Usage: scripts/budget_seeds.sh [FIRST_SEED] [COUNT]   (BIN=path to a built binary, default
# target/release/orchestrator-tui; build it first with `cargo build --release`).
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-${CARGO_TARGET_DIR:-target}/release/orchestrator-tui}
FIRST=${1:-1}
COUNT=${2:-20}
DESC="Build a small CLI tool in Python with tests"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
done_tasks() { # completed or degraded tasks of a run, from `show --json`
  "$BIN" --data-dir "$1" --config "$2" show "$3" --json |
    python3 -c 'import json,sys; d=json.load(sys.stdin); print(sum(t["status"] in ("completed","degraded") for t in d["tasks"]))'
}
field() { # FILE KEY: a top-level field of a JSON file
  python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"
}
fail=0; exhausted=0
for seed in $(seq "$FIRST" $((FIRST + COUNT - 1))); do
  d="$work/d$seed"; cfg="$work/c$seed.toml"
  printf '[simulated]\nseed = %d\n' "$seed" > "$cfg"
  # Read back from files: a run's JSON (its tasks' outputs) can exceed an argument's size limit.
  "$BIN" --data-dir "$d" --config "$cfg" run "$DESC" --budget 0.02 --headless --json >"$work/o$seed" 2>"$work/e$seed" || true
  id=$(field "$work/o$seed" id)
  status=$(field "$work/o$seed" status)
  cost=$(field "$work/o$seed" total_cost_usd)
  if [ "$status" != budget_exhausted ]; then
    echo "seed $seed: $status, spent \$$cost"
    continue
  fi
  exhausted=$((exhausted + 1))
  before=$(done_tasks "$d" "$cfg" "$id")
  "$BIN" --data-dir "$d" --config "$cfg" resume "$id" --budget 0.02 --headless --json >"$work/r$seed" 2>>"$work/e$seed" || true
  rstatus=$(field "$work/r$seed" status)
  rcost=$(field "$work/r$seed" total_cost_usd)
  after=$(done_tasks "$d" "$cfg" "$id")
  verdict=ok
  if [ "$after" -ne "$before" ]; then verdict="FAIL: the resume completed $((after - before)) more task(s)"; fail=1; fi
  echo "seed $seed: budget_exhausted at \$$cost ($before tasks done); resumed: $rstatus at \$$rcost ($after done): $verdict"
done
echo "$exhausted of $COUNT runs ended budget_exhausted; $([ $fail = 0 ] && echo 'no resume completed a further task' || echo 'SOME RESUMES COMPLETED MORE TASKS')"
exit $fail
