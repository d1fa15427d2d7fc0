#!/usr/bin/env python3
"""calibd against SOXSPIPE 0.19.0, recipe by recipe, on the same simulated X-shooter VIS night.

Issue 12, item 5. Steps:

  1. a Python 3.12 venv with soxspipe==0.19.0 from PyPI (created once under --scratch, reused);
  2. one X-shooter VIS night from calibd's own simulator
     (`calibctl simulate --instrument XSHOOTER --arms VIS --binning B`), the frames both pipelines read;
  3. SOXSPIPE: a working directory with a `soxspipe.yaml` (SOXSPIPE's own XSH defaults, log file moved
     into the scratch directory) and HOME pointed at a scratch directory; for each recipe a set-of-files
     (sof) file, one `path TAG` line per frame — the raw frames of that recipe (sorted by their
     ESO DPR TYPE/TECH headers) plus the products of the recipes before it (tagged with their ESO PRO
     CATG) — run as `soxspipe mbias|disp_solution|order_centres|mflat|spat_solution <sof> -o <dir> -s
     soxspipe.yaml -x`, one after another, each under GNU time (`/usr/bin/time -f "%e %M"`: wall seconds
     and peak RSS of the largest process);
  4. calibd: a workspace with the repository's config/ and the same raw frames, `calibd --once` with
     one worker (one recipe process at a time, as SOXSPIPE runs), then each job's wall time and the
     peak RSS of its recipe process (VmHWM) from `calibctl job show --json` (job_attempt_timing);
  5. a table: recipe, SOXSPIPE s / MB, calibd s / MB, time ratio, memory ratio.

The recipes correspond as: mbias <-> mbias, disp_solution <-> disp_solution, order_centres <->
ordertrace, mflat <-> mflat (calibd's separate flatblaze job, FLAT/BLAZE/E2DS, is listed on its own),
spat_solution <-> spatial_solution. The pairs do not do identical work (products, QC plots and
diagnostics differ: SOXSPIPE writes QC plots and residual tables, calibd QC figures); the figures are
what an operator waits for and pays in memory for each step. Times on a loaded machine only compare
within one run. Not part of CI. Usage:

  swift build -c release            # calibd and calibctl
  python3 scripts/soxspipe-bench.py [--binning 2x2] [--scratch /tmp/soxbench] [--build release]
"""
import argparse
import glob
import json
import os
import shutil
import subprocess
import sys
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOXSPIPE_VERSION = "0.19.0"

# SOXSPIPE command, calibd recipe name (config/instruments/xshooter.yaml), raw-frame predicate on
# (DPR TYPE, DPR TECH), PRO CATG prefixes of earlier products it needs.
RECIPES = [
    ("mbias", "mbias", lambda t, tech: t == "BIAS", []),
    ("disp_solution", "disp_solution", lambda t, tech: t in ("LAMP,FMTCHK",) and "MULTI" not in tech,
     ["MASTER_BIAS"]),
    ("order_centres", "ordertrace", lambda t, tech: "ORDERDEF" in t, ["MASTER_BIAS", "DISP_TAB"]),
    ("mflat", "mflat", lambda t, tech: "FLAT" in t and "LAMP" in t, ["MASTER_BIAS", "ORDER_TAB"]),
    ("spat_solution", "spatial_solution", lambda t, tech: (t in ("LAMP,WAVE", "LAMP,FMTCHK") and "MULTI" in tech),
     ["MASTER_BIAS", "ORDER_TAB", "DISP_TAB", "MASTER_FLAT"]),
]

# SOXSPIPE 0.19.0's order_centres refuses to run without --poly (docopt passes None, which its
# _parse_poly_orders, unlike disp_solution's and spat_solution's, does not treat as "not given": TypeError
# "THE poly VALUE NEEDS TO BE A 2 DIGIT INTEGER"); 64 is xsh_default_settings.yaml's own VIS degrees
# (order-deg 6, disp-axis-deg 4), so the run is what the settings file would have asked for.
EXTRA_ARGS = {"order_centres": ["--poly=64"]}


