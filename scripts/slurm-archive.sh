#!/usr/bin/env bash
# Archive reprocessing on a real cluster scheduler (#16, done-when 4): a Slurm job
# array of `calibd --role reduce --drain` workers reduces a simulated month on one
# shared SQLite database, and the database must end identical (frames, jobs,
# products, QC, by content) to the same month reduced by one drain on one host.
#
#   scripts/slurm-archive.sh [--nights N] [--size S] [--tasks T] [--rounds 1|2] [--first YYYY-MM-DD] [--keep]
#
# It starts its own munged and a single-node slurmctld + slurmd (scripts/slurm/
# slurm.conf.in) in a temporary directory: own key, socket, state, spool and logs,
# loopback only, free ports; and stops every daemon it started on exit (trap), also
# on failure. Needs root and Debian's slurm-wlm and munge (.ci/run installs them);
# without them it fails (exit 69), it never skips. Binaries: $CALIBD_BIN_DIR, else
# .build/debug (what `swift test` built).
#
# The run: simulate N nights (default 30, a month from --first) of one small arm
# (--size, default 256 px: a night's jobs take ~2 s in a debug build) into one raw
# tree; two workspaces on it, "slurm" and "host", each with its own database; in
# each, `calibctl ingest` records the frames and `calibctl reprocess --nights
# FIRST..LAST --force` is asked for, as an operator would (on a freshly ingested
# archive it re-queues nothing: the drains plan every input set that has no job
# yet). Then: slurm — `sbatch --array=1-T` (default T = cores) of drains, waited
# for; host — one drain. With --rounds 2, a second round, the reprocessing of an
# archive already reduced: `calibctl reprocess --nights … --force` re-queues every
# job of the month and the same two kinds of drains run them again (superseding the
# first products). One round takes ~2 minutes on 2 cores with the debug build, the
# second as long again, so CI runs one.
# Finally each database is dumped in a canonical form (ids, times, hosts, lease
# owners, attempts and ids in product file names and job reasons left out; product paths
# relative to the workspace; QC values at full precision) and the two dumps are
# compared: exit 1 with the differences if they differ.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
# Why 256 although half of a 256² night's jobs fail QC (arc solution, order trace): one RED
# night by `calibd --once`, debug build, load ~11 on 2 cores (2026-12-07) — 256²: 4 jobs, 2
# qc_failed, 7 s; 384²: 5 jobs, 2 qc_failed, 14 s; 512²: 8 jobs, 2 qc_failed (spatial solution,
# flat blaze), 28 s; 768²: 6 jobs, 1 qc_failed (arc solution), 21 s; 1024²: 8 jobs, all pass,
# 44 s. The smallest size where every job passes is 1024², and 30 nights of it would take
# ~11 minutes on the Slurm side and ~22 on the single host: far past the ~2 minutes CI allows.
# The comparison still covers both outcomes (qc_failed jobs must end identical too).
nights=30 size=256 tasks=$(nproc) rounds=1 first=2026-11-01 keep=0
while [ $# -gt 0 ]; do
    case "$1" in
        --nights) nights=$2; shift 2 ;;
        --size) size=$2; shift 2 ;;
        --tasks) tasks=$2; shift 2 ;;
        --rounds) rounds=$2; shift 2 ;;
        --first) first=$2; shift 2 ;;
        --keep) keep=1; shift ;;
        *) echo "usage: $0 [--nights N] [--size S] [--tasks T] [--rounds 1|2] [--first YYYY-MM-DD] [--keep]" >&2; exit 64 ;;
    esac
done
bin=${CALIBD_BIN_DIR:-$repo/.build/debug}
for tool in calibd calibctl; do
    [ -x "$bin/$tool" ] || { echo "slurm-archive: $bin/$tool not built (swift build, or set CALIBD_BIN_DIR)" >&2; exit 66; }
done
for tool in munged slurmctld slurmd sbatch sinfo squeue scontrol sqlite3; do
    command -v "$tool" >/dev/null || { echo "slurm-archive: $tool not found: apt-get install slurm-wlm munge sqlite3 (as .ci/run does)" >&2; exit 69; }
done
[ "$(id -u)" = 0 ] || { echo "slurm-archive: must run as root (slurmd starts jobs as their user)" >&2; exit 77; }

