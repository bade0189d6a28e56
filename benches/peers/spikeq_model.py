"""Reads the subset of spikeq model files (models/*.toml) that the peer scripts can rebuild
in NEST and Brian2: `lif_delta` populations (constant or uniform `bias` and `v_init`),
`poisson` drives (optional start/stop), `fixed_indegree` / `fixed_probability` projections
with one weight and one delay each. Quantities are returned in ms, mV and Hz.

A bias (per neuron, as a potential, V_inf = v_rest + bias) is drawn here with numpy from
SEED, so both peers get the same values (spikeq draws its own: same distribution, other
numbers).
"""
import tomllib

import numpy as np

UNITS = {"ms": 1.0, "s": 1000.0, "us": 1e-3, "ns": 1e-6, "mV": 1.0, "V": 1000.0,
         "uV": 1e-3, "Hz": 1.0, "kHz": 1000.0}


def q(text):
    """'20 ms' -> 20.0 (ms); '-0.1 mV' -> -0.1 (mV); '1 ns' -> 1e-6 (ms); '100 Hz' -> 100."""
    value, unit = str(text).split()
    return float(value) * UNITS[unit]


def dist(spec, n, rng):
    """A constant or {uniform = [a, b]} as n values."""
    if isinstance(spec, dict):
        lo, hi = (q(x) for x in spec["uniform"])
        return rng.uniform(lo, hi, n)
    return np.full(n, q(spec))


def load(path, seed, overrides=None):
    """The model as plain dicts; `overrides` = {population: (bias_lo, bias_hi)} in mV."""
    with open(path, "rb") as f:
        m = tomllib.load(f)
    rng = np.random.default_rng(seed)
    pops = []
    for p in m["population"]:
        assert p["model"] == "lif_delta", f"{p['name']}: only lif_delta is supported"
        n = p["size"]
        bias = p.get("bias", "0 mV")
        if overrides and p["name"] in overrides:
            lo, hi = overrides[p["name"]]
            bias = {"uniform": [f"{lo} mV", f"{hi} mV"]}
        pops.append(dict(
            name=p["name"], n=n, tau_m=q(p["tau_m"]), v_rest=q(p["v_rest"]),
            v_reset=q(p["v_reset"]), v_th=q(p["v_th"]), t_ref=q(p.get("t_ref", "0 ms")),
            v_init=p.get("v_init", p["v_rest"]), bias=dist(bias, n, rng)))
    drives = [dict(target=d["target"], rate=q(d["rate"]), weight=q(d["weight"]),
                   start=q(d.get("start", "0 ms")),
                   stop=q(d["stop"]) if "stop" in d else None)
              for d in m.get("drive", [])]
    for d in drives:
        assert d["start"] == 0.0, "drives must start at 0"
    projs = []
    for pr in m.get("projection", []):
        rule = pr["rule"]
        assert rule in ("fixed_indegree", "fixed_probability"), rule
        projs.append(dict(
            src=pr["from"], dst=pr["to"], rule=rule, k=pr.get("indegree"), p=pr.get("p"),
            weight=q(pr["weight"]), delay=q(pr["delay"]),
            autapses=pr.get("autapses", False), multapses=pr.get("multapses", True)))
    sim = m.get("simulation", {})
    return dict(name=sim.get("name", path), duration=q(sim.get("duration", "1000 ms")),
                pops=pops, drives=drives, projs=projs, rng=rng)


def parse_args(argv):
    """MODEL.toml [seed] [duration_ms] [--bias=POP=LO,HI ...] -> (path, seed, duration or
    None, {population: (lo, hi)})."""
    args = [a for a in argv if not a.startswith("--bias=")]
    over = {}
    for a in argv:
        if a.startswith("--bias="):
            pop, lo_hi = a[len("--bias="):].split("=")
            over[pop] = tuple(float(x) for x in lo_hi.split(","))
    seed = int(args[1]) if len(args) > 1 else 1
    duration = float(args[2]) if len(args) > 2 else None
    return args[0], seed, duration, over


def init_values(v_init, n, rng):
    """v_init (constant or uniform) as n values [mV]."""
    return dist(v_init, n, rng)


def report(model, counts, out_syn, t_ms, simulator, extra=""):
    """Prints rate per population, the mean rate, and the synaptic events delivered."""
    total_n = sum(p["n"] for p in model["pops"])
    for p in model["pops"]:
        print(f"{p['name']}: rate {counts[p['name']] / p['n'] / (t_ms / 1000):.3f} Hz")
    spikes = sum(counts.values())
    events = sum(counts[name] * out_syn[name] for name in counts)
    print(f"{simulator}: {model['name']}, {total_n} neurons, mean rate "
          f"{spikes / total_n / (t_ms / 1000):.4f} Hz, spikes {spikes}, "
          f"synaptic events {events:.4g}{extra}")