def fits_header(path):
    """The primary header's cards as a dict of stripped strings (no astropy outside the venv)."""
    cards = {}
    with open(path, "rb") as f:
        while True:
            block = f.read(2880)
            if len(block) < 2880:
                break
            for i in range(0, 2880, 80):
                card = block[i:i + 80].decode("ascii", "replace")
                key = card[:8].strip()
                if key == "END":
                    return cards
                if card.startswith("HIERARCH "):
                    name, _, rest = card[9:].partition("=")
                    key, value = name.strip(), rest
                elif card[8:10] == "= ":
                    value = card[10:]
                else:
                    continue
                value = value.split(" /")[0].strip()
                cards[key] = value.strip("'").strip()
    return cards


def run_timed(argv, cwd, env, log_path):
    """(wall s, peak RSS bytes of the largest process, exit status) under GNU time."""
    rss_file = log_path + ".time"
    start = time.monotonic()
    with open(log_path, "w") as log:
        status = subprocess.call(["/usr/bin/time", "-o", rss_file, "-f", "%e %M", *argv], cwd=cwd, env=env,
                                 stdout=log, stderr=subprocess.STDOUT)
    wall = time.monotonic() - start
    with open(rss_file) as f:
        fields = f.read().split()[-2:]
    return wall, int(fields[1]) * 1024, status


def ensure_venv(scratch):
    venv = os.path.join(scratch, "venv")
    python = os.path.join(venv, "bin", "python")
    soxspipe = os.path.join(venv, "bin", "soxspipe")
    if not os.access(soxspipe, os.X_OK):
        candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
        base = candidates[-1] if candidates else shutil.which("python3.12")
        if not base:
            sys.exit("no Python 3.12 (pyenv install 3.12, or put python3.12 on PATH)")
        subprocess.check_call([base, "-m", "venv", venv])
        # six: soxspipe's dependency `fundamentals` imports it without declaring it (ModuleNotFoundError otherwise).
        subprocess.check_call([python, "-m", "pip", "install", "-q", f"soxspipe=={SOXSPIPE_VERSION}", "six"])
    home = os.path.join(scratch, "soxspipe-home")
    os.makedirs(home, exist_ok=True)
    check = subprocess.run([python, "-c", "import soxspipe; print(soxspipe.__version__)"], capture_output=True,
                           text=True, env=dict(os.environ, HOME=home))
    version = check.stdout.strip()
    if check.returncode != 0:
        sys.exit(f"soxspipe does not import in {venv}:\n{check.stderr[-1500:]}")
    if version != SOXSPIPE_VERSION:
        sys.exit(f"{venv} holds soxspipe {version!r}, not {SOXSPIPE_VERSION}; remove it to rebuild")
    return venv


def soxspipe_settings(venv, workdir, home):
    """SOXSPIPE's own X-shooter defaults as ./soxspipe.yaml, its log file inside the scratch HOME."""
    source = glob.glob(os.path.join(venv, "lib", "python3.12", "site-packages", "soxspipe", "xsh_default_settings.yaml"))
    if not source:
        sys.exit("soxspipe's xsh_default_settings.yaml is not in the venv")
    with open(source[0]) as f:
        text = f.read()
    lines = []
    for line in text.splitlines():
        if line.strip().startswith("filename:") and "soxspipe.log" in line:
            line = line.split("filename:")[0] + "filename: " + os.path.join(home, "soxspipe.log")
        lines.append(line)
    with open(os.path.join(workdir, "soxspipe.yaml"), "w") as f:
        f.write("\n".join(lines) + "\n")


def products_by_catg(directory):
    """PRO CATG -> newest product path under directory (later recipes refine earlier ones' ORDER_TAB).

    Only reduced products; mflat's background model (`*_BKGROUND.fits`) carries MASTER_FLAT too.
    """
    found = {}
    for path in glob.glob(os.path.join(directory, "reduced", "**", "*.fits"), recursive=True):
        if path.endswith("_BKGROUND.fits"):
            continue
        catg = fits_header(path).get("ESO PRO CATG")
        if catg and (catg not in found or os.path.getmtime(path) >= os.path.getmtime(found[catg])):
            found[catg] = path
    return found


