#!/usr/bin/env python3
"""Side-by-side timing of zenbuild against GNU make, ninja, Snakemake and DVC.

Every tool builds the same synthetic pipeline, generated for it into a fresh git repository;
each step does trivial real work (`cat a b > out`), so that what is timed is the tool's own
overhead. Per workload and tool, each case as a user meets it (README.md): a cold build on a
disk that just deleted the last one, an incremental build (one input's bytes changed), the
no-op right after it and the one after that, and a touch-only build (one input's mtime moved,
same bytes). Runs are
interleaved tool by tool, so that drift on a shared machine falls on all of them; every
figure is a median, and the outputs of all tools are checked to be identical.

    python3 benches/compare/compare.py [--quick] [--tools zenbuild,make,ninja,snakemake,dvc]
                                       [--runs N] [--json FILE]

See benches/compare/README.md. Standard library only; the peers that pip provides (ninja,
Snakemake, DVC) are installed, pinned, into a private virtualenv under the temp directory.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PINNED = {"ninja": "ninja==1.13.0", "snakemake": "snakemake==9.27.0", "dvc": "dvc==3.67.0"}
# The reference for hashing throughput: BLAKE3's own multithreaded mmap hashing, one process.
BLAKE3 = "blake3==1.0.8"
RACY_WAIT = 2.1  # zenbuild trusts no signature younger than 2 s: the touch case waits it out


# --- workloads ------------------------------------------------------------------------------


class Workload:
    """Steps (name, inputs, output) over sources; `change` is the source the incremental and
    touch cases edit. Sources are text, or a callable that writes the file (big ones), made
    once and hard-linked into every tool's workspace."""

    def __init__(self, sources, steps, change, incremental=True):
        self.sources, self.steps, self.change = sources, steps, change
        self.incremental = incremental


def wide(n):
    """n independent steps, each reading its own source file."""
    sources = {f"src/{i}.txt": f"source {i}\n" for i in range(n)}
    steps = [(f"s{i}", [f"src/{i}.txt"], f"out/{i}.txt") for i in range(n)]
    return Workload(sources, steps, "src/0.txt")


def dag(depth, width):
    """depth layers of width steps; each step reads two outputs of the layer before."""
    sources = {f"src/{i}.txt": f"source {i}\n" for i in range(width)}
    steps = []
    for layer in range(depth):
        for i in range(width):
            if layer == 0:
                inputs = [f"src/{i}.txt"]
            else:
                inputs = [f"out/{layer - 1}_{i}.txt", f"out/{layer - 1}_{(i + 1) % width}.txt"]
            steps.append((f"s{layer}_{i}", inputs, f"out/{layer}_{i}.txt"))
    return Workload(sources, steps, "src/0.txt")


# One step over a directory: tools that take a directory as an input (zenbuild, DVC) are
# given the directory; the others every file in it, which is how they would have to be told.
# The step lists the files without reading them (a tenth of a second for 100,000), so that
# the time is the tool's: finding out that one of them changed.
# Steps with a command of their own, by their inputs; every other step is `cat` of its inputs.
# `{output}` is filled in per tool (Snakemake's own placeholder has the same spelling).
OWN_COMMANDS = {
    ("data",): "find data -type f | LC_ALL=C sort | tail -n 3 > {output}",
    ("big.bin",): "wc -c < big.bin > {output}",
}


def bigdir(files):
    """One step reading a directory of `files` small files, 1,000 to a subdirectory."""
    sources = {f"data/{i // 1000}/{i}.txt": f"record {i}\n" for i in range(files)}
    return Workload(sources, [("listing", ["data"], "out/last.txt")], "data/0/0.txt")


BIGFILE_BYTES = 2 << 30


