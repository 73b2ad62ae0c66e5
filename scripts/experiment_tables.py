#!/usr/bin/env python3
"""experiment_tables.py: prints the Markdown tables of docs/results.md (model-family experiments) from the JSON
files scripts/experiments.sh writes. Reads only; computes nothing the JSON files do not hold except sums over
position buckets and means over features.

usage: python3 scripts/experiment_tables.py [OUT_DIR]   (default: out/experiments)
"""
import json
import os
import statistics
import sys

X = sys.argv[1] if len(sys.argv) > 1 else "out/experiments"
FAMILIES = ["xlstm", "lstm", "transformer"]
NAMES = {"xlstm": "xLSTM", "lstm": "LSTM", "transformer": "Transformer", "tuple": "xLSTM, note tuples",
         "lstm-lr3": "LSTM (lr 3e-3)", "xlstm-long": "xLSTM, 1,500 steps"}


def load(name):
    path = os.path.join(X, name)
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):  # missing, or still being written
        return None


def log_lines(name):
    path = os.path.join(X, name + ".log.jsonl")
    if not os.path.exists(path):
        return []
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def train_summary(name):
    """(steps, tokens seen, median tokens/s, final valid loss) of a run's log."""
    lines = log_lines(name)
    steps = [l for l in lines if "loss" in l]
    valid = [l["valid_loss"] for l in lines if "valid_loss" in l]
    if not steps:
        return None
    return (steps[-1]["step"], sum(l["tokens"] for l in steps), statistics.median(l["tokens_per_s"] for l in steps),
            valid[-1] if valid else float("nan"))


def cpu_seconds(name):
    """The training run's CPU seconds, from the last line of its NAME.out ("U user E wall", GNU time), if any."""
    try:
        with open(os.path.join(X, name + ".out")) as f:
            last = f.read().strip().splitlines()[-1].split()
        return float(last[0]) if len(last) >= 2 and last[1] == "user" else None
    except (OSError, IndexError, ValueError):
        return None


def fmt(v, d=4):
    return "-" if v is None or v != v else f"{v:.{d}f}"


def overall(e):
    return e.get("overall") or e.get("all") or {}


def section(title):
    print(f"\n### {title}\n")


# ---- 1. JSB
section("1. JSB chorales (NLL per token = per voice per 16th note)")
print("| family | params | steps | tokens seen | CPU s | valid NLL | test NLL |")
print("|---|---:|---:|---:|---:|---:|---:|")
for f in FAMILIES + ["xlstm-long"]:
    v, t, s = load(f"eval-jsb-{f}-valid.json"), load(f"eval-jsb-{f}-test.json"), train_summary(f"jsb-{f}")
    if not (v and t and s):
        continue
    print(f"| {NAMES[f]} | {v['model']['parameters']:,} | {s[0]} | {s[1]:,} | {fmt(cpu_seconds(f'jsb-{f}'), 0)} | "
          f"{fmt(overall(v)['nll_per_token'])} | "
          f"{fmt(overall(t)['nll_per_token'])} |")

# ---- 2. multi-genre
section("2. Multi-genre corpus: validation NLL per token, windows of 512 from the zero state")
genres = None
rows = []
for f in FAMILIES + ["lstm-lr3"]:
    e = load(f"eval-multi-{f}.json")
    if not e:
        continue
    genres = genres or sorted(e["genres"].keys())
    s = train_summary(f"multi-{f}")
    rows.append((f, e, s))
if genres:
    print("| family | params | steps | CPU s | " + " | ".join(genres) + " | all |")
    print("|---|---:|---:|---:|" + "---:|" * (len(genres) + 1))
    for f, e, s in rows:
        cells = [fmt(e["genres"][g]["nll_per_token"]) for g in genres]
        print(f"| {NAMES[f]} | {e['model']['parameters']:,} | {s[0] if s else '-'} | {fmt(cpu_seconds(f'multi-{f}'), 0)} | " +
              " | ".join(cells) +
              f" | {fmt(overall(e)['nll_per_token'])} |")

section("2. Training speed alone on the machine: one thread, median tokens/s of 12 steps")
print("| family | multi-genre (8 x 512) | JSB (4 x 1,024) |")
print("|---|---:|---:|")
for f in FAMILIES + ["tuple"]:
    m, j = train_summary(f"speed-multi-{f}"), train_summary(f"speed-jsb-{f}")
    if m:
        print(f"| {NAMES[f]} | {m[2]:,.0f} | {f'{j[2]:,.0f}' if j else '-'} |")

