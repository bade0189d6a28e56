"""A spikeq model file (the subset read by spikeq_model.py) in Brian2 C++ standalone mode,
one thread (OpenMP off), 0.1 ms steps: V_inf = v_rest + bias per neuron, V clamped and input
discarded while refractory (as iaf_psc_delta and spikeq's lif_delta), constant weight and
delay per projection (delays are rounded to the step; below one step they are zero, and a
spike then acts on its targets' next threshold test, one step later), Poisson drives as
PoissonInput (switched off at `stop` by a second run). fixed_indegree draws presynaptic
partners with replacement and does not exclude autapses (probability 1/N).

Prints rate per population, mean rate, synaptic events, and wall times: build (definition,
code generation, synapse creation and output inside the binary), compile (make), simulate
(the binary's own simulation loop) and the whole script. The C++ project goes to
$TMPDIR/spikeq_brian2_<model name> and is reused (recompiles nothing if unchanged).
Usage: python benches/peers/spikeq_model_brian2.py MODEL.toml [seed] [duration_ms]
           [--bias=POP=LO,HI ...]
"""
import os
import sys
import tempfile
import time

t_start = time.perf_counter()
import numpy as np
from brian2 import (NeuronGroup, PoissonInput, SpikeMonitor, Synapses, defaultclock,
                    device, ms, mV, prefs, Network, seed, set_device, Hz)
import brian2
import spikeq_model

PATH, SEED, T, over = spikeq_model.parse_args(sys.argv[1:])

model = spikeq_model.load(PATH, SEED, over)
T = T if T is not None else model["duration"]
BUILD_DIR = os.path.join(tempfile.gettempdir(), f"spikeq_brian2_{model['name']}")

set_device("cpp_standalone", build_on_run=False)
prefs.devices.cpp_standalone.openmp_threads = 0
defaultclock.dt = 0.1 * ms
seed(SEED)
t0 = time.perf_counter()
groups, mons = {}, {}
for p in model["pops"]:
    g = NeuronGroup(
        p["n"],
        """dv/dt = (v_rest + bias - v) / tau_m : volt (unless refractory)
           bias : volt (constant)""",
        threshold="v >= v_th", reset="v = v_reset", refractory=p["t_ref"] * ms,
        method="exact", namespace=dict(v_rest=p["v_rest"] * mV, tau_m=p["tau_m"] * ms,
                                       v_th=p["v_th"] * mV, v_reset=p["v_reset"] * mV),
        name=f"pop_{p['name']}")
    g.bias = p["bias"] * mV
    g.v = spikeq_model.init_values(p["v_init"], p["n"], model["rng"]) * mV
    groups[p["name"]] = g
    mons[p["name"]] = SpikeMonitor(g)
inputs = []
for d in model["drives"]:
    # one independent Poisson train of `rate` into each neuron
    inp = PoissonInput(groups[d["target"]], "v", N=1, rate=d["rate"] * Hz,
                       weight=f"{d['weight']} * mV * int(not_refractory)")
    inputs.append((inp, d["stop"]))
out_syn = {p["name"]: 0.0 for p in model["pops"]}
synapses = []
for k, pr in enumerate(model["projs"]):
    s = Synapses(groups[pr["src"]], groups[pr["dst"]],
                 on_pre=f"v_post += {pr['weight']} * mV * int(not_refractory_post)",
                 delay=pr["delay"] * ms, name=f"syn_{k}")
    cond = None if pr["autapses"] or pr["src"] != pr["dst"] else "i != j"
    if pr["rule"] == "fixed_indegree":
        s.connect(i=f"int(rand() * N_pre) for _ in range({pr['k']})")
    elif cond:
        s.connect(condition=cond, p=pr["p"])
    else:
        s.connect(p=pr["p"])
    synapses.append((pr, s))
net = Network(list(groups.values()), list(mons.values()), [i for i, _ in inputs],
              [s for _, s in synapses])
stops = sorted({stop for _, stop in inputs if stop is not None and stop < T})
t_run = 0.0
for stop in stops + [T]:
    net.run((stop - t_run) * ms)
    for inp, s in inputs:
        if s is not None and s <= stop:
            inp.active = False
    t_run = stop
t1 = time.perf_counter()
device.build(directory=BUILD_DIR, compile=True, run=True, with_output=False)
t2 = time.perf_counter()
compile_s = device.timers["compile"]["make"]
sim_s = device._last_run_time
build_s = (t2 - t0) - compile_s - sim_s
size = {p["name"]: p["n"] for p in model["pops"]}
for pr, s in synapses:
    out_syn[pr["src"]] += len(s) / size[pr["src"]]
counts = {name: int(m.num_spikes) for name, m in mons.items()}
spikeq_model.report(model, counts, out_syn, T, f"Brian2 {brian2.__version__}",
                    f", dt 0.1 ms, seed {SEED}, {T:.0f} ms")
print(f"build {build_s:.2f} s, compile {compile_s:.2f} s, simulate {sim_s:.2f} s, "
      f"total {time.perf_counter() - t_start:.2f} s")
