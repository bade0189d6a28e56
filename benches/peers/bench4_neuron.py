"""Brette et al. (2007) benchmark 4 (models/brette_bench4.toml) in NEURON, event-driven:
4000 artificial LIF cells (neuron_mod/lifdrive.mod: IntFire1 plus a constant drive), 3200 E /
800 I, p = 0.02 without autapses, jumps +0.25 / -2.25 mV, tau_m 20 ms, refractory 5 ms,
drive to -49 mV, threshold -50 mV, reset -60 mV, delay 1 ms; all cells start at reset and
get Poisson kicks (100 Hz, 10 mV) during the first 50 ms. In the cell's units, reset is 0 and
threshold 1 (10 mV), so the drive is minf = 1.1 and the jumps are +0.025 / -0.225.

Prints the mean rate per population [Hz], the mean CV of the ISIs (cells with >= 3 spikes),
the number of synaptic events (spikes x out-degree) and wall times: build (cells, NetCons),
simulate, and the whole script. The mechanism is compiled once into BUILD_DIR (default
$TMPDIR/spikeq_neuron_mod) with nrnivmodl.
Usage: python benches/peers/bench4_neuron.py [seed] [duration_ms] [build_dir]
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

t_start = time.perf_counter()
import numpy as np
from neuron import h

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1
T = float(sys.argv[2]) if len(sys.argv) > 2 else 1000.0
BUILD_DIR = sys.argv[3] if len(sys.argv) > 3 else os.path.join(tempfile.gettempdir(), "spikeq_neuron_mod")
HERE = os.path.dirname(os.path.abspath(__file__))

lib = os.path.join(BUILD_DIR, "x86_64", ".libs", "libnrnmech.so")
src = os.path.join(HERE, "neuron_mod", "lifdrive.mod")
if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(src):
    os.makedirs(BUILD_DIR, exist_ok=True)
    shutil.copy(src, BUILD_DIR)
    nrnivmodl = os.path.join(os.path.dirname(sys.executable), "nrnivmodl")
    subprocess.run([nrnivmodl, "."], cwd=BUILD_DIR, check=True, capture_output=True)
if not os.path.exists(lib):
    lib = os.path.join(BUILD_DIR, "x86_64", "libnrnmech.so")
h.nrn_load_dll(lib)

NE, NI, P = 3200, 800, 0.02
MV = 10.0                        # mV per cell unit (threshold - reset)
W_E, W_I = 0.25 / MV, -2.25 / MV
DELAY = 1.0
rng = np.random.default_rng(SEED)

t0 = time.perf_counter()
N = NE + NI
cells = []
for _ in range(N):
    c = h.LifDrive()
    c.tau, c.refrac, c.minf = 20.0, 5.0, 1.1
    cells.append(c)
ncs = []
n_out = np.zeros(N, dtype=np.int64)
for i in range(N):                               # source i: Bernoulli(p) targets, no autapse
    targets = np.flatnonzero(rng.random(N) < P)
    targets = targets[targets != i]
    n_out[i] = len(targets)
    w = W_E if i < NE else W_I
    for j in targets:
        nc = h.NetCon(cells[i], cells[j])
        nc.weight[0], nc.delay = w, DELAY
        ncs.append(nc)
tvec, idvec = h.Vector(), h.Vector()
recs = []
for i, c in enumerate(cells):
    nc = h.NetCon(c, None)
    nc.record(tvec, idvec, i)
    recs.append(nc)
kicks = []
for c in cells:                                  # Poisson kicks, 100 Hz for 50 ms, 10 mV
    nc = h.NetCon(None, c)
    nc.weight[0] = 10.0 / MV
    kicks.append(nc)
cvode = h.CVode()
cvode.active(1)                                  # no continuous states: purely event-driven
h.finitialize()
for nc in kicks:
    t = rng.exponential(10.0)
    while t < 50.0:
        nc.event(t)
        t += rng.exponential(10.0)
t1 = time.perf_counter()
cvode.solve(T)
t2 = time.perf_counter()

ids, times = np.asarray(idvec, dtype=np.int64), np.asarray(tvec)
for name, sel, n in (("E", ids < NE, NE), ("I", ids >= NE, NI)):
    s, t = ids[sel], times[sel]
    order = np.lexsort((t, s))
    s, t = s[order], t[order]
    cvs = [np.diff(t[g]).std() / np.diff(t[g]).mean()
           for g in np.split(np.arange(len(s)), np.flatnonzero(np.diff(s)) + 1) if len(g) >= 3]
    print(f"{name}: rate {len(t) / n / (T / 1000):.2f} Hz, CV {np.mean(cvs):.3f}")
events = int(n_out[ids[times < T - DELAY]].sum())
print(f"NEURON {h.nrnversion()}, cvode event-driven, synapses {len(ncs)}, seed {SEED}, "
      f"{T:.0f} ms, synaptic events {events}")
print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, total {time.perf_counter() - t_start:.2f} s")