models = [m for f in FAMILIES + ["tuple"] for m in (load(f"family-generation-{f}.json") or {}).get("models", [])]
if models:
    section("2. Generation, batch 1, one thread, one process per model (steps per second of each segment; "
            "state and peak RSS)")
    lens = [p["steps"] for p in models[0]["points"]]
    print("| model | " + " | ".join(f"steps/s at {n:,}" for n in lens) + " | " +
          " | ".join(f"state MB at {n:,}" for n in lens) + " | peak RSS MB |")
    print("|---|" + "---:|" * (2 * len(lens) + 1))
    for m in models:
        pts = m["points"]
        print(f"| {NAMES[m['name']]} | " + " | ".join(f"{p['steps_per_s']:,.0f}" for p in pts) + " | " +
              " | ".join(f"{p['state_bytes'] / 1e6:.2f}" for p in pts) + f" | {pts[-1]['peak_rss_bytes'] / 2**20:.0f} |")

# ---- 3. extrapolation
section("3. Length extrapolation: POP909 validation, trained at 512 tokens")
print("| family | NLL 0-511 | NLL 0-2,047 | NLL 0-8,191 | bucket 1,536-2,047 | bucket 7,680-8,191 | "
      "0-2,047 vs 0-511 | bucket at 4x vs 0-511 |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for f in FAMILIES:
    e = load(f"eval-extrap-{f}.json")
    if not e:
        continue
    B = e["by_position"]

    def mean_upto(n):
        nll = sum(b["nll"] for b in B if b["from"] < n)
        tok = sum(b["tokens"] for b in B if b["from"] < n)
        return nll / tok if tok else float("nan")

    def bucket(lo):
        for b in B:
            if b["from"] == lo and b["tokens"]:
                return b["nll"] / b["tokens"]
        return float("nan")

    a, b2, b8 = mean_upto(512), mean_upto(2048), mean_upto(8192)
    print(f"| {NAMES[f]} | {fmt(a)} | {fmt(b2)} | {fmt(b8)} | {fmt(bucket(1536))} | {fmt(bucket(7680))} | "
          f"{100 * (b2 / a - 1):+.1f} % | {100 * (bucket(1536) / a - 1):+.1f} % |")

# ---- 4. generated vs held-out
for genre in ["folk", "pop"]:
    data = {f: load(f"metrics-{genre}-{f}.json") for f in FAMILIES + ["tuple"]}
    data = {f: d for f, d in data.items() if d}
    if not data:
        continue
    section(f"4. Generated {genre} (16 x 16 bars) against the test split: overlapped area (higher = closer)")
    feats = [k for k, v in next(iter(data.values()))["features"].items() if v.get("defined")]
    print("| feature | reference mean | " + " | ".join(f"{NAMES[f]}: mean / OA" for f in data) + " |")
    print("|---|---:|" + "---:|" * len(data))
    for k in feats:
        first = next(iter(data.values()))["features"][k]
        vector = first.get("dims", 1) > 1  # (the histogram: its OA only; its "mean" is not a bin)
        ref = "-" if vector else f"{first['reference']['mean']:.3g}"
        cells = []
        for f, d in data.items():
            o = d["features"][k]
            mean = "-" if vector else f"{o['generated']['mean']:.3g}"
            cells.append(f"{mean} / {o['oa_generated']:.2f}" if o.get("defined") else "-")
        print(f"| {k} | {ref} | " + " | ".join(cells) + " |")
    means = []
    for f, d in data.items():
        oas = [d["features"][k]["oa_generated"] for k in feats if d["features"][k].get("defined")]
        means.append(f"{statistics.mean(oas):.3f}")
    print("| **mean OA** | | " + " | ".join(means) + " |")

# ---- 5. tuples vs REMI
section("5. Note tuples against REMI: the same validation pieces, bits per note and per second")
r, t = load("eval-multi-xlstm.json"), load("eval-multi-tuple.json")
if r and t:
    print("| genre | REMI bits/note | tuples bits/note | REMI bits/s | tuples bits/s |")
    print("|---|---:|---:|---:|---:|")
    for gname in sorted(r["genres"].keys()) + ["all"]:
        a = r["genres"][gname] if gname != "all" else overall(r)
        b = t["genres"].get(gname) if gname != "all" else overall(t)
        if not b:
            continue
        print(f"| {gname} | {fmt(a['bits_per_note'], 2)} | {fmt(b['bits_per_note'], 2)} | "
              f"{fmt(a['bits_per_second'], 1)} | {fmt(b['bits_per_second'], 1)} |")
