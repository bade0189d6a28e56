"""A spikeq model file (the subset read by spikeq_model.py) in NEST 3.x: iaf_psc_delta
(C_m = 1 pF, so I_e = bias / tau_m gives V_inf = v_rest + bias), poisson_generator,
static synapses, 0.1 ms resolution, one thread, all spikes counted. Delays below the
resolution become one step (0.1 ms).

Prints rate per population, mean rate, synaptic events, and wall times: build (create and
connect), simulate (nest.Simulate) and the whole script.
Usage: python benches/peers/spikeq_model_nest.py MODEL.toml [seed] [duration_ms]
           [--bias POP=LO,HI ...]   (override a population's bias: uniform in [LO, HI] mV)
"""
import os
import sys
import time

t_start = time.perf_counter()
import numpy as np

os.environ.setdefault("PYNEST_QUIET", "1")
import nest
import spikeq_model

PATH, SEED, T, over = spikeq_model.parse_args(sys.argv[1:])

DT = 0.1
model = spikeq_model.load(PATH, SEED, over)
T = T if T is not None else model["duration"]

nest.verbosity = nest.VerbosityLevel.ERROR
nest.ResetKernel()
nest.SetKernelStatus({"resolution": DT, "local_num_threads": 1, "rng_seed": SEED})
t0 = time.perf_counter()
nodes, recs = {}, {}
for p in model["pops"]:
    c = nest.Create("iaf_psc_delta", p["n"], params={
        "C_m": 1.0, "tau_m": p["tau_m"], "t_ref": p["t_ref"], "E_L": p["v_rest"],
        "V_reset": p["v_reset"], "V_th": p["v_th"]})
    c.set(I_e=(p["bias"] / p["tau_m"]).tolist(),
          V_m=spikeq_model.init_values(p["v_init"], p["n"], model["rng"]).tolist())
    nodes[p["name"]] = c
    recs[p["name"]] = nest.Create("spike_recorder")
    nest.Connect(c, recs[p["name"]])
for d in model["drives"]:
    params = {"rate": d["rate"]}
    if d["stop"] is not None:
        params["stop"] = d["stop"]
    g = nest.Create("poisson_generator", params=params)
    nest.Connect(g, nodes[d["target"]], syn_spec={"weight": d["weight"], "delay": DT})
out_syn = {p["name"]: 0.0 for p in model["pops"]}
size = {p["name"]: p["n"] for p in model["pops"]}
for pr in model["projs"]:
    syn = {"synapse_model": "static_synapse", "weight": pr["weight"],
           "delay": max(pr["delay"], DT)}
    if pr["rule"] == "fixed_indegree":
        conn = {"rule": "fixed_indegree", "indegree": pr["k"]}
        out_syn[pr["src"]] += pr["k"] * size[pr["dst"]] / size[pr["src"]]
    else:
        conn = {"rule": "pairwise_bernoulli", "p": pr["p"]}
        out_syn[pr["src"]] += pr["p"] * size[pr["dst"]]
    conn.update(allow_autapses=pr["autapses"], allow_multapses=pr["multapses"])
    nest.Connect(nodes[pr["src"]], nodes[pr["dst"]], conn, syn)
t1 = time.perf_counter()
nest.Simulate(T)
t2 = time.perf_counter()
counts = {name: r.get("n_events") for name, r in recs.items()}
spikeq_model.report(model, counts, out_syn, T, f"NEST {nest.__version__}",
                    f", resolution {DT} ms, seed {SEED}, {T:.0f} ms")
print(f"build {t1 - t0:.2f} s, simulate {t2 - t1:.2f} s, total {time.perf_counter() - t_start:.2f} s")
