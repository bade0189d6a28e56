"""Brunel (2000) network in NEST 3.x, the parameters of NEST's brunel_delta example
(models/brunel_delta.toml): 0.1 ms resolution, 1000 ms, one thread, all spikes recorded.

Prints mean rate per population [Hz], mean CV of ISIs (neurons with >= 3 spikes), and the
wall time of build, simulate and the whole script (from before `import nest`).
Usage: python benches/peers/brunel_nest.py [seed]
"""
import os
import sys
import time

t_start = time.perf_counter()
import numpy as np

os.environ.setdefault("PYNEST_QUIET", "1")  # no banner
import nest

SEED = int(sys.argv[1]) if len(sys.argv) > 1 else 1
DT, T = 0.1, 1000.0                       # ms
NE, NI = 10000, 2500
CE, CI = 1000, 250                        # in-degrees
J, G, ETA, DELAY = 0.1, 5.0, 2.0, 1.5     # mV, -, -, ms
TAU_M, V_TH = 20.0, 20.0
NU_TH = V_TH / (J * CE * TAU_M)           # 0.01 per ms
P_RATE = 1000.0 * ETA * NU_TH * CE        # 20000 Hz into each neuron


def stats(senders, times, n):
    """Mean rate [Hz] over n neurons and mean ISI CV over those with >= 3 spikes."""
    rate = len(times) / n / (T / 1000.0)
    order = np.lexsort((times, senders))
    s, t = senders[order], times[order]
    cvs = []
    for idx in np.split(np.arange(len(s)), np.flatnonzero(np.diff(s)) + 1):
        if len(idx) >= 3:
            isi = np.diff(t[idx])
            cvs.append(isi.std() / isi.mean())
    return rate, float(np.mean(cvs)) if cvs else float("nan")


nest.verbosity = nest.VerbosityLevel.ERROR
nest.ResetKernel()
nest.SetKernelStatus({"resolution": DT, "local_num_threads": 1, "rng_seed": SEED})

t0 = time.perf_counter()
neuron = {"C_m": 1.0, "tau_m": TAU_M, "t_ref": 2.0, "E_L": 0.0,
          "V_reset": 10.0, "V_m": 0.0, "V_th": V_TH}
exc = nest.Create("iaf_psc_delta", NE, params=neuron)
inh = nest.Create("iaf_psc_delta", NI, params=neuron)
noise = nest.Create("poisson_generator", params={"rate": P_RATE})
rec_e = nest.Create("spike_recorder")
rec_i = nest.Create("spike_recorder")

syn_e = {"synapse_model": "static_synapse", "weight": J, "delay": DELAY}
syn_i = {"synapse_model": "static_synapse", "weight": -G * J, "delay": DELAY}
nodes = exc + inh
nest.Connect(noise, nodes, syn_spec=syn_e)      # all_to_all: an independent train per neuron
nest.Connect(exc, rec_e)
nest.Connect(inh, rec_i)
# fixed_indegree defaults: autapses and multapses allowed
nest.Connect(exc, nodes, {"rule": "fixed_indegree", "indegree": CE}, syn_e)
nest.Connect(inh, nodes, {"rule": "fixed_indegree", "indegree": CI}, syn_i)
t1 = time.perf_counter()

nest.Simulate(T)
t2 = time.perf_counter()

for name, rec, n in (("E", rec_e, NE), ("I", rec_i, NI)):
    ev = rec.get("events")
    rate, cv = stats(np.asarray(ev["senders"]), np.asarray(ev["times"]), n)
    print(f"{name}: rate {rate:.2f} Hz, CV {cv:.3f}")
print(f"NEST {nest.__version__}, threads {nest.GetKernelStatus('local_num_threads')}, "
      f"synapses {nest.GetKernelStatus('num_connections')}, seed {SEED}")
print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, total {time.perf_counter() - t_start:.2f} s")
