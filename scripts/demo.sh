#!/usr/bin/env bash
# The main job on its embedded default: simulate one SIMECH night of
# 4096x4096 frames into a temporary directory, process it end to end with
# `calibd --once`, and print the summary a person on night duty reads.
#
#   scripts/demo.sh [--size N] [--arms BLUE,RED] [--keep]
set -euo pipefail
cd "$(dirname "$0")/.."
size=4096 arms=RED keep=0
while (($#)); do
  case "$1" in
    --size) size=$2; shift 2 ;;
    --arms) arms=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    *) echo "usage: scripts/demo.sh [--size N] [--arms BLUE,RED] [--keep]" >&2; exit 2 ;;
  esac
done
scripts/install-deps.sh
echo "building (release)…"
swift build -c release 2>&1 | grep -E "error|warning: unre|Compiling|Build complete" | tail -1
bin=$(swift build -c release --show-bin-path)
out=$(mktemp -d /tmp/calibd-demo.XXXXXX)
((keep)) || trap 'rm -rf "$out"' EXIT
"$bin/calibctl" simulate --config config/calibd.yaml --out "$out/sim" --night 2026-11-21 --size "$size" --arms "$arms"
# calibd --once exits 1 when a job failed or failed QC: show the rest, then end with its status.
status=0
"$bin/calibd" --config config/calibd.yaml --watch "$out/sim/raw" --workspace "$out/ws" --once --log-level warning || status=$?
echo
# The master bias's figures beside the simulator's truth (the summary above has only the verdict).
for arm in ${arms//,/ }; do
  "$bin/calibctl" --config config/calibd.yaml --workspace "$out/ws" best --type MBIAS --night 2026-11-21 --setup "arm=$arm" \
    | grep -E "^MBIAS|biasLevelADU|readNoiseADU " || true
done
python3 - "$out/sim/truth/2026-11-21/truth.json" <<'PY' 2>/dev/null || true
import json, sys
truth = json.load(open(sys.argv[1]))
for arm, t in truth["arms"].items():
    d = t["detector"]
    print(f"simulator truth ({arm}): bias level {d['biasLevelADU'] + d['biasPatternMeanADU']:.2f} ADU, "
          f"read noise {d['readNoiseADU']:.3f} ADU ({d['readNoiseElectrons']:.2f} e-, gain {d['gain']} e-/ADU)")
PY
((keep)) && echo "kept: $out (calibctl --config config/calibd.yaml --workspace $out/ws night; report: $out/ws/reports/index.html)"
exit "$status"
