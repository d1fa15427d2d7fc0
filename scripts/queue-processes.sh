#!/usr/bin/env bash
# The job queue's done-when under real processes (#16): W worker processes
# (`calib-bench --queue-worker`, default 4) draining one queue of N jobs (default
# 100,000); checks that no job ran twice and none was lost, from the workers' own
# logs and from the database, and reports claims per second (a claim here is the
# whole cycle: claim, then complete). Too long for `swift test` (the fill alone is
# minutes); CI does not run it. The small-count versions, plus SIGKILL reclaim and
# SIGSTOP fencing, are in Tests/JobQueueContractTests/QueueWorkerProcessTests.swift.
#
#   scripts/queue-processes.sh [--jobs N] [--workers W] [--sqlite]
#
# PostgreSQL: $CALIBD_BENCH_POSTGRES_URL names an *empty* database to use; without
# it (and as root, with Debian's postgresql-15) a throwaway cluster is started as
# .ci/run does (initdb in a temporary directory, Unix socket only), with the
# server's default durability (fsync on; PG_FSYNC=off for CI's setting), and
# deleted at the end. --sqlite runs the same on a SQLite file instead.
# calib-bench is .build/release/calib-bench unless $CALIB_BENCH says otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=100000 workers=4 backend=postgresql
while [ $# -gt 0 ]; do
    case "$1" in
        --jobs) jobs=$2; shift 2 ;;
        --workers) workers=$2; shift 2 ;;
        --sqlite) backend=sqlite; shift ;;
        *) echo "usage: $0 [--jobs N] [--workers W] [--sqlite]" >&2; exit 64 ;;
    esac
done
bench=${CALIB_BENCH:-.build/release/calib-bench}
[ -x "$bench" ] || { echo "$bench not built: swift build -c release --product calib-bench" >&2; exit 66; }
work=$(mktemp -d /tmp/calibd-queue-processes.XXXXXX)
pg_bin=/usr/lib/postgresql/15/bin
pg_dir=""
cleanup() {
    if [ -n "$pg_dir" ]; then
        runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
        rm -rf "$pg_dir"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

if [ "$backend" = sqlite ]; then
    database="$work/queue.sqlite"
elif [ -n "${CALIBD_BENCH_POSTGRES_URL:-}" ]; then
    database=$CALIBD_BENCH_POSTGRES_URL
else
    [ -x "$pg_bin/postgres" ] || { echo "no PostgreSQL: set CALIBD_BENCH_POSTGRES_URL or install postgresql-15" >&2; exit 69; }
    pg_dir=$(mktemp -d /tmp/calibd-queue-pg.XXXXXX)
    chown postgres: "$pg_dir"
    runuser -u postgres -- "$pg_bin/initdb" -D "$pg_dir/data" -U postgres -A trust --no-sync >/dev/null
    runuser -u postgres -- "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/server.log" -w \
        -o "-c listen_addresses='' -c unix_socket_directories='$pg_dir' -c max_connections=100 -c fsync=${PG_FSYNC:-on}" start >/dev/null
    runuser -u postgres -- "$pg_bin/createdb" -h "$pg_dir" -U postgres calibd_queue
    database="postgresql://postgres@/calibd_queue?host=$pg_dir"
fi

echo "queue processes: $jobs jobs, $workers workers, $backend, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
start=$(date +%s.%N)
"$bench" --queue-fill "$jobs" --threads 4 --database "$database" >/dev/null
echo "filled in $(echo "$(date +%s.%N) - $start" | bc) s"

pids=()
for w in $(seq 1 "$workers"); do
    "$bench" --queue-worker --database "$database" --owner "worker-$w" --lease 30 --idle-exit 3 >"$work/worker-$w.log" 2>"$work/worker-$w.err" &
    pids+=($!)
done
failed=0
for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
[ $failed = 0 ] || { echo "a worker failed:"; cat "$work"/worker-*.err; exit 1; }

# From the workers' logs: each job claimed once and completed once; the cycle rate from
# the first claim to the last completion over all workers (their idle tails excluded).
cat "$work"/worker-*.log | awk -v jobs="$jobs" '
    $1 == "claimed"   { claims[$2]++ }
    $1 == "completed" { done[$2]++; completed++ }
    $1 == "fenced"    { fenced++ }
    $1 == "exit" {
        split($5, f, "="); split($6, l, "=")
        if (f[2] > 0 && (first == 0 || f[2] < first)) first = f[2]
        if (l[2] > last) last = l[2]
        print "  " $2, $3, $4
    }
    END {
        for (id in claims) { if (claims[id] > 1) claimedTwice++ }
        for (id in done) { distinct++; if (done[id] > 1) doneTwice++ }
        printf "logs: %d completions of %d distinct jobs; claimed twice %d, completed twice %d, fenced %d, lost %d\n",
            completed, distinct, claimedTwice + 0, doneTwice + 0, fenced + 0, jobs - distinct
        printf "%.0f claims/s (%d jobs in %.2f s, first claim to last completion)\n", completed / (last - first), completed, last - first
        if (distinct != jobs || claimedTwice + doneTwice > 0) exit 1
    }' || { echo "FAILED: a job was lost or ran twice"; exit 1; }
echo "database:"
"$bench" --queue-report --database "$database" | sed 's/^/  /' | tee "$work/report"
grep -q "^  states succeeded=$jobs\$" "$work/report" && grep -q "^  attempts 1=$jobs\$" "$work/report" \
    || { echo "FAILED: the database does not show every job succeeded at its first attempt"; exit 1; }
echo "OK: 0 run twice, 0 lost"