dir=$(mktemp -d /tmp/calibd-slurm.XXXXXX)
stop_daemons() {
    local status=$?
    # Only what this script started, by the pid files its daemons wrote.
    if [ -n "${SLURM_CONF:-}" ] && [ -f "$dir/slurmctld.pid" ]; then scancel --quiet --full --user=root 2>/dev/null || true; fi
    for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid" "$dir/munge/munged.pid"; do
        if [ -f "$pidfile" ]; then
            pid=$(cat "$pidfile")
            kill "$pid" 2>/dev/null || true
            for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
            kill -9 "$pid" 2>/dev/null || true
        fi
    done
    if [ $status != 0 ]; then
        echo "slurm-archive: failed (exit $status); daemon logs:" >&2
        for log in "$dir/slurmctld.log" "$dir/slurmd.log" "$dir/munge/munged.log"; do
            [ -f "$log" ] && { echo "--- $log (last 20 lines)" >&2; tail -20 "$log" >&2; }
        done
    fi
    if [ $keep = 1 ]; then echo "slurm-archive: kept $dir" >&2; else rm -rf "$dir"; fi
    exit $status
}
trap stop_daemons EXIT
trap 'exit 130' INT TERM
started=$(date +%s)
elapsed() { echo "$(( $(date +%s) - started )) s"; }
echo "slurm-archive: $nights nights of ${size}² from $first, $tasks array tasks, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), in $dir"

# munge: its own key and socket, so nothing of the host's munge is used or disturbed.
mkdir -m 711 "$dir/munge"
dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
chmod 600 "$dir/munge/munge.key"
munged --force --key-file "$dir/munge/munge.key" --socket "$dir/munge/munge.socket" \
    --pid-file "$dir/munge/munged.pid" --log-file "$dir/munge/munged.log" --seed-file "$dir/munge/munged.seed"

# Two free loopback ports for slurmctld and slurmd.
free_port() {
    local port
    for port in $(seq "$1" $(( $1 + 200 ))); do
        # A connection refused means nothing listens there (bash's /dev/tcp: no iproute2 needed).
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then echo "$port"; return; fi
    done
    echo "slurm-archive: no free port from $1" >&2; exit 69
}
ctld_port=$(free_port 16817)
slurmd_port=$(free_port $(( ctld_port + 1 )))
host=$(hostname -s)
mkdir -p "$dir/state" "$dir/spool" "$dir/out"
: > "$dir/plugstack.conf"
sed -e "s|@DIR@|$dir|g" -e "s|@HOST@|$host|g" -e "s|@NODE@|calibnode|g" -e "s|@CPUS@|$(nproc)|g" \
    -e "s|@CTLD_PORT@|$ctld_port|g" -e "s|@SLURMD_PORT@|$slurmd_port|g" \
    "$repo/scripts/slurm/slurm.conf.in" > "$dir/slurm.conf"
export SLURM_CONF=$dir/slurm.conf
slurmctld -i -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF" -N calibnode
for _ in $(seq 1 300); do
    state=$(sinfo -h -n calibnode -o %T 2>/dev/null || true)
    case "$state" in idle*|mixed*|allocated*) break ;; esac
    sleep 0.1
done
case "$state" in idle*) ;; *) echo "slurm-archive: the node did not come up idle (state: '${state:-none}')" >&2; exit 69 ;; esac
echo "slurm-archive: slurmctld (port $ctld_port) and slurmd (port $slurmd_port) up after $(elapsed)"

# The configuration tree, and one calibd.yaml per workspace on the shared raw tree.
mkdir -p "$dir/config" "$dir/sim/raw"
for sub in instruments simulator linelists static; do cp -r "$repo/config/$sub" "$dir/config/$sub"; done
for name in slurm host; do
    cat > "$dir/config/$name.yaml" <<EOF
watch: [../sim/raw]
workspace: ../ws-$name
instruments: instruments
workers: 1
ingest:
  settleSeconds: 0.5
EOF
done

