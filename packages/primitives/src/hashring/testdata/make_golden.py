#!/usr/bin/env python3
"""Golden fixtures for the hashring tests, computed independently of the TypeScript code.

Run from this folder: python3 make_golden.py  (writes ketama-golden.json and jump-golden.json)

ketama-golden.json follows libketama (ketama.c, last.fm 2007) as node `hashring` 3.x implements it:
  * each server gets floor(weight / totalWeight * 40 * serverCount) MD5 digests of "<server>-<k>"
    (k = 0, 1, ...), evaluated left to right in IEEE doubles as JavaScript does;
  * every 16-byte digest gives 4 points: bytes [4h..4h+3] read little-endian, h = 0..3;
  * points are sorted ascending (ties keep server order: a stable sort over servers as listed);
  * a key hashes to the first 4 bytes of MD5(key), little-endian; its server owns the first point
    >= that hash, wrapping to the first point past the top of the ring.

jump-golden.json follows Lamping & Veach, "A Fast, Minimal Memory, Consistent Hash Algorithm"
(2014), figure 1, with 64-bit unsigned wrap-around and the float64 division of the paper's C++.
"""
import hashlib
import json
import struct

M64 = (1 << 64) - 1


def ketama_ring(weights):
    total = sum(w for _, w in weights)
    n = len(weights)
    points = []
    for order, (server, weight) in enumerate(weights):
        count = int((weight / total) * 40 * n // 1)  # floor, JS left-to-right double arithmetic
        for k in range(count):
            d = hashlib.md5(f"{server}-{k}".encode()).digest()
            for h in range(4):
                points.append((struct.unpack_from("<I", d, 4 * h)[0], order, server))
    points.sort(key=lambda p: (p[0], p[1]))
    return points


def ketama_get(points, key):
    h = struct.unpack_from("<I", hashlib.md5(key.encode()).digest(), 0)[0]
    lo, hi = 0, len(points)
    while lo < hi:
        mid = (lo + hi) // 2
        if points[mid][0] < h:
            lo = mid + 1
        else:
            hi = mid
    return points[lo if lo < len(points) else 0][2]


def jump(key, buckets):
    b, j = -1, 0
    while j < buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & M64
        j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


rings = {
    "three-equal": [("10.0.0.1:11211", 1), ("10.0.0.2:11211", 1), ("10.0.0.3:11211", 1)],
    "weighted": [("cache-a:11211", 1), ("cache-b:11211", 2), ("cache-c:11211", 3), ("cache-d:11211", 5)],
    "ten-equal": [(f"10.0.0.{i}:8080", 1) for i in range(1, 11)],
}
keys = [f"key-{i}" for i in range(1000)] + ["", "user:42", "order:2026-11-24:1001", "ключ", "键-値", "emoji-🦫"]
out = {"reference": "libketama as implemented by node hashring 3.2 (see make_golden.py)", "rings": []}
for name, weights in rings.items():
    pts = ketama_ring(weights)
    counts = {}
    for _, _, s in pts:
        counts[s] = counts.get(s, 0) + 1
    out["rings"].append({
        "name": name,
        "servers": [{"server": s, "weight": w} for s, w in weights],
        "pointsPerServer": counts,
        "firstPoints": [[p, s] for p, _, s in pts[:8]],
        "lookups": [[k, ketama_get(pts, k)] for k in keys],
    })
with open("ketama-golden.json", "w", encoding="utf-8") as f:
    json.dump(out, f, ensure_ascii=False, separators=(",", ":"))
    f.write("\n")

jump_keys = [0, 1, 2, 42, 0xDEADBEEF, 2**32, 2**53 + 7, 0xFFFFFFFFFFFFFFFF, 0x8000000000000000, 12345678901234567890]
jump_buckets = [1, 2, 3, 10, 100, 1000, 65536, 2**31 - 1]
with open("jump-golden.json", "w") as f:
    json.dump({
        "reference": "Lamping & Veach 2014, figure 1 (see make_golden.py)",
        "cases": [[str(k), b, jump(k, b)] for k in jump_keys for b in jump_buckets],
    }, f, separators=(",", ":"))
    f.write("\n")
