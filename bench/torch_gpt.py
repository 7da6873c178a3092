#!/usr/bin/python3
"""The PyTorch peer of `scaleout train gpt`: the same model, data, batches, optimizer and schedule.

Same data: the fortune files of /usr/share/games/fortunes (regular files, not *.dat or *.u8,
sorted by name, concatenated; SO_FORTUNES_DIR overrides), optionally cut to --max-bytes, the last
--val-frac as validation, byte tokens. Same batches: window starts come from the same generator
as src/data/batch.c (xoshiro256** seeded through splitmix64 from mix2(seed, step), Lemire's
multiply-high integers), so step s trains on exactly the windows scaleout trains on at step s;
validation uses the same fixed windows (seed ^ 0x5EEDF00D, i).
Same model: pre-LayerNorm GPT (eps 1e-5), learned positions, q|k|v projection with bias, exact-erf
GELU MLP (x4), untied head with bias; init N(0, 0.02), residual projections N(0, 0.02/sqrt(2L)),
zero biases, unit gains. torch 1.13 has no scaled_dot_product_attention: explicit causal softmax.
Same optimizer: AdamW(betas (0.9, beta2), eps 1e-8) with weight decay only on >= 2-D tensors
(nanoGPT's groups, as scaleout's no_decay views), warmup lr*(s+1)/warmup then cosine to min_lr,
global-norm clip. Throughput counts training steps only (batch draw, forward, backward, clip,
step), not validation, like the C trainer.

usage: OMP_WAIT_POLICY=PASSIVE /usr/bin/python3 bench/torch_gpt.py [--layers 4 --dim 128 --heads 4
       --ctx 128 --batch 16 --steps 200 --lr 1e-3 --threads 2 ...]
"""
import argparse
import math
import os
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

M64 = (1 << 64) - 1


def splitmix_next(x):
    x = (x + 0x9E3779B97F4A7C15) & M64
    z = x
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return x, z ^ (z >> 31)


def mix64(z):
    return splitmix_next(z)[1]


def mix2(a, b):
    return mix64(a ^ mix64(b ^ 0x5851F42D4C957F2D))


class Xoshiro:
    """xoshiro256** exactly as src/core/rng.c (so_rng_seed, so_rng_u64, so_rng_below)."""

    def __init__(self, seed):
        self.s = []
        x = seed & M64
        for _ in range(4):
            x, v = splitmix_next(x)
            self.s.append(v)

    def u64(self):
        s = self.s
        rotl = lambda v, k: ((v << k) | (v >> (64 - k))) & M64
        out = (rotl((s[1] * 5) & M64, 7) * 9) & M64
        t = (s[1] << 17) & M64
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = rotl(s[3], 45)
        return out

    def below(self, n):
        m = self.u64() * n
        low = m & M64
        if low < n:
            threshold = ((1 << 64) - n) % n
            while low < threshold:
                m = self.u64() * n
                low = m & M64
        return m >> 64


def lm_starts(n, B, T, seed, step):
    r = Xoshiro(mix2(seed & M64, step & M64))
    return [r.below(n - T) for _ in range(B)]


def fortunes(max_bytes):
    d = os.environ.get("SO_FORTUNES_DIR") or "/usr/share/games/fortunes"
    names = []
    for name in os.listdir(d):
        p = os.path.join(d, name)
        if name.startswith(".") or name.endswith(".dat") or name.endswith(".u8"):
            continue
        if os.path.islink(p) or not os.path.isfile(p):
            continue
        names.append(name)
    data = b"".join(open(os.path.join(d, n), "rb").read() for n in sorted(names, key=lambda s: s.encode()))
    return data[:max_bytes] if max_bytes > 0 else data