# A month of nights: the simulator writes one night per call; run as many at once as cores.
last=$(date -u -d "$first + $(( nights - 1 )) days" +%F)
sim_pids=()
wait_simulations() {
    local pid
    for pid in "${sim_pids[@]}"; do
        wait "$pid" || { echo "slurm-archive: simulate failed:" >&2; cat "$dir"/out/simulate-*.log >&2; exit 1; }
    done
    sim_pids=()
}
for i in $(seq 0 $(( nights - 1 ))); do
    night=$(date -u -d "$first + $i days" +%F)
    "$bin/calibctl" simulate --config "$dir/config/slurm.yaml" --out "$dir/sim" --night "$night" --seed $(( 100 + i )) \
        --size "$size" --arms RED >"$dir/out/simulate-$night.log" 2>&1 &
    sim_pids+=($!)
    [ ${#sim_pids[@]} -lt "$(nproc)" ] || wait_simulations
done
wait_simulations
mapfile -t files < <(find "$dir/sim/raw" -name '*.fits' | sort)
echo "slurm-archive: simulated ${#files[@]} frames over $nights nights ($first..$last) after $(elapsed)"
[ ${#files[@]} -ge "$nights" ] || { echo "slurm-archive: the simulation wrote ${#files[@]} frames for $nights nights" >&2; exit 1; }

ctl() { local name=$1; shift; "$bin/calibctl" "$@" --config "$dir/config/$name.yaml"; }
for name in slurm host; do
    ctl "$name" ingest "${files[@]}" >"$dir/out/ingest-$name.log" 2>"$dir/out/ingest-$name.err"
    recorded=$(grep -c '^recorded' "$dir/out/ingest-$name.log" || true)
    [ "$recorded" = ${#files[@]} ] || { echo "slurm-archive: $name ingest recorded $recorded of ${#files[@]} frames:" >&2; tail "$dir/out/ingest-$name.log" >&2; exit 1; }
done
echo "slurm-archive: ingested into both workspaces after $(elapsed)"

# A drain that ran to its end: exit 0, or 1 because jobs failed or failed QC (at these small sizes some QC is missed).
drain_ok() {
    local status=$1 out=$2 err=$3
    grep -q '^calibd --drain:' "$out" && { [ "$status" = 0 ] || { [ "$status" = 1 ] && grep -q 'jobs did not succeed' "$err"; }; }
}
# One round: the operator's reprocess request in each workspace, then the Slurm array, then the single host.
run_round() {
    local round=$1 name
    for name in slurm host; do
        # (Its stderr says no daemon could be woken: there is none, the drains are started below.)
        ctl "$name" reprocess --nights "$first..$last" --force >"$dir/out/reprocess-$round-$name.log" 2>"$dir/out/reprocess-$round-$name.err" ||
            { echo "slurm-archive: reprocess failed:" >&2; cat "$dir/out/reprocess-$round-$name".* >&2; exit 1; }
    done
    echo "slurm-archive: round $round: calibctl reprocess --nights $first..$last --force: $(cut -d: -f1 "$dir/out/reprocess-$round-slurm.log")"

    # The array: each task a drain on the shared database; its exit status and output per task.
    local job
    job=$(sbatch --parsable --array=1-"$tasks" --cpus-per-task=1 --job-name="calibd-drain-$round" \
        --chdir="$dir" --output="$dir/out/drain-$round-%a.out" --error="$dir/out/drain-$round-%a.err" \
        --wrap "'$bin/calibd' --config '$dir/config/slurm.yaml' --role reduce --drain --log-level warning; echo \$? > '$dir/out/drain-$round-'\$SLURM_ARRAY_TASK_ID.status")
    local deadline=$(( $(date +%s) + 900 ))
    while squeue -h -j "$job" 2>/dev/null | grep -q .; do
        [ "$(date +%s)" -lt $deadline ] || { echo "slurm-archive: array $job still running after 900 s" >&2; squeue >&2; exit 1; }
        sleep 0.5
    done
    local ran=0 task status n
    for task in $(seq 1 "$tasks"); do
        status=$(cat "$dir/out/drain-$round-$task.status" 2>/dev/null || echo missing)
        drain_ok "$status" "$dir/out/drain-$round-$task.out" "$dir/out/drain-$round-$task.err" || {
            echo "slurm-archive: array task $task of job $job: exit $status" >&2
            cat "$dir/out/drain-$round-$task.out" "$dir/out/drain-$round-$task.err" >&2; exit 1; }
        n=$(sed -n 's/^calibd --drain: \([0-9]*\) jobs* run.*/\1/p' "$dir/out/drain-$round-$task.out")
        echo "slurm-archive: round $round: array task $task: $(grep '^calibd --drain:' "$dir/out/drain-$round-$task.out")"
        ran=$(( ran + ${n:-0} ))
    done
    echo "slurm-archive: round $round: Slurm array $job, $tasks drains, ran $ran jobs; done after $(elapsed)"

    status=0
    "$bin/calibd" --config "$dir/config/host.yaml" --role reduce --drain --log-level warning \
        >"$dir/out/host-$round.out" 2>"$dir/out/host-$round.err" || status=$?
    drain_ok $status "$dir/out/host-$round.out" "$dir/out/host-$round.err" ||
        { echo "slurm-archive: the single-host drain exited $status:" >&2; cat "$dir/out/host-$round.out" "$dir/out/host-$round.err" >&2; exit 1; }
    echo "slurm-archive: round $round: single host: $(grep '^calibd --drain:' "$dir/out/host-$round.out"); done after $(elapsed)"
}
for round in $(seq 1 "$rounds"); do run_round "$round"; done

# Canonical dumps: what the archive holds, without what legitimately differs between runs.
dump() {
    local ws=$dir/ws-$1
    sqlite3 -readonly -separator ' | ' "$ws/calibd.sqlite" <<EOF
SELECT 'frame', checksum, path, size_bytes, status, coalesce(problem, ''), coalesce(instrument, ''), frame_type,
       coalesce(lamp, ''), coalesce(night, ''), coalesce(setup, ''), printf('%!.17g', mjd_obs), printf('%!.17g', exptime),
       coalesce(tpl_start, ''), coalesce(tpl_nexp, '')
  FROM frame ORDER BY checksum;
SELECT 'job', j.recipe, j.recipe_version, j.parameters, j.instrument, j.night, j.setup, j.product_type, j.state,
       coalesce(j.reason, ''), j.generation,
       (SELECT group_concat(c, ',') FROM (SELECT f.checksum AS c FROM job_input i JOIN frame f ON f.id = i.frame_id
         WHERE i.job_id = j.id ORDER BY f.checksum))
  FROM job j ORDER BY 2, 6, 7, 3, 4, 12, 11;
SELECT 'product', p.product_type, p.instrument, p.night, p.setup, printf('%!.17g', p.mjd),
       replace(p.path, '$ws/', ''), p.recipe, p.recipe_version, p.qc_passed,
       p.superseded_by IS NOT NULL, p.is_reference, p.availability,
       (SELECT group_concat(u, ',') FROM (SELECT q.product_type || '@' || q.night || '@' || q.setup || '@' || (q.superseded_by IS NOT NULL) AS u
          FROM product_used pu JOIN product q ON q.id = pu.used_product_id WHERE pu.product_id = p.id ORDER BY u))
  FROM product p ORDER BY 2, 4, 5, 7, 11;
SELECT 'qc', p.product_type, p.night, p.setup, p.superseded_by IS NOT NULL, q.name, printf('%!.17g', q.value), q.unit,
       printf('%!.17g', q.range_min), printf('%!.17g', q.range_max), q.passed
  FROM qc_metric q JOIN product p ON p.id = q.product_id ORDER BY 2, 3, 4, 5, 6;
EOF
}
# Ids in text: a product file's name carries its job's id (…_j12g1.fits), a superseded job's
# reason names product and job ids; the ids differ with who planned first, the rest must not.
normalise() { sed -E -e 's/_j[0-9]+(g[0-9]+)?\.fits/_j#\1.fits/g' -e 's/\b(product|job) [0-9]+/\1 #/g'; }
dump slurm | normalise > "$dir/out/slurm.dump"
dump host | normalise > "$dir/out/host.dump"
summary() { cut -d' ' -f1 "$1" | sort | uniq -c | awk '{printf "%s %s rows, ", $1, $2}' | sed 's/, $//'; }
echo "slurm-archive: Slurm database: $(summary "$dir/out/slurm.dump")"
echo "slurm-archive: host database:  $(summary "$dir/out/host.dump")"
for kind in frame job product qc; do
    grep -q "^$kind " "$dir/out/host.dump" || { echo "slurm-archive: the single-host database has no $kind rows: nothing to compare" >&2; exit 1; }
done
if ! diff -u --label "single host" --label "Slurm array" "$dir/out/host.dump" "$dir/out/slurm.dump" > "$dir/out/diff"; then
    echo "slurm-archive: the databases DIFFER ($(grep -c '^[-+][a-z]' "$dir/out/diff") rows):" >&2
    head -100 "$dir/out/diff" >&2
    exit 1
fi
# The comparison must be able to fail: a copy of the Slurm database with one QC value moved in its
# last digits must dump differently.
mkdir -p "$dir/ws-tampered"
sqlite3 "$dir/ws-slurm/calibd.sqlite" ".backup '$dir/ws-tampered/calibd.sqlite'"
sqlite3 "$dir/ws-tampered/calibd.sqlite" "UPDATE qc_metric SET value = value * (1 + 1e-15) + 1e-300
    WHERE rowid = (SELECT min(rowid) FROM qc_metric WHERE value IS NOT NULL AND value != 0)"
if dump tampered | normalise | cmp -s - "$dir/out/slurm.dump"; then
    echo "slurm-archive: the comparison did not see a QC value changed in its last digits: it proves nothing" >&2
    exit 1
fi
echo "slurm-archive: identical (frames, jobs, products, QC) after $(elapsed); a QC value changed by 1e-15 relative would have been seen"
