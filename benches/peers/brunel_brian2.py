"""Brunel (2000) network in Brian2 C++ standalone mode (OpenMP off: one thread), the
parameters of NEST's brunel_delta example (models/brunel_delta.toml): 0.1 ms steps, 1000 ms,
all spikes recorded.

Prints mean rate per population [Hz], mean CV of ISIs (neurons with >= 3 spikes), and wall
times: build (Python model definition + code generation + synapse creation inside the
compiled binary), compile (make), simulate (the binary's own simulation-loop time) and the
whole script (from before `import brian2`). The C++ project is written to BUILD_DIR; when it
is reused and unchanged, make has nothing to recompile (compile then ~0 s).
Usage: python benches/peers/brunel_brian2.py [seed] [build_dir]   (--fresh as last arg: delete build_dir first)
"""
import os
import shutil
import sys
import tempfile
import time

t_start = time.perf_counter()
import numpy as np
from brian2 import (NeuronGroup, PoissonInput, SpikeMonitor, Synapses, defaultclock,
                    device, ms, mV, prefs, run, seed, set_device)
import brian2

args = [a for a in sys.argv[1:] if a != "--fresh"]
SEED = int(args[0]) if args else 1
BUILD_DIR = args[1] if len(args) > 1 else os.path.join(tempfile.gettempdir(), "brunel_brian2_standalone")
if "--fresh" in sys.argv:
    shutil.rmtree(BUILD_DIR, ignore_errors=True)

T = 1000 * ms
NE, NI = 10000, 2500
CE, CI = 1000, 250                        # in-degrees
J, G, DELAY = 0.1 * mV, 5.0, 1.5 * ms
tau_m, V_th, V_reset = 20 * ms, 20 * mV, 10 * mV
J_E, J_I = J, -G * J
NU_EXT = 2.0 * V_th / (J * CE * tau_m)    # eta * nu_th = 20 Hz per input, CE inputs: 20 kHz


def stats(senders, times, n):
    """Mean rate [Hz] over n neurons and mean ISI CV over those with >= 3 spikes."""
    rate = len(times) / n / float(T / brian2.second)
    order = np.lexsort((times, senders))
    s, t = senders[order], times[order]
    cvs = []
    for idx in np.split(np.arange(len(s)), np.flatnonzero(np.diff(s)) + 1):
        if len(idx) >= 3:
            isi = np.diff(t[idx])
            cvs.append(isi.std() / isi.mean())
    return rate, float(np.mean(cvs)) if cvs else float("nan")


set_device("cpp_standalone", build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0   # no OpenMP: one thread
defaultclock.dt = 0.1 * ms
seed(SEED)

t0 = time.perf_counter()
# NEST's iaf_psc_delta: V held at V_reset for t_ref, input arriving then is discarded.
P = NeuronGroup(NE + NI, "dv/dt = -v / tau_m : volt (unless refractory)",
                threshold="v >= V_th", reset="v = V_reset", refractory=2 * ms, method="exact")
P.v = 0 * mV
ext = PoissonInput(P, "v", N=CE, rate=NU_EXT, weight="J_E * int(not_refractory)")
# fixed in-degree, presynaptic partners drawn with replacement: autapses and multapses allowed
Se = Synapses(P[:NE], P, on_pre="v_post += J_E * int(not_refractory_post)", delay=DELAY)
Se.connect(i="int(rand() * N_pre) for k in range(CE)")
Si = Synapses(P[NE:], P, on_pre="v_post += J_I * int(not_refractory_post)", delay=DELAY)
Si.connect(i="int(rand() * N_pre) for k in range(CI)")
mon = SpikeMonitor(P)
run(T)
t1 = time.perf_counter()
device.build(directory=BUILD_DIR, compile=True, run=True, with_output=False)
t2 = time.perf_counter()

compile_s = device.timers["compile"]["make"]
binary_s = device.timers["run_binary"]
sim_s = device._last_run_time             # the binary's own simulation-loop time
build_s = (t2 - t0) - compile_s - sim_s   # definition + codegen + in-binary setup and output

i, t = np.asarray(mon.i[:]), np.asarray(mon.t / ms)
for name, sel, n in (("E", i < NE, NE), ("I", i >= NE, NI)):
    rate, cv = stats(i[sel], t[sel], n)
    print(f"{name}: rate {rate:.2f} Hz, CV {cv:.3f}")
print(f"Brian2 {brian2.__version__}, C++ standalone, openmp_threads 0, "
      f"synapses {len(Se) + len(Si)}, seed {SEED}, build dir {BUILD_DIR}")
print(f"build {build_s:.2f} s, compile {compile_s:.2f} s, simulate {sim_s:.2f} s "
      f"(binary process {binary_s:.2f} s), total {time.perf_counter() - t_start:.2f} s")
