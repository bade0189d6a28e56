"""Plots docs/peers.csv (spikeq against NEST, Brian2 and NEURON, whole process, one thread)
as docs/peers.png: per case, the ratio of spikeq's CPU time to the peer's (log scale, lower
is better for spikeq) beside the issue's target for that pair, where it has one.

The CSV holds the medians of paired runs (`farm-bench -n 3 --vs PEER -- SPIKEQ`, see
benches/README.md for the commands); this script only draws them.
Usage: python benches/peers_plot.py [docs/peers.csv] [docs/peers.png]
Needs: matplotlib (the NEST venv of benches/peers/README.md has it).
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "docs", "peers.csv")
out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "peers.png")

with open(src, newline="") as f:
    rows = list(csv.DictReader(f))

labels = [f"{r['case']} vs {r['peer']}" for r in rows]
ratios = [float(r["ratio_cpu"]) for r in rows]
targets = [float(r["target_ratio"]) if r["target_ratio"] else None for r in rows]
met = [t is None or x <= t for x, t in zip(ratios, targets)]

fig, ax = plt.subplots(figsize=(9, 0.45 * len(rows) + 1.4))
y = list(range(len(rows)))[::-1]
colors = ["#2a7ab0" if t is None else ("#3a9a4a" if m else "#c8553d")
          for t, m in zip(targets, met)]
ax.barh(y, ratios, color=colors, height=0.6)
for yi, t in zip(y, targets):
    if t is not None:
        ax.plot([t, t], [yi - 0.4, yi + 0.4], color="black", lw=2)
for yi, x in zip(y, ratios):
    ax.text(x * 1.05, yi, f"{x:.3g}", va="center", fontsize=8)
ax.axvline(1.0, color="grey", lw=0.8, ls="--")
ax.set_xscale("log")
ax.set_yticks(y)
ax.set_yticklabels(labels, fontsize=8)
ax.set_xlabel("spikeq time / peer time: CPU of the whole process, or wall of the simulation\n"
              "loop where the label says so; one thread; log scale")
ax.set_title("spikeq against its peers: below 1 spikeq is cheaper; black tick = target;\n"
             "green = target met, red = missed, blue = no target", fontsize=9)
ax.set_xlim(min(ratios + [t for t in targets if t]) / 2, max(ratios) * 3)
fig.tight_layout()
fig.savefig(out, dpi=120)
print(f"wrote {out}")
