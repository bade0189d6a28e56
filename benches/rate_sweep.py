"""Rate sweep: the same network (models/rate_sweep_10k.toml) at mean rates from 0 to about
50 Hz, moved by the upper end HI of the neurons' uniform constant drive [0, HI] mV, simulated
by spikeq, NEST and Brian2 (C++ standalone), one thread each, one after the other.

Per run it records the simulator's own simulation-loop wall time (spikeq: `simulate` of its
summary; NEST: nest.Simulate; Brian2: the compiled binary's loop), the whole process's CPU
time (user + sys) and wall time, the mean rate and the synaptic events. Appends one CSV row
per run to OUT (default docs/rate_sweep.csv); plot it with
`cargo run --release --example rate_sweep_plot`.
Usage: python3 benches/rate_sweep.py [--reps 3] [--duration 1000] [--tools spikeq,nest,brian2]
           [--hi 19.9,20.05,...] [--out docs/rate_sweep.csv]
Needs: target/release/spikeq (cargo build --release), the venvs of benches/peers/README.md.
"""
import argparse
import csv
import os
import re
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BASE = os.path.join(ROOT, "models", "rate_sweep_10k.toml")
HI = [19.9, 20.05, 20.1, 20.5, 21, 22, 25, 30, 40, 60, 80]
VENVS = {"nest": os.environ.get("NEST_PYTHON", "/work/venvs/nest/bin/python"),
         "brian2": os.environ.get("BRIAN2_PYTHON", "/work/venvs/brian2/bin/python")}

ap = argparse.ArgumentParser()
ap.add_argument("--reps", type=int, default=3)
ap.add_argument("--duration", type=float, default=1000.0)
ap.add_argument("--tools", default="spikeq,nest,brian2")
ap.add_argument("--hi", default=",".join(str(h) for h in HI))
ap.add_argument("--out", default=os.path.join(ROOT, "docs", "rate_sweep.csv"))
a = ap.parse_args()


def timed(cmd):
    """Runs cmd; returns (stdout, cpu s of the child, wall s)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return out, cpu, wall


def run(tool, hi, tmp):
    T = a.duration
    if tool == "spikeq":
        with open(BASE) as f:
            text = f.read().replace('["0 mV", "21 mV"]', f'["0 mV", "{hi} mV"]')
        path = os.path.join(tmp, f"rate_sweep_{hi}.toml")
        with open(path, "w") as f:
            f.write(text)
        out, cpu, wall = timed([os.path.join(ROOT, "target", "release", "spikeq"), "run", path,
                                "--quiet", "--duration", f"{T} ms"])
        tot = re.search(r"^total\s+(\d+)\s+(\d+)\s+(\d+)", out, re.M)
        n, spikes, events = (int(x) for x in tot.groups())
        sim = float(re.search(r"simulate ([\d.]+) s", out).group(1))
        return spikes / n / (T / 1000), events, sim, cpu, wall
    script = os.path.join(ROOT, "benches", "peers", f"spikeq_model_{tool}.py")
    bias = [f"--bias={p}=0,{hi}" for p in ("E", "I")]
    out, cpu, wall = timed([VENVS[tool], script, BASE, "1", str(T)] + bias)
    m = re.search(r"mean rate ([\d.]+) Hz, spikes \d+, synaptic events ([\d.e+]+)", out)
    sim = float(re.search(r"simulate ([\d.]+) s", out).group(1))
    return float(m.group(1)), float(m.group(2)), sim, cpu, wall


new = not os.path.exists(a.out)
os.makedirs(os.path.dirname(a.out), exist_ok=True)
with open(a.out, "a", newline="") as f, tempfile.TemporaryDirectory() as tmp:
    w = csv.writer(f)
    if new:
        w.writerow(["tool", "hi_mv", "rep", "duration_ms", "mean_rate_hz", "synaptic_events",
                    "sim_wall_s", "process_cpu_s", "process_wall_s"])
    for hi in [float(x) for x in a.hi.split(",")]:
        for tool in a.tools.split(","):
            for rep in range(a.reps):
                rate, ev, sim, cpu, wall = run(tool, hi, tmp)
                w.writerow([tool, hi, rep, a.duration, f"{rate:.5f}", f"{ev:.6g}", f"{sim:.4f}",
                            f"{cpu:.3f}", f"{wall:.3f}"])
                f.flush()
                print(f"{tool:7} HI {hi:6} rep {rep}: {rate:8.3f} Hz  {ev:10.4g} events  "
                      f"sim {sim:7.3f} s  cpu {cpu:7.3f} s  wall {wall:7.3f} s", flush=True)
