#!/usr/bin/env bash
# Builds calibd-fuzz with libFuzzer (swiftc -sanitize=fuzzer) and fuzzes the
# header classifier and the profile loader for SECONDS (default 60).
#
#   scripts/fuzz.sh [SECONDS]
# Crashes are written to .build-fuzz/crash-*; replay one with
#   swift run calibd-fuzz .build-fuzz/crash-…
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
swift build --product calibd-fuzz --scratch-path .build-fuzz \
  -Xswiftc -sanitize=fuzzer -Xswiftc -parse-as-library -Xswiftc -DCALIBD_LIBFUZZER 2>&1 | tail -1
corpus=.build-fuzz/corpus
mkdir -p "$corpus"
cp config/instruments/*.yaml "$corpus/"
# A header as a file holds it: 80-byte cards, padded, up to END.
printf '%-80s%-80s%-80s%-80s%-80s%-80s%-80s%-80s%-80s%-80s' \
  "SIMPLE  =                    T" "BITPIX  =                   16" "NAXIS   =                    0" \
  "INSTRUME= 'SIMECH  '" "HIERARCH ESO DPR CATG = 'CALIB'" "HIERARCH ESO DPR TYPE = 'LAMP,FLAT'" \
  "HIERARCH ESO DPR TECH = 'ECHELLE,SLIT'" "MJD-OBS =     61365.9" "EXPTIME =                  5.0" "END" > "$corpus/simech-flat.hdr"
CALIBD_CONFIG_DIR="$PWD/config" .build-fuzz/debug/calibd-fuzz -max_total_time="$seconds" -artifact_prefix=.build-fuzz/ "$corpus"