def soxspipe_copies(venv, frames, directory, env):
    """Copies of the raw frames with the keywords SOXSPIPE reads that calibd's simulator does not write.

    Pixels are byte-identical; only header cards are added. SOXSPIPE takes a CCD arm's binning from
    CDELT1/CDELT2 (as real X-shooter raw files carry them), not from ESO DET WIN1 BINX/BINY, and trims
    an unbinned science window otherwise (ValueError: dimensions of mask (2000, 1024) and data
    (2000, 1043) do not match, at 2x2).
    """
    shutil.rmtree(directory, ignore_errors=True)
    os.makedirs(directory)
    copies = []
    for path in frames:
        copy = os.path.join(directory, os.path.basename(path))
        shutil.copyfile(path, copy)
        copies.append(copy)
    script = (
        "import sys\n"
        "from astropy.io import fits\n"
        "for path in sys.argv[1:]:\n"
        "    with fits.open(path, mode='update') as f:\n"
        "        h = f[0].header\n"
        "        h.setdefault('CDELT1', int(h.get('HIERARCH ESO DET WIN1 BINX', 1)))\n"
        "        h.setdefault('CDELT2', int(h.get('HIERARCH ESO DET WIN1 BINY', 1)))\n"
    )
    subprocess.check_call([os.path.join(venv, "bin", "python"), "-c", script, *copies], env=env)
    return copies


def run_soxspipe(venv, frames, scratch):
    workdir = os.path.join(scratch, "soxspipe-work")
    home = os.path.join(scratch, "soxspipe-home")
    shutil.rmtree(workdir, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)
    os.makedirs(os.path.join(workdir, "sof"))
    os.makedirs(home)
    soxspipe_settings(venv, workdir, home)
    env = dict(os.environ, HOME=home, PATH=os.path.join(venv, "bin") + ":" + os.environ["PATH"],
               MPLBACKEND="Agg", OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "2"))
    frames = soxspipe_copies(venv, frames, os.path.join(scratch, "soxspipe-raw"), env)
    headers = {path: fits_header(path) for path in frames}
    products_dir = os.path.join(workdir, "products")
    results = {}
    for command, _, wants, upstream in RECIPES:
        raw = [p for p in frames if wants(headers[p].get("ESO DPR TYPE", "").upper(), headers[p].get("ESO DPR TECH", "").upper())]
        if not raw:
            results[command] = {"error": "no frames for it in the simulated night"}
            continue
        available = products_by_catg(products_dir)
        missing = [u for u in upstream if not any(k.startswith(u) for k in available)]
        if missing:
            results[command] = {"error": "no upstream " + ", ".join(missing) + " (an earlier SOXSPIPE recipe failed)"}
            continue
        sof = os.path.join(workdir, "sof", command + ".sof")
        with open(sof, "w") as f:
            for p in raw:
                tag = headers[p].get("ESO DPR TYPE", "RAW").replace(",", "_") + "_" + headers[p].get("ESO SEQ ARM", "VIS")
                f.write(f"{p} {tag}\n")
            for u in upstream:
                for catg, path in sorted(available.items()):
                    if catg.startswith(u):
                        f.write(f"{path} {catg}\n")
        argv = [os.path.join(venv, "bin", "soxspipe"), command, sof, "-o", products_dir, "-s",
                os.path.join(workdir, "soxspipe.yaml"), "-x", *EXTRA_ARGS.get(command, [])]
        wall, peak, status = run_timed(argv, workdir, env, os.path.join(workdir, command + ".log"))
        after = products_by_catg(products_dir)
        # spat_solution's product is a DISP_TAB too: count new files, not new categories.
        made = {catg for catg, path in after.items() if path not in available.values()}
        results[command] = {"wall": wall, "peak": peak, "status": status, "frames": len(raw), "made": sorted(made),
                            "log": os.path.join(workdir, command + ".log")}
        if status != 0 or not made:
            with open(results[command]["log"]) as f:
                results[command]["error"] = f"exit {status}, products {sorted(made)}: " + f.read()[-600:].strip()
            # Failed after writing its product (e.g. in a QC plot): the time is a lower bound of a whole run.
            results[command]["partial"] = bool(made)
    return results


