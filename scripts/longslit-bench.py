#!/usr/bin/env python3
"""Whole long-slit calibration of the real Kast blue and ISIS blue sets, timed against PypeIt.

For each set, a fresh workspace gets the repository's config/ and every raw frame of
../shared/realdata/<set> (or the vendored subset in Tests/Fixtures with --fixtures), and
`calibd --once` reduces the night: ingest, classification, MBIAS, CRV_MODEL, IDS_MODEL and
PIXEL_FLAT, with QC. Reported per set:

  wall      seconds from starting calibd to its exit (ingest and product writing included);
  peak RSS  the largest resident set of any one process (GNU time's %M: ru_maxrss of calibd
            and of the recipe child processes it waited for), and the
            peak of the whole process tree's summed RSS, sampled every 20 ms from /proc (the
            daemon and a worker child are alive at the same time);
  CPU       user + system seconds of calibd and its recipe processes (GNU time's %U + %S): what
            the wall time would be on an idle machine if nothing ran in parallel;
  ratios    PypeIt 2.0.1's figures on the same sets (issue 13: Kast blue 53.7 s, 1.42 GB;
            ISIS blue 164.6 s, 2.9 GB, calibrations only) divided by ours. The target is a
            time ratio >= 20 and a memory ratio >= 10.

PypeIt's figures were measured by the issue's author on "this kind of machine", not in this
run, so the ratios are only as good as that comparison; the machine may be loaded by other
work. Not part of CI. Usage:

  swift build -c release --product calibd
  python3 scripts/longslit-bench.py [--binary .build/release/calibd] [--repeat 3] [--fixtures]
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHARED = os.path.normpath(os.path.join(REPO, "..", "shared", "realdata"))
SETS = [
    # name, real-data folder, fixture folder, PypeIt wall s, PypeIt peak bytes, products expected
    ("Kast blue 600/4310 d55", "kast_blue_600_4310_d55", "kast_blue", 53.7, 1.42e9, 4),
    ("ISIS blue R300B", "wht_isis_blue_R300B_d5300", "isis_blue", 164.6, 2.9e9, 4),
]
FRAME_SUFFIXES = (".fits", ".fits.gz", ".fit", ".fit.gz")


def tree_rss(root_pid):
    """Summed VmRSS (bytes) of root_pid and all its descendants, from /proc."""
    children = {}
    rss = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            with open(f"/proc/{entry}/statm") as f:
                pages = int(f.read().split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = pages * os.sysconf("SC_PAGE_SIZE")
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def make_workspace(frames_dir, workers):
    root = tempfile.mkdtemp(prefix="calibd-lsbench-")
    os.makedirs(os.path.join(root, "config"))
    os.makedirs(os.path.join(root, "raw"))
    for sub in ["instruments", "simulator", "linelists", "static"]:
        shutil.copytree(os.path.join(REPO, "config", sub), os.path.join(root, "config", sub))
    with open(os.path.join(root, "config", "calibd.yaml"), "w") as f:
        f.write(f"watch: [../raw]\nworkspace: ../ws\ninstruments: instruments\nworkers: {workers}\n"
                "ingest:\n  stableSeconds: 0.2\n  settleSeconds: 2\n  reconcileSeconds: 5\n  giveUpSeconds: 3\n")
    names = sorted(n for n in os.listdir(frames_dir) if n.endswith(FRAME_SUFFIXES))
    for name in names:
        shutil.copy(os.path.join(frames_dir, name), os.path.join(root, "raw", name))
    return root, len(names)


def run_once(binary, frames_dir, workers):
    root, count = make_workspace(frames_dir, workers)
    try:
        rss_file = os.path.join(root, "maxrss")
        start = time.monotonic()
        proc = subprocess.Popen(["/usr/bin/time", "-o", rss_file, "-f", "%M %U %S", binary, "--config", os.path.join(root, "config", "calibd.yaml"), "--once",
                                 "--log-level", "error"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        peak_tree = 0
        while proc.poll() is None:
            peak_tree = max(peak_tree, tree_rss(proc.pid))
            time.sleep(0.02)
        wall = time.monotonic() - start
        out, err = proc.communicate()
        with open(rss_file) as f:
            fields = f.read().split()[-3:]
        peak_one = int(fields[0]) * 1024  # KiB
        cpu = float(fields[1]) + float(fields[2])
        summary = next((line for line in out.splitlines() if "products QC-passed" in line), "")
        return {"wall": wall, "cpu": cpu, "peak_one": peak_one, "peak_tree": max(peak_tree, peak_one), "status": proc.returncode,
                "summary": summary.strip(), "frames": count, "stderr": err.strip()}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", default=os.path.join(REPO, ".build", "release", "calibd"))
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2, help="recipe processes at once (calibd's default: 2)")
    parser.add_argument("--fixtures", action="store_true", help="use the vendored subsets in Tests/Fixtures")
    args = parser.parse_args()
    if not os.access(args.binary, os.X_OK):
        sys.exit(f"{args.binary} is not an executable: swift build -c release --product calibd")
    rows = []
    for name, real, fixture, py_wall, py_peak, expected in SETS:
        frames_dir = os.path.join(REPO, "Tests", "Fixtures", fixture) if args.fixtures else os.path.join(SHARED, real)
        runs = [run_once(args.binary, frames_dir, args.workers) for _ in range(args.repeat)]
        for r in runs:
            if r["status"] != 0 or f"{expected}/{expected} products QC-passed" not in r["summary"]:
                sys.exit(f"{name}: calibd --once did not make {expected} QC-passed products (exit {r['status']}):\n"
                         f"{r['summary']}\n{r['stderr'][-2000:]}")
        wall = sorted(r["wall"] for r in runs)[len(runs) // 2]
        one = max(r["peak_one"] for r in runs)
        tree = max(r["peak_tree"] for r in runs)
        cpu = sorted(r["cpu"] for r in runs)[len(runs) // 2]
        rows.append((name, runs[0]["frames"], wall, min(r["wall"] for r in runs), cpu, one, tree, py_wall, py_peak))
    print(f"workers: {args.workers}, runs per set: {args.repeat}, load average before: {os.getloadavg()[0]:.1f}")
    print("| set | frames | calibd wall, median (min) | CPU | PypeIt | wall ratio (CPU ratio) | peak RSS one process / tree | PypeIt | memory ratio one / tree |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, frames, wall, fastest, cpu, one, tree, py_wall, py_peak in rows:
        print(f"| {name} | {frames} | {wall:.2f} s ({fastest:.2f} s) | {cpu:.2f} s | {py_wall} s | {py_wall / wall:.1f}x ({py_wall / cpu:.1f}x) | "
              f"{one / 1e6:.0f} MB / {tree / 1e6:.0f} MB | {py_peak / 1e9:.2f} GB | {py_peak / one:.1f}x / {py_peak / tree:.1f}x |")
    ok = all(py_wall / wall >= 20 and py_peak / tree >= 10 for _, _, wall, _, _, _, tree, py_wall, py_peak in rows)
    print("target (>= 20x faster, >= 10x less memory):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
