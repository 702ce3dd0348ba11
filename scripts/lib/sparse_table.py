#!/usr/bin/env python3
"""The table of scripts/bench --sparse: reads `sparse <model> <sparsity> <batch> <impl> <samples/s>`
lines (prune-bench --sparse and bench_torch.py --sparse, several repeats: the best of each is
kept) on stdin, prints a Markdown table with ratios, and writes the CSV the figure is drawn from.

Usage: sparse_table.py CSV_PATH < lines
"""
import sys

IMPLS = ["prune_dense", "prune_sparse", "prune_auto", "torch_dense", "torch_csr"]


def main():
    best, extra = {}, []
    for line in sys.stdin:
        f = line.split()
        if len(f) == 6 and f[0] == "sparse":
            key = (f[1], int(f[2]), int(f[3]), f[4])
            best[key] = max(best.get(key, 0.0), float(f[5]))
        elif len(f) == 3 and f[0] in ("sparse", "sparse_train"):
            extra.append(f)
    rows = sorted({k[:3] for k in best}, key=lambda k: (k[0] != "mlp", k[0], k[2], k[1]))

    def get(r, impl):
        return best.get(r + (impl,))

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else "-"

    def num(v):
        return f"{v:,.0f}" if v else "-"

    print("| model | sparsity | batch | prune dense | prune sparse | prune auto | torch dense | torch CSR "
          "| sparse / dense | auto / dense | auto / torch dense | prune sparse / torch CSR |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    csv = ["model,sparsity,batch,series,prune_dense,prune_sparse,prune_auto,torch_dense,torch_csr,speedup_sparse,speedup_auto,speedup_torch_csr"]
    for r in rows:
        v = {i: get(r, i) for i in IMPLS}
        print(f"| {r[0]} | {r[1]}% | {r[2]} | " + " | ".join(num(v[i]) for i in IMPLS) + " | "
              + " | ".join([ratio(v["prune_sparse"], v["prune_dense"]), ratio(v["prune_auto"], v["prune_dense"]),
                            ratio(v["prune_auto"], v["torch_dense"]), ratio(v["prune_sparse"], v["torch_csr"])]) + " |")
        sp = lambda a, b: f"{a / b:.4f}" if a and b else ""
        csv.append(",".join([r[0], str(r[1]), str(r[2]), f"{r[0]} batch {r[2]}"]
                            + [f"{v[i]:.0f}" if v[i] else "" for i in IMPLS]
                            + [sp(v["prune_sparse"], v["prune_dense"]), sp(v["prune_auto"], v["prune_dense"]),
                               sp(v["torch_csr"], v["torch_dense"])]))
    for f in extra:
        print(" ".join(f))
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write("\n".join(csv) + "\n")
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])


if __name__ == "__main__":
    main()