def write_big(path):
    # Not zeros (a file system could store those sparsely) nor os.urandom (slow): a random
    # 64 MiB block, varied per copy so that no two blocks are alike.
    block = bytearray(os.urandom(64 << 20))
    with open(path, "wb") as f:
        for n in range(BIGFILE_BYTES // len(block)):
            block[:8] = n.to_bytes(8, "little")
            f.write(block)


def bigfile():
    """One step over a 2 GiB file; `wc -c <` costs nothing, so a tool's first build is its
    hashing. The incremental case is left out: it would rewrite 2 GiB per tool and run."""
    return Workload({"big.bin": write_big}, [("count", ["big.bin"], "out/count.txt")],
                    "big.bin", incremental=False)


WORKLOADS = {
    "wide-100": lambda: wide(100),
    "wide-1000": lambda: wide(1000),
    "wide-10000": lambda: wide(10000),
    "wide-100000": lambda: wide(100_000),
    "dag-10x50": lambda: dag(10, 50),
    "bigdir-10000": lambda: bigdir(10_000),
    "bigdir-100000": lambda: bigdir(100_000),
    "bigfile": bigfile,
}
QUICK = ["wide-100", "wide-1000", "dag-10x50", "bigdir-10000"]


def takes_part(tool, workload, steps, quick):
    """How `tool` takes part in `workload`: "cold" (every case), "seeded" (its outputs are
    copied from another tool's cold build, then every case but cold is timed) or None.

    Snakemake needs minutes and DVC many more for a cold build of a thousand steps (DVC ran
    234 of 1,000 in 300 s here), so they take only the workloads they finish in minutes;
    Snakemake's no-op on wide-10000 (16 s) is still measured, on seeded outputs."""
    if quick and tool in ("dvc", "snakemake"):
        return "cold" if workload == "wide-100" else None
    if tool == "dvc":
        return "cold" if steps <= 100 and workload != "bigdir-100000" else None
    if tool == "snakemake":
        if workload in ("bigdir-100000", "wide-100000"):
            return None
        return "cold" if steps <= 1000 else "seeded"
    # make takes seconds per no-op over 10,000 prerequisites, and grows faster than they do.
    if tool == "make" and workload in ("bigdir-100000", "wide-100000"):
        return None
    return "cold"


# --- scale: how big a graph zenbuild can plan ---------------------------------------------
# zenbuild alone: no peer has a `check` or a `plan`, and a build of a million actions is not
# the point. The steps read a thousand shared sources, so that a workspace of a million
# actions costs a thousand files; `plan` hashes them and computes every key.

def scale_plain(n):
    """n plain steps, step i reading src/(i mod 1000).txt."""
    lines = ['project "scale"', 'pipeline "all" default=#true {']
    for i in range(n):
        lines += [
            f'    step "s{i}" {{',
            f'        cmd "cat src/{i % 1000}.txt > out/{i}.txt"',
            f'        inputs "src/{i % 1000}.txt"',
            f'        outputs "out/{i}.txt"',
            "    }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


def scale_matrix(steps, combinations):
    """`steps` steps, each a matrix of `combinations` values."""
    values = " ".join(str(v) for v in range(combinations))
    lines = ['project "scale"', 'pipeline "all" default=#true {']
    for i in range(steps):
        lines += [
            f'    step "m{i}" {{',
            f"        matrix {{\n            v {values}\n        }}",
            f'        cmd "cat src/{i % 1000}.txt > out/{i}-{{{{v}}}}.txt"',
            f'        inputs "src/{i % 1000}.txt"',
            f'        outputs "out/{i}-{{{{v}}}}.txt"',
            "    }",
        ]
    lines.append("}")
    return "\n".join(lines) + "\n"


SCALE = {
    "plain-100000": lambda: scale_plain(100_000),
    "plain-1000000": lambda: scale_plain(1_000_000),
    "matrix-1000x1000": lambda: scale_matrix(1000, 1000),
}


def measure_scale(base, name, zenbuild, runs):
    """Median seconds and peak resident bytes of `check` and of `plan` over one generated
    manifest, each command in a fresh process as a user runs it."""
    root = Path(tempfile.mkdtemp(prefix=f"compare-scale-{name}-", dir=base))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    (root / "src").mkdir()
    for i in range(1000):
        (root / "src" / f"{i}.txt").write_text(f"source {i}\n")
    (root / "zenbuild.kdl").write_text(SCALE[name]())
    results = {}
    for command in ["check", "plan"]:
        seconds, peaks = [], []
        for _ in range(runs):
            with tempfile.NamedTemporaryFile("r") as report:
                started = time.perf_counter()
                done = subprocess.run(
                    [GNU_TIME, "-f", "%M", "-o", report.name, str(zenbuild), command],
                    cwd=root, capture_output=True, text=True, env={**os.environ, "CI": "1"},
                )
                seconds.append(time.perf_counter() - started)
                if done.returncode != 0:
                    sys.exit(f"zenbuild {command} failed on {name}:\n{done.stderr[-2000:]}")
                peaks.append(int(report.read().split()[-1]) * 1024)
        results[command] = statistics.median(seconds)
        results[f"{command}_peak_bytes"] = max(peaks)
    shutil.rmtree(root)
    return results


def scale_table(results):
    lines = ["| manifest | actions | check | check peak memory | plan | plan peak memory |",
             "|---|---|---|---|---|---|"]
    actions = {"plain-100000": 100_000, "plain-1000000": 1_000_000,
               "matrix-1000x1000": 1_000_000}
    for name, r in results.items():
        lines.append(
            f"| {name} | {actions[name]:,} | {r['check']:.2f} s | "
            f"{r['check_peak_bytes'] / 1e6:.0f} MB | {r['plan']:.2f} s | "
            f"{r['plan_peak_bytes'] / 1e6:.0f} MB |"
        )
    return "\n".join(lines)


# --- one generator per tool ----------------------------------------------------------------


def command(inputs, output):
    own = OWN_COMMANDS.get(tuple(inputs))
    return own.format(output=output) if own else f"cat {' '.join(inputs)} > {output}"


def expanded(inputs, sources):
    """The inputs as a tool without directory inputs must list them."""
    if inputs == ["data"]:
        return sorted(p for p in sources if p.startswith("data/"))
    return inputs


def gen_zenbuild(steps, sources):
    lines = ['project "compare"', 'pipeline "all" default=#true {']
    for name, inputs, output in steps:
        ins = " ".join(f'"{p}/"' if p == "data" else f'"{p}"' for p in inputs)
        lines += [
            f'    step "{name}" {{',
            f'        cmd "{command(inputs, output)}"',
            f"        inputs {ins}",
            f'        outputs "{output}"',
            "    }",
        ]
    lines.append("}")
    return {"zenbuild.kdl": "\n".join(lines) + "\n"}


def gen_make(steps, sources):
    outputs = " ".join(o for _, _, o in steps)
    lines = [f"all: {outputs}", ""]
    for _, inputs, output in steps:
        deps = " ".join(expanded(inputs, sources))
        lines += [f"{output}: {deps}", f"\t@mkdir -p out && {command(inputs, output)}", ""]
    return {"Makefile": "\n".join(lines)}


def gen_ninja(steps, sources):
    lines = ["rule cat", "  command = mkdir -p out && cat $in > $out", ""]
    for n, (_, inputs, output) in enumerate(steps):
        rule = "cat"
        own = OWN_COMMANDS.get(tuple(inputs))
        if own:
            rule = f"r{n}"
            lines += [f"rule {rule}", f"  command = mkdir -p out && {own.format(output='$out')}", ""]
        lines.append(f"build {output}: {rule} {' '.join(expanded(inputs, sources))}")
    return {"build.ninja": "\n".join(lines) + "\n"}


def gen_snakemake(steps, sources):
    outputs = ", ".join(f'"{o}"' for _, _, o in steps)
    lines = [f"rule all:\n    input: [{outputs}]\n"]
    for name, inputs, output in steps:
        ins = ", ".join(f'"{p}"' for p in expanded(inputs, sources))
        shell = OWN_COMMANDS.get(tuple(inputs), "cat {input} > {output}")
        lines.append(
            f"rule {name}:\n    input: [{ins}]\n    output: \"{output}\"\n"
            f"    shell: \"{shell}\"\n"
        )
    return {"Snakefile": "\n".join(lines)}


def gen_dvc(steps, sources):
    lines = ["stages:"]
    for name, inputs, output in steps:
        lines += [f"  {name}:", f"    cmd: {command(inputs, output)}", "    deps:"]
        lines += [f"      - {p}" for p in inputs]
        lines += ["    outs:", f"      - {output}"]
    return {"dvc.yaml": "\n".join(lines) + "\n"}


# --- how each tool runs, and whether a run did nothing -------------------------------------


class Tool:
    def __init__(self, name, generate, argv, setup=None, env=None):
        self.name, self.generate, self.argv, self.setup = name, generate, argv, setup
        self.env = env or {}

    def run(self, cwd, argv_prefix=()):
        started = time.perf_counter()
        done = subprocess.run(
            [*argv_prefix, *self.argv], cwd=cwd, capture_output=True, text=True,
            env={**os.environ, **self.env},
        )
        took = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{self.name} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
        return took

    def peak_memory(self, cwd):
        """Peak resident memory of one run, in bytes, as GNU time reports it; None without
        it. Not this script's own wait4: a child forked from Python starts with Python's
        memory, which the kernel counts as the child's peak."""
        if not Path(GNU_TIME).exists():
            return None
        with tempfile.NamedTemporaryFile("r") as report:
            self.run(cwd, (GNU_TIME, "-f", "%M", "-o", report.name))
            return int(report.read().split()[-1]) * 1024


GNU_TIME = "/usr/bin/time"


def tools(wanted, zenbuild, venv):
    bin_dir = venv / "bin" if venv else None
    table = {
        "zenbuild": Tool("zenbuild", gen_zenbuild, [str(zenbuild)], env={"CI": "1"}),
        "make": Tool("make", gen_make, ["make", "-j2", "-s"]),
        "ninja": Tool("ninja", gen_ninja, [str(bin_dir / "ninja") if bin_dir else "ninja", "-j2"]),
        "snakemake": Tool(
            "snakemake",
            gen_snakemake,
            [str(bin_dir / "snakemake") if bin_dir else "snakemake", "-c2", "--quiet", "all"],
        ),
        "dvc": Tool(
            "dvc",
            gen_dvc,
            [str(bin_dir / "dvc") if bin_dir else "dvc", "repro", "--quiet"],
            setup=[str(bin_dir / "dvc") if bin_dir else "dvc", "init", "-q"],
        ),
    }
    return [table[name] for name in wanted]


def install_peers(wanted, workloads):
    """A private virtualenv with the pinned peers pip provides; None when none is wanted."""
    needed = [PINNED[t] for t in wanted if t in PINNED]
    if "bigfile" in workloads:
        needed.append(BLAKE3)
    if not needed:
        return None
    venv = Path(tempfile.gettempdir()) / "zenbuild-compare-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *needed], check=True)
    return venv


BLAKE3_TIMING = """
import statistics, sys, time, blake3
times = []
for _ in range(int(sys.argv[2])):
    started = time.perf_counter()
    blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(sys.argv[1])
    times.append(time.perf_counter() - started)
print(statistics.median(times))
"""


def blake3_seconds(venv, path, runs):
    """Median seconds for BLAKE3 (all cores, mmap) over `path`, in one process."""
    done = subprocess.run([str(venv / "bin" / "python"), "-c", BLAKE3_TIMING, str(path), str(runs)],
                          capture_output=True, text=True, check=True)
    return float(done.stdout)


# --- one workload, every tool --------------------------------------------------------------


def masters(base, workload):
    """Every source written once, under `base`, for the workspaces to hard-link: a hundred
    thousand files made five times over would cost more than the benchmark."""
    root = Path(tempfile.mkdtemp(prefix="compare-sources-", dir=base))
    for path, text in workload.sources.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        if callable(text):
            text(root / path)
        else:
            (root / path).write_text(text)
    return root


def workspace(base, tool, workload, sources_root):
    root = Path(tempfile.mkdtemp(prefix=f"compare-{tool.name}-", dir=base))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for path in workload.sources:
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        os.link(sources_root / path, root / path)
    (root / "out").mkdir()
    for path, text in tool.generate(workload.steps, workload.sources).items():
        (root / path).write_text(text)
    if tool.setup:
        subprocess.run(tool.setup, cwd=root, check=True, capture_output=True)
    return root


def outputs_digest(root, steps):
    digest = hashlib.sha256()
    for _, _, output in steps:
        digest.update((root / output).read_bytes())
    return digest.hexdigest()


def edit(path, text):
    """Replaces the file the way an editor saves it, so that the other tools' hard links keep
    the old bytes."""
    temp = path.with_name(path.name + ".new")
    temp.write_text(text)
    os.replace(temp, path)


def measure(base, workload_name, tools_, runs, quick):
    workload = WORKLOADS[workload_name]()
    steps = len(workload.steps)
    parts = {t.name: takes_part(t.name, workload_name, steps, quick) for t in tools_}
    tools_ = [t for t in tools_ if parts[t.name]]
    sources_root = masters(base, workload)
    # The workspace the later cases use, built once before the timed cold builds (untimed).
    roots = {t.name: workspace(base, t, workload, sources_root) for t in tools_}
    built = next(name for name, part in parts.items() if part == "cold")
    os.sync()
    for t in tools_:
        if parts[t.name] == "cold":
            t.run(roots[t.name])
    for t in tools_:
        if parts[t.name] == "seeded":
            for _, _, output in workload.steps:
                shutil.copyfile(roots[built] / output, roots[t.name] / output)
    cases = ["cold", "incremental", "noop", "noop_again", "touch"]
    times = {t.name: {case: [] for case in cases} for t in tools_}
    memory = {t.name: [] for t in tools_}
    reference = []
    digests = {t.name: outputs_digest(roots[t.name], workload.steps) for t in tools_}
    # A cold build as a used machine sees it: each in a fresh workspace, the previous run's
    # workspace deleted just before, so that the file system allocates after freeing (ext4
    # skips inodes freed in the last minutes: creating a file costs more than on a fresh disk).
    previous = {}
    for run in range(runs):
        for t in tools_:
            if parts[t.name] != "cold":
                continue
            if t.name in previous:
                shutil.rmtree(previous.pop(t.name))
            root = workspace(base, t, workload, sources_root)
            os.sync()
            times[t.name]["cold"].append(t.run(root))
            digests[f"{t.name} cold {run}"] = outputs_digest(root, workload.steps)
            previous[t.name] = root
        # Timed between the tools' cold builds, so that both see the same page cache.
        if workload_name == "bigfile" and BLAKE3_VENV:
            reference.append(blake3_seconds(BLAKE3_VENV, sources_root / "big.bin", 1))
    for root in previous.values():
        shutil.rmtree(root)
    if len(set(digests.values())) != 1:
        sys.exit(f"the tools' outputs differ on {workload_name}: {digests}")
    for run in range(runs):
        for t in tools_:
            # One tool at a time, each case straight after the one before, as a user types:
            # save, build, and build again at once (a script, CI, watch mode, an impatient
            # user). Nothing waits for a tool's bookkeeping to settle.
            if workload.incremental:
                edit(roots[t.name] / workload.change, f"changed {run}\n")
                times[t.name]["incremental"].append(t.run(roots[t.name]))
            times[t.name]["noop"].append(t.run(roots[t.name]))
            times[t.name]["noop_again"].append(t.run(roots[t.name]))
        for t in tools_:
            memory[t.name].append(t.peak_memory(roots[t.name]))
        # The touch case asks whether a moved mtime alone starts anything, so it waits until
        # the last change is older than zenbuild's racy window, as an edit made a while ago is.
        time.sleep(RACY_WAIT)
        for t in tools_:
            t.run(roots[t.name])
            # Now, not later: a time in the future would keep zenbuild from trusting the
            # file's signature again for as long.
            now = time.time()
            os.utime(roots[t.name] / workload.change, (now, now))
            times[t.name]["touch"].append(t.run(roots[t.name]))
    results = {
        name: {case: statistics.median(v) for case, v in by_case.items() if v}
        for name, by_case in times.items()
    }
    for name in results:
        peaks = [peak for peak in memory[name] if peak is not None]
        if peaks:
            results[name]["noop_peak_bytes"] = max(peaks)
    if reference:
        results["blake3"] = {"cold": statistics.median(reference)}
    return results


BLAKE3_VENV = None


CASE_LABELS = {
    "noop": "no-op right after",
    "noop_again": "the no-op after that",
    "noop_peak_bytes": "no-op peak memory",
}


def table(results, tools_):
    names = [t.name for t in tools_]
    lines = [
        "| workload | case | " + " | ".join(names) + " | "
        + " | ".join(f"zenbuild/{n}" for n in names if n != "zenbuild") + " |",
        "|---|---|" + "---|" * (2 * len(names) - 1),
    ]

    def cell(by_tool, name, case):
        value = by_tool.get(name, {}).get(case)
        if value is None:
            return "—"
        if case == "noop_peak_bytes":
            return f"{value / 1e6:.0f} MB"
        return f"{value * 1000:.1f} ms" if value < 10 else f"{value:.1f} s"

    for workload, by_tool in results.items():
        for case in ["cold", "incremental", "noop", "noop_again", "touch", "noop_peak_bytes"]:
            if not any(case in by_tool.get(n, {}) for n in names):
                continue
            cells = [cell(by_tool, n, case) for n in names]
            ratios = [
                f"{by_tool['zenbuild'][case] / by_tool[n][case]:.3g}×"
                if case in by_tool.get(n, {}) and case in by_tool.get("zenbuild", {})
                else "—"
                for n in names
                if n != "zenbuild"
            ]
            label = CASE_LABELS.get(case, case)
            lines.append(f"| {workload} | {label} | " + " | ".join(cells + ratios) + " |")
        if "blake3" in by_tool and "zenbuild" in by_tool:
            size = BIGFILE_BYTES / 1e9
            b3 = by_tool["blake3"]["cold"]
            zb, again = by_tool["zenbuild"]["cold"], by_tool["zenbuild"]["touch"]
            lines.append(
                f"| {workload} | hashing | BLAKE3 alone (all cores, mmap, one process) "
                f"{size / b3:.2f} GB/s; zenbuild's cold build {size / zb:.2f} GB/s ({b3 / zb:.0%}), "
                f"its touch case, which hashes the file again, {size / again:.2f} GB/s "
                f"({b3 / again:.0%}) |"
                + " |" * (2 * len(names) - 2)
            )
    return "\n".join(lines)


def machine(base):
    fs = subprocess.run(["df", "-T", str(base)], capture_output=True, text=True).stdout.split()
    return {
        "cpus": os.cpu_count(),
        "kernel": os.uname().release,
        "file_system": fs[-6] if len(fs) >= 7 else "?",
        "dir": str(base),
    }


def main():
    global BLAKE3_VENV
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small workloads (minutes)")
    parser.add_argument("--tools", default="zenbuild,make,ninja,snakemake,dvc")
    parser.add_argument("--workloads", default="")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()),
                        help="where the workspaces go (default: the temp directory)")
    parser.add_argument("--scale", default=None,
                        help="scale manifests to check and plan (default: all but with "
                        "--quick or --workloads; 'none' for none): " + ", ".join(SCALE))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = [t for t in args.tools.split(",") if t]
    workloads = [w for w in args.workloads.split(",") if w] or (
        QUICK if args.quick else list(WORKLOADS)
    )
    workloads = [w for w in workloads if w != "none"]
    unknown = [w for w in workloads if w not in WORKLOADS]
    if unknown:
        sys.exit(f"unknown workloads {unknown}; known: {', '.join(WORKLOADS)}")
    if args.scale is None:
        scale = [] if args.quick or args.workloads else list(SCALE)
    else:
        scale = [m for m in args.scale.split(",") if m and m != "none"]
    unknown = [m for m in scale if m not in SCALE]
    if unknown:
        sys.exit(f"unknown scale manifests {unknown}; known: {', '.join(SCALE)}")
    runs = args.runs or 3
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    zenbuild = ROOT / "target" / "release" / "zenbuild"
    venv = install_peers(wanted, workloads)
    BLAKE3_VENV = venv if "bigfile" in workloads else None
    tools_ = tools(wanted, zenbuild, venv)
    versions = {}
    for t in tools_:
        version = subprocess.run(
            [t.argv[0], "--version"], capture_output=True, text=True
        ).stdout.strip().splitlines()
        versions[t.name] = version[0] if version else "?"
        print(f"{t.name}: {versions[t.name]}", file=sys.stderr)
    args.dir.mkdir(parents=True, exist_ok=True)
    base = Path(tempfile.mkdtemp(prefix="zenbuild-compare-", dir=args.dir))
    results, scale_results = {}, {}
    try:
        for workload in workloads:
            print(f"{workload} …", file=sys.stderr)
            results[workload] = measure(base, workload, tools_, runs, args.quick)
        for name in scale:
            print(f"scale {name} …", file=sys.stderr)
            scale_results[name] = measure_scale(base, name, zenbuild, runs)
    finally:
        # Removed at the end, not after each workload: file systems slow down creating files
        # for a while after many were deleted (ext4 skips recently freed inodes), which would
        # fall on whichever tool builds first.
        shutil.rmtree(base, ignore_errors=True)
    if results:
        print(table(results, tools_))
    if scale_results:
        print()
        print(scale_table(scale_results))
    if args.json:
        report = {"machine": machine(args.dir), "versions": versions, "runs": runs,
                  "results": results, "scale": scale_results}
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
