#!/usr/bin/env python3
"""The table of scripts/bench --sparse: reads `sparse <model> <sparsity> <batch> <impl> <samples/s>`
lines (prune-bench --sparse and bench_torch.py --sparse, several repeats, each starting with
prune-bench's `sparse path_…` line) on stdin, prints a Markdown table and writes the CSV the figure
is drawn from. Throughputs are the best over the repeats. Ratios between prune's own kernels are
the median over repeats of each repeat's ratio (they were timed interleaved, so a repeat's ratio
is paired against the same stretch of a shared machine); ratios against PyTorch, timed in
another process, are of the best throughputs.

Usage: sparse_table.py CSV_PATH < lines
"""
import sys

IMPLS = ["prune_dense", "prune_sparse", "prune_auto", "torch_dense", "torch_csr"]


def main():
    best, runs, train, repeat = {}, {}, {}, 0
    for line in sys.stdin:
        f = line.split()
        if len(f) == 3 and f[0] == "sparse" and f[1].startswith("path_"):
            repeat += 1
        elif len(f) == 6 and f[0] == "sparse":
            key = (f[1], int(f[2]), int(f[3]), f[4])
            best[key] = max(best.get(key, 0.0), float(f[5]))
            runs[key + (repeat,)] = float(f[5])
        elif len(f) == 3 and f[0] == "sparse_train":
            train.setdefault(f[1], []).append(float(f[2]))
    rows = sorted({k[:3] for k in best}, key=lambda k: (k[0] != "mlp", k[0], k[2], k[1]))

    def get(r, impl):
        return best.get(r + (impl,))

    def ratio(a, b):
        return f"{a / b:.2f}" if a and b else "-"

    def paired(r, a, b):
        """Median over repeats of the repeat's a/b (as a number, or None)."""
        xs = sorted(runs[r + (a, i)] / runs[r + (b, i)] for i in range(repeat + 1)
                    if runs.get(r + (a, i)) and runs.get(r + (b, i)))
        return xs[len(xs) // 2] if len(xs) % 2 else (xs[len(xs) // 2 - 1] + xs[len(xs) // 2]) / 2 if xs else None

    def num(v):
        return f"{v:,.0f}" if v else "-"

    print("| model | sparsity | batch | prune dense | prune sparse | prune auto | torch dense | torch CSR "
          "| sparse / dense | auto / dense | auto / torch dense | prune sparse / torch CSR |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    csv = ["model,sparsity,batch,series,prune_dense,prune_sparse,prune_auto,torch_dense,torch_csr,speedup_sparse,speedup_auto,speedup_torch_csr"]
    for r in rows:
        v = {i: get(r, i) for i in IMPLS}
        print(f"| {r[0]} | {r[1]}% | {r[2]} | " + " | ".join(num(v[i]) for i in IMPLS) + " | "
              + " | ".join([ratio(paired(r, "prune_sparse", "prune_dense"), 1), ratio(paired(r, "prune_auto", "prune_dense"), 1),
                            ratio(v["prune_auto"], v["torch_dense"]), ratio(v["prune_sparse"], v["torch_csr"])]) + " |")
        sp = lambda x: f"{x:.4f}" if x else ""
        csv.append(",".join([r[0], str(r[1]), str(r[2]), f"{r[0]} batch {r[2]}"]
                            + [f"{v[i]:.0f}" if v[i] else "" for i in IMPLS]
                            + [sp(paired(r, "prune_sparse", "prune_dense")), sp(paired(r, "prune_auto", "prune_dense")),
                               sp(paired(r, "torch_csr", "torch_dense"))]))
    for metric, xs in train.items():
        xs.sort()
        print(f"{metric}: median {xs[len(xs) // 2]:.3f} over {len(xs)} runs ({', '.join(f'{x:.3f}' for x in xs)})")
    with open(sys.argv[1] + ".tmp", "w") as out:
        out.write("\n".join(csv) + "\n")
    import os
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])


if __name__ == "__main__":
    main()
