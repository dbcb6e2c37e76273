"""Restoring outputs as a user meets it (`rm -rf out`, then `zenbuild`), for two zenbuild
binaries side by side: one directory output of 10,100 files, and 1,000 single-file steps.
Runs alternate which binary goes first, since each restore follows a mass delete, and ext4
makes the file creations right after one slower.

    python3 benches/restore_ab.py OLD_BINARY NEW_BINARY SCRATCH_DIR RUNS
"""
import os, shutil, statistics, subprocess, sys, time
old, new, base, runs = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
def setup(name, manifest, files):
    ws = os.path.join(base, name)
    shutil.rmtree(ws, ignore_errors=True); os.makedirs(ws)
    subprocess.run(["git", "init", "-q"], cwd=ws, check=True)
    open(os.path.join(ws, "zenbuild.kdl"), "w").write(manifest)
    for f, text in files: open(os.path.join(ws, f), "w").write(text)
    return ws
bigdir = setup("bigdir", 'step "d" { cmd "mkdir -p out/d && cd out/d && seq 1 10000 | xargs touch && for i in $(seq 1 100); do echo $i > f$i; done"; outputs "out/d/"; }\n', [])
wide = setup("wide", "".join(f'step "s{i}" {{ cmd "echo {i} > out/{i}.txt"; outputs "out/{i}.txt"; }}\n' for i in range(1000)), [])
for ws in (bigdir, wide):
    subprocess.run([new, "-C", ws], check=True, capture_output=True)
times = {(w, b): [] for w in ("bigdir", "wide") for b in ("old", "new")}
for run in range(runs):
    for w, ws in (("bigdir", bigdir), ("wide", wide)):
        order = (("old", old), ("new", new)) if run % 2 == 0 else (("new", new), ("old", old))
        for b, binary in order:
            shutil.rmtree(os.path.join(ws, "out"))
            t = time.perf_counter()
            r = subprocess.run([binary, "-C", ws], capture_output=True, text=True)
            times[(w, b)].append(time.perf_counter() - t)
            assert r.returncode == 0 and " 0 ran" in r.stderr, r.stderr
for w in ("bigdir", "wide"):
    o, n = statistics.median(times[(w, "old")]), statistics.median(times[(w, "new")])
    print(f"{w}: old {o*1000:.1f} ms, new {n*1000:.1f} ms, new/old {n/o:.2f}x (median of {runs})")
