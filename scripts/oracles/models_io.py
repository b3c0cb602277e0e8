"""I/O helpers for the model oracle (scripts/oracles/models.py).

- safetensors writer/reader written by hand (struct + json), no `safetensors` package.
- Fixture: float32 tensors appended to one little-endian .bin file, indexed from a JSON tree;
  integer tensors are stored inline in the JSON.
- WordLevel tokenizer.json writer (HF `tokenizers` JSON format) and a reference encoder.
"""
import json
import os
import re
import struct

import numpy as np
import torch


# ----------------------------------------------------------------------------------------------
# safetensors
# ----------------------------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """Write {name: float32 tensor} as a safetensors file (names sorted, header padded to 8)."""
    header = {"__metadata__": dict(metadata or {"format": "pt"})}
    blobs = []
    offset = 0
    for name in sorted(tensors):
        t = tensors[name].detach().to(torch.float32).contiguous().cpu()
        data = t.numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    h = json.dumps(header, separators=(",", ":")).encode("utf-8")
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        assert info["dtype"] == "F32", info
        s, e = info["data_offsets"]
        arr = np.frombuffer(raw[base + s:base + e], dtype="<f4").reshape(info["shape"])
        out[name] = torch.from_numpy(arr.copy())
    return out


# ----------------------------------------------------------------------------------------------
# expected.json + expected.bin
# ----------------------------------------------------------------------------------------------

class Fixture:
    """Collects tensors. f32(t) -> index entry pointing into the .bin; ints(t) -> inline entry."""

    def __init__(self, bin_name="expected.bin"):
        self.bin_name = bin_name
        self.buf = bytearray()

    def f32(self, t):
        if isinstance(t, torch.Tensor):
            arr = t.detach().to(torch.float32).cpu().numpy()
        else:
            arr = np.asarray(t, dtype=np.float32)
        arr = np.ascontiguousarray(arr.astype("<f4"))
        assert np.isfinite(arr).all(), "non-finite value in fixture"
        off = len(self.buf)
        self.buf += arr.tobytes()
        return {"dtype": "float32", "shape": list(arr.shape), "offset": off}

    @staticmethod
    def ints(t):
        if isinstance(t, torch.Tensor):
            arr = t.detach().cpu().to(torch.int64).numpy()
        else:
            arr = np.asarray(t, dtype=np.int64)
        return {"dtype": "int64", "shape": list(arr.shape), "data": [int(x) for x in arr.reshape(-1)]}

    def write(self, folder, tree):
        tree = dict(tree)
        tree["bin"] = self.bin_name
        tree["bin_bytes"] = len(self.buf)
        with open(os.path.join(folder, self.bin_name), "wb") as f:
            f.write(bytes(self.buf))
        with open(os.path.join(folder, "expected.json"), "w") as f:
            json.dump(tree, f, indent=1)
            f.write("\n")


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


# ----------------------------------------------------------------------------------------------
# tokenizer
# ----------------------------------------------------------------------------------------------

WORDS = [
    # 80 lower-case words
    "the", "a", "an", "of", "to", "in", "and", "is", "was", "it",
    "that", "for", "on", "with", "as", "at", "by", "from", "he", "she",
    "they", "we", "you", "i", "his", "her", "their", "this", "not", "but",
    "cat", "dog", "sat", "mat", "ran", "sun", "moon", "star", "river", "tree",
    "house", "city", "paris", "france", "capital", "king", "queen", "red", "blue", "green",
    "big", "small", "old", "new", "good", "bad", "one", "two", "three", "four",
    "five", "is", "are", "has", "have", "will", "can", "said", "went", "made",
    "time", "day", "year", "man", "woman", "child", "water", "fire", "book", "word",
]
PUNCT = [".", ",", "!", "?", "'", ":", ";", "-", "(", ")", "\"", "/"]


def build_vocab(specials):
    """specials: list of the 4 special tokens in id order; then 92 unique words/punctuation."""
    toks = list(specials)
    seen = set(toks)
    for w in WORDS + PUNCT + ["says", "knows", "light", "dark", "north", "south", "east", "west"]:
        if w not in seen:
            toks.append(w)
            seen.add(w)
        if len(toks) == 96:
            break
    assert len(toks) == 96, len(toks)
    return {t: i for i, t in enumerate(toks)}


def tokenizer_json(vocab, unk, bos=None):
    """HF tokenizers JSON: WordLevel model, Whitespace pre-tokenizer, optional BOS template."""
    specials = [t for t in vocab if t.startswith("<")]
    added = [{"id": vocab[t], "content": t, "single_word": False, "lstrip": False, "rstrip": False,
              "normalized": False, "special": True} for t in specials]
    post = None
    if bos is not None:
        post = {
            "type": "TemplateProcessing",
            "single": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}],
            "pair": [{"SpecialToken": {"id": bos, "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}},
                     {"SpecialToken": {"id": bos, "type_id": 1}}, {"Sequence": {"id": "B", "type_id": 1}}],
            "special_tokens": {bos: {"id": bos, "ids": [vocab[bos]], "tokens": [bos]}},
        }
    return {
        "version": "1.0",
        "truncation": None,
        "padding": None,
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Whitespace"},
        "post_processor": post,
        "decoder": None,
        "model": {"type": "WordLevel", "vocab": vocab, "unk_token": unk},
    }


_WS = re.compile(r"\w+|[^\w\s]+")


def encode(vocab, unk, bos, text):
    """Reference encoder for the WordLevel + Whitespace tokenizer above (no added-token splitting)."""
    ids = [vocab[bos]] if bos is not None else []
    for piece in _WS.findall(text):
        ids.append(vocab.get(piece, vocab[unk]))
    return ids
