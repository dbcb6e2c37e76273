#!/usr/bin/env python3
"""Side-by-side timing of zenbuild against GNU make, ninja, Snakemake and DVC.

Every tool builds the same synthetic pipeline, generated for it into a fresh git repository;
each step does trivial real work (`cat a b > out`), so that what is timed is the tool's own
overhead. Per workload and tool: a cold build, a no-op, an incremental build (one input's
bytes changed) and a touch-only build (one input's mtime moved, same bytes). Runs are
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
RACY_WAIT = 2.1  # zenbuild trusts no signature younger than 2 s: let the no-ops be no-ops


# --- workloads: a list of steps (name, inputs, output) over source files -------------------


def wide(n):
    """n independent steps, each reading its own source file."""
    sources = {f"src/{i}.txt": f"source {i}\n" for i in range(n)}
    steps = [(f"s{i}", [f"src/{i}.txt"], f"out/{i}.txt") for i in range(n)]
    return sources, steps


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
    return sources, steps


WORKLOADS = {
    "wide-100": lambda: wide(100),
    "wide-1000": lambda: wide(1000),
    "wide-10000": lambda: wide(10000),
    "dag-10x50": lambda: dag(10, 50),
}
QUICK = ["wide-100", "wide-1000", "dag-10x50"]
# In --quick mode the slow peers only take workloads this small: Snakemake needs minutes and
# DVC many more for a cold build of a thousand steps.
QUICK_LIMITS = {"snakemake": 100, "dvc": 100}


# --- one generator per tool ----------------------------------------------------------------


def command(inputs, output):
    return f"cat {' '.join(inputs)} > {output}"


def gen_zenbuild(steps):
    lines = ['project "compare"', 'pipeline "all" default=#true {']
    for name, inputs, output in steps:
        ins = " ".join(f'"{p}"' for p in inputs)
        lines += [
            f'    step "{name}" {{',
            f'        cmd "{command(inputs, output)}"',
            f"        inputs {ins}",
            f'        outputs "{output}"',
            "    }",
        ]
    lines.append("}")
    return {"zenbuild.kdl": "\n".join(lines) + "\n"}


def gen_make(steps):
    outputs = " ".join(o for _, _, o in steps)
    lines = [f"all: {outputs}", ""]
    for _, inputs, output in steps:
        lines += [f"{output}: {' '.join(inputs)}", f"\t@mkdir -p out && {command(inputs, output)}", ""]
    return {"Makefile": "\n".join(lines)}


def gen_ninja(steps):
    lines = ["rule cat", "  command = mkdir -p out && cat $in > $out", ""]
    for _, inputs, output in steps:
        lines.append(f"build {output}: cat {' '.join(inputs)}")
    return {"build.ninja": "\n".join(lines) + "\n"}


def gen_snakemake(steps):
    outputs = ", ".join(f'"{o}"' for _, _, o in steps)
    lines = [f"rule all:\n    input: [{outputs}]\n"]
    for name, inputs, output in steps:
        ins = ", ".join(f'"{p}"' for p in inputs)
        lines.append(
            f"rule {name}:\n    input: [{ins}]\n    output: \"{output}\"\n"
            f"    shell: \"cat {{input}} > {{output}}\"\n"
        )
    return {"Snakefile": "\n".join(lines)}


def gen_dvc(steps):
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

    def run(self, cwd):
        started = time.perf_counter()
        done = subprocess.run(
            self.argv, cwd=cwd, capture_output=True, text=True, env={**os.environ, **self.env}
        )
        took = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(f"{self.name} failed in {cwd}:\n{done.stdout}\n{done.stderr}")
        return took


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


def install_peers(wanted):
    """A private virtualenv with the pinned peers pip provides; None when none is wanted."""
    needed = [PINNED[t] for t in wanted if t in PINNED]
    if not needed:
        return None
    venv = Path(tempfile.gettempdir()) / "zenbuild-compare-venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", *needed], check=True)
    return venv


# --- one workload, every tool --------------------------------------------------------------


def workspace(tool, sources, steps):
    root = Path(tempfile.mkdtemp(prefix=f"compare-{tool.name}-"))
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    for path, text in sources.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    (root / "out").mkdir()
    for path, text in tool.generate(steps).items():
        (root / path).write_text(text)
    if tool.setup:
        subprocess.run(tool.setup, cwd=root, check=True, capture_output=True)
    return root


def outputs_digest(root, steps):
    digest = hashlib.sha256()
    for _, _, output in steps:
        digest.update((root / output).read_bytes())
    return digest.hexdigest()


def measure(workload, tools_, runs, quick):
    sources, steps = WORKLOADS[workload]()
    if quick:
        tools_ = [t for t in tools_ if QUICK_LIMITS.get(t.name, len(steps)) >= len(steps)]
    first_source = next(iter(sources))
    roots = {t.name: workspace(t, sources, steps) for t in tools_}
    times = {t.name: {"cold": [], "noop": [], "incremental": [], "touch": []} for t in tools_}
    # The cold build, once per tool (a cold build is only cold once).
    for t in tools_:
        times[t.name]["cold"].append(t.run(roots[t.name]))
    digests = {t.name: outputs_digest(roots[t.name], steps) for t in tools_}
    if len(set(digests.values())) != 1:
        sys.exit(f"the tools' outputs differ on {workload}: {digests}")
    for run in range(runs):
        # Settle before each no-op: a tool may finish its bookkeeping on the first rebuild
        # after a change (zenbuild records its up-to-date shortcut once files are 2 s old).
        time.sleep(RACY_WAIT)
        for t in tools_:
            t.run(roots[t.name])
        for t in tools_:
            times[t.name]["noop"].append(t.run(roots[t.name]))
        for t in tools_:
            path = roots[t.name] / first_source
            path.write_text(f"changed {run}\n")
            times[t.name]["incremental"].append(t.run(roots[t.name]))
        time.sleep(RACY_WAIT)
        for t in tools_:
            t.run(roots[t.name])
            path = roots[t.name] / first_source
            later = time.time() + 3600
            os.utime(path, (later, later))
            times[t.name]["touch"].append(t.run(roots[t.name]))
    for root in roots.values():
        shutil.rmtree(root, ignore_errors=True)
    return {name: {k: statistics.median(v) for k, v in cases.items()} for name, cases in times.items()}


def table(results, tools_):
    names = [t.name for t in tools_]
    lines = [
        "| workload | case | " + " | ".join(names) + " | "
        + " | ".join(f"zenbuild/{n}" for n in names if n != "zenbuild") + " |",
        "|---|---|" + "---|" * (2 * len(names) - 1),
    ]
    for workload, by_tool in results.items():
        for case in ["cold", "noop", "incremental", "touch"]:
            cells = [
                f"{by_tool[n][case] * 1000:.1f} ms" if n in by_tool else "—" for n in names
            ]
            ratios = [
                f"{by_tool['zenbuild'][case] / by_tool[n][case]:.3g}×"
                if n in by_tool and "zenbuild" in by_tool
                else "—"
                for n in names
                if n != "zenbuild"
            ]
            lines.append(f"| {workload} | {case} | " + " | ".join(cells + ratios) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small workloads, 3 runs (minutes)")
    parser.add_argument("--tools", default="zenbuild,make,ninja,snakemake,dvc")
    parser.add_argument("--workloads", default="")
    parser.add_argument("--runs", type=int, default=0)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    wanted = [t for t in args.tools.split(",") if t]
    workloads = [w for w in args.workloads.split(",") if w] or (
        QUICK if args.quick else list(WORKLOADS)
    )
    runs = args.runs or (3 if args.quick else 5)
    subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
    zenbuild = ROOT / "target" / "release" / "zenbuild"
    venv = install_peers(wanted)
    tools_ = tools(wanted, zenbuild, venv)
    for t in tools_:
        version = subprocess.run(
            [t.argv[0], "--version"], capture_output=True, text=True
        ).stdout.strip().splitlines()
        print(f"{t.name}: {version[0] if version else '?'}", file=sys.stderr)
    results = {}
    for workload in workloads:
        print(f"{workload} …", file=sys.stderr)
        results[workload] = measure(workload, tools_, runs, args.quick)
    print(table(results, tools_))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