class Block(nn.Module):
    def __init__(self, d, h, T):
        super().__init__()
        self.h = h
        self.ln1 = nn.LayerNorm(d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.ln2 = nn.LayerNorm(d)
        self.fc = nn.Linear(d, 4 * d)
        self.fc2 = nn.Linear(4 * d, d)
        self.register_buffer("mask", torch.tril(torch.ones(T, T, dtype=torch.bool)))

    def attn(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.h, C // self.h).transpose(1, 2)
        k = k.view(B, T, self.h, C // self.h).transpose(1, 2)
        v = v.view(B, T, self.h, C // self.h).transpose(1, 2)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(k.size(-1)))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.fc2(F.gelu(self.fc(self.ln2(x))))


class GPT(nn.Module):
    def __init__(self, V, T, d, h, L):
        super().__init__()
        self.tok = nn.Embedding(V, d)
        self.pos = nn.Embedding(T, d)
        self.blocks = nn.ModuleList([Block(d, h, T) for _ in range(L)])
        self.lnf = nn.LayerNorm(d)
        self.head = nn.Linear(d, V)
        for name, p in self.named_parameters():
            if p.dim() >= 2:
                std = 0.02 / math.sqrt(2 * L) if name.endswith("proj.weight") or name.endswith("fc2.weight") else 0.02
                nn.init.normal_(p, 0.0, std)
            elif name.endswith("bias"):
                nn.init.zeros_(p)
            else:
                nn.init.ones_(p)

    def forward(self, idx, targets):
        B, T = idx.shape
        x = self.tok(idx) + self.pos(torch.arange(T))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.lnf(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for name, default in (("layers", 4), ("dim", 128), ("heads", 4), ("ctx", 128), ("batch", 16),
                          ("steps", 200), ("warmup", -1), ("seed", 1337), ("max-bytes", 0),
                          ("eval-every", -1), ("eval-batches", 8), ("threads", 2), ("log-every", -1)):
        ap.add_argument("--" + name, type=int, default=default)
    for name, default in (("lr", 1e-3), ("min-lr", -1.0), ("wd", 0.1), ("beta2", 0.95), ("clip", 1.0),
                          ("val-frac", 0.1)):
        ap.add_argument("--" + name, type=float, default=default)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    min_lr = a.min_lr if a.min_lr >= 0 else a.lr / 10
    warmup = a.warmup if a.warmup >= 0 else min(100, a.steps // 10)
    eval_every = a.eval_every if a.eval_every >= 0 else (a.steps // 5 if a.steps >= 5 else 0)
    log_every = a.log_every if a.log_every > 0 else max(1, a.steps // 20)
    B, T = a.batch, a.ctx

    text = fortunes(a.max_bytes)
    split = len(text) - round(len(text) * a.val_frac)
    train = torch.frombuffer(bytearray(text[:split]), dtype=torch.uint8).long()
    val = torch.frombuffer(bytearray(text[split:]), dtype=torch.uint8).long()
    counts = torch.bincount(train, minlength=256).double()
    p = counts[counts > 0] / len(train)
    h_nats = float(-(p * p.log()).sum())

    def batch(data, seed, step):
        ix = lm_starts(len(data), B, T, seed, step)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        return x, y

    model = GPT(256, T, a.dim, a.heads, a.layers)
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": a.wd},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, a.beta2), eps=1e-8)
    nparams = sum(p.numel() for p in model.parameters())

    def lr_at(s):
        if s < warmup:
            return a.lr * (s + 1) / warmup
        if a.steps - warmup <= 0:
            return a.lr
        prog = (s - warmup) / (a.steps - warmup)
        return min_lr + 0.5 * (1 + math.cos(math.pi * min(prog, 1.0))) * (a.lr - min_lr)

    def evaluate():
        model.eval()
        with torch.no_grad():
            tot = sum(float(model(*batch(val, a.seed ^ 0x5EEDF00D, i))) for i in range(a.eval_batches))
        model.train()
        return tot / a.eval_batches

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; GPT {a.layers} layers, dim {a.dim}, "
          f"{a.heads} heads, ctx {T}, {nparams} parameters; {len(text)} bytes, {len(train)} train + "
          f"{len(val)} val tokens; unigram entropy {h_nats:.4f} nats/token ({h_nats / math.log(2):.4f} bits)",
          flush=True)
    train_time, val_loss, win, win_loss, wt0 = 0.0, float("nan"), 0, 0.0, time.perf_counter()
    for s in range(a.steps):
        t0 = time.perf_counter()
        for g in opt.param_groups:
            g["lr"] = lr_at(s)
        x, y = batch(train, a.seed, s)
        loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if a.clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), a.clip)
        opt.step()
        lv = loss.item()
        train_time += time.perf_counter() - t0
        win_loss += lv
        win += 1
        if (s + 1) % log_every == 0 or s + 1 == a.steps:
            tok_s = win * B * T / (time.perf_counter() - wt0)
            print(f"step {s + 1:5d}/{a.steps} | loss {win_loss / win:.4f} | lr {lr_at(s):.2e} | {tok_s:.0f} tok/s",
                  flush=True)
            win, win_loss, wt0 = 0, 0.0, time.perf_counter()
        if (eval_every > 0 and (s + 1) % eval_every == 0) or s + 1 == a.steps:
            val_loss = evaluate()
            print(f"step {s + 1:5d}/{a.steps} | val loss {val_loss:.4f} nats/token", flush=True)
            wt0 = time.perf_counter()
    tps = a.steps * B * T / train_time
    print(f"final: val loss {val_loss:.4f} nats/token ({val_loss / math.log(2):.4f} bits/token) vs unigram "
          f"entropy {h_nats:.4f} nats/token ({h_nats / math.log(2):.4f} bits/token)")
    print(f"result model=torch_gpt data=fortunes tokenizer=byte step={a.steps} train_loss={lv:.4f} "
          f"val_loss={val_loss:.4f} unigram_entropy={h_nats:.4f} tokens_per_s={tps:.0f} "
          f"train_seconds={train_time:.2f}", flush=True)


if __name__ == "__main__":
    main()