def run_calibd(bin_dir, raw_dir, scratch):
    root = os.path.join(scratch, "calibd-work")
    shutil.rmtree(root, ignore_errors=True)
    os.makedirs(os.path.join(root, "config"))
    for sub in ["instruments", "simulator", "linelists", "static"]:
        shutil.copytree(os.path.join(REPO, "config", sub), os.path.join(root, "config", sub))
    config = os.path.join(root, "config", "calibd.yaml")
    with open(config, "w") as f:
        f.write(f"watch: [{raw_dir}]\nworkspace: ../ws\ninstruments: instruments\nworkers: 1\n"
                "ingest:\n  stableSeconds: 0.2\n  settleSeconds: 2\n  reconcileSeconds: 5\n  giveUpSeconds: 3\n")
    wall, peak, status = run_timed([os.path.join(bin_dir, "calibd"), "--config", config, "--once", "--log-level", "error"],
                                   root, dict(os.environ), os.path.join(root, "calibd.log"))
    calibctl = os.path.join(bin_dir, "calibctl")
    jobs = json.loads(subprocess.check_output([calibctl, "--config", config, "jobs", "--json"], cwd=root))
    if isinstance(jobs, dict):
        jobs = next((v for v in jobs.values() if isinstance(v, list)), [])
    per_recipe = {}
    for job in jobs:
        detail = json.loads(subprocess.check_output([calibctl, "--config", config, "job", "show", "--json", str(job["id"])], cwd=root))
        attempts = detail.get("attempts") or []
        if not attempts:
            continue
        last = attempts[-1]
        recipe = detail["job"].get("recipe")
        per_recipe.setdefault(recipe, []).append({"wall": last["wallSeconds"], "peak": last.get("peakRSSBytes") or 0,
                                                   "state": detail["job"].get("state"),
                                                   "qc": all(p.get("qcPassed", False) for p in detail.get("products", []))})
    return {"wall": wall, "peak": peak, "status": status, "recipes": per_recipe, "log": os.path.join(root, "calibd.log")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scratch", default="/tmp/soxspipe-bench")
    parser.add_argument("--binning", default="2x2", help="1x1, 1x2 or 2x2 (X-shooter VIS modes)")
    parser.add_argument("--build", default="release", help="release or debug (.build/<build>/calibd, calibctl)")
    parser.add_argument("--seed", default="3")
    parser.add_argument("--reuse-night", action="store_true", help="keep a night already simulated in --scratch")
    parser.add_argument("--skip-soxspipe", action="store_true")
    parser.add_argument("--skip-calibd", action="store_true")
    parser.add_argument("--reuse-soxspipe", action="store_true",
                        help="take SOXSPIPE's figures from the last run's soxspipe-results-<binning>.json (it takes minutes)")
    args = parser.parse_args()
    os.makedirs(args.scratch, exist_ok=True)
    bin_dir = os.path.join(REPO, ".build", args.build)
    for tool in ("calibd", "calibctl"):
        if not os.access(os.path.join(bin_dir, tool), os.X_OK):
            sys.exit(f"{bin_dir}/{tool} is missing: swift build -c {args.build}")
    load_before = os.getloadavg()

    sim = os.path.join(args.scratch, f"night-{args.binning}")
    if not (args.reuse_night and glob.glob(os.path.join(sim, "raw", "*", "*.fits"))):
        shutil.rmtree(sim, ignore_errors=True)
        subprocess.check_call([os.path.join(bin_dir, "calibctl"), "simulate", "--config", os.path.join(REPO, "config", "calibd.yaml"),
                               "--instrument", "XSHOOTER", "--arms", "VIS", "--binning", args.binning, "--seed", args.seed,
                               "--out", sim])
    raw_dir = glob.glob(os.path.join(sim, "raw", "*"))[0]
    frames = sorted(glob.glob(os.path.join(raw_dir, "*.fits")))
    print(f"{len(frames)} simulated X-shooter VIS {args.binning} frames in {raw_dir}", flush=True)

    saved = os.path.join(args.scratch, f"soxspipe-results-{args.binning}.json")
    if args.reuse_soxspipe:
        with open(saved) as f:
            sox = json.load(f)
        print(f"SOXSPIPE figures reused from {saved} (measured at load {sox.get('_load', '?')})", flush=True)
    elif args.skip_soxspipe:
        sox = {}
    else:
        sox = run_soxspipe(ensure_venv(args.scratch), frames, args.scratch)
        sox["_load"] = "%.1f/%.1f/%.1f before, %.1f/%.1f/%.1f after" % (load_before + os.getloadavg())
        with open(saved, "w") as f:
            json.dump(sox, f, indent=1)
    cal = {"recipes": {}} if args.skip_calibd else run_calibd(bin_dir, raw_dir, args.scratch)
    load_after = os.getloadavg()

    print(f"\nX-shooter VIS {args.binning}, {len(frames)} frames; calibd {args.build} build, 1 worker; "
          f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
          f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f}; {os.cpu_count()} cores")
    if cal.get("wall") is not None:
        print(f"calibd --once whole night: {cal['wall']:.1f} s, exit {cal['status']}, largest process {cal['peak'] / 1e6:.0f} MB")
    print("| recipe | SOXSPIPE s / MB | calibd s / MB | time ratio | memory ratio |")
    print("|---|---|---|---|---|")
    met = True
    for command, recipe, _, _ in RECIPES:
        s = sox.get(command, {})
        jobs = cal["recipes"].get(recipe, [])
        c = {"wall": sum(j["wall"] for j in jobs), "peak": max((j["peak"] for j in jobs), default=0)} if jobs else None
        s_text = f"{s['wall']:.1f} s / {s['peak'] / 1e6:.0f} MB" if "wall" in s else "—"
        if s.get("error"):
            if "wall" in s:
                s_text += (" (failed after writing " + ", ".join(s["made"]) + ": " if s.get("partial") else " (failed: ") \
                    + s["error"].splitlines()[-1][:120] + ")"
            else:
                s_text += " (" + s["error"][:120] + ")"
        c_text = (f"{c['wall']:.2f} s / {c['peak'] / 1e6:.0f} MB" + ("" if all(j["qc"] for j in jobs) else " (QC failed)")) if c else "—"
        if "wall" in s and c and (not s.get("error") or s.get("partial")):
            ratio_t, ratio_m = s["wall"] / c["wall"], s["peak"] / max(c["peak"], 1)
            met = met and ratio_t >= 20 and ratio_m > 1
            bound = "≥ " if s.get("error") else ""
            print(f"| {command} / {recipe} | {s_text} | {c_text} | {bound}{ratio_t:.1f}x | {bound}{ratio_m:.1f}x |")
        else:
            met = False
            print(f"| {command} / {recipe} | {s_text} | {c_text} | — | — |")
    for recipe, jobs in sorted(cal["recipes"].items()):
        if recipe not in {r[1] for r in RECIPES}:
            print(f"| (calibd only) {recipe} | — | {sum(j['wall'] for j in jobs):.2f} s / "
                  f"{max(j['peak'] for j in jobs) / 1e6:.0f} MB | — | — |")
    partial = [c for c, _, _, _ in RECIPES if sox.get(c, {}).get("partial")]
    verdict = "met" if met else "NOT met"
    if met and partial:
        verdict += " (" + ", ".join(partial) + ": SOXSPIPE failed after writing its product, so only as a lower bound)"
    print("target (every recipe >= 20x faster, peak RSS below SOXSPIPE's):", verdict)
    for command, s in sox.items():
        if isinstance(s, dict) and s.get("error"):
            print(f"\nSOXSPIPE {command}: {s['error']}", file=sys.stderr)


if __name__ == "__main__":
    main()
