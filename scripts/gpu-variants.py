"""Realistic image variants for the GPU benchmark: from a few real photos,
many files of the sizes and encodings a photo collection holds (crops,
longest side 300 to 1000 px, JPEG re-encodes at qualities 70 to 95).

  python3 scripts/gpu-variants.py PHOTOS_DIR OUT_DIR COUNT [--seed N]

Deterministic for a seed; runs one process per core.
"""
import argparse
import os
import random
from multiprocessing import Pool

from PIL import Image


def make(job):
    src, dst, seed = job
    rng = random.Random(seed)
    im = Image.open(src).convert("RGB")
    w, h = im.size
    f = rng.uniform(0.6, 1.0)
    cw, ch = max(16, int(w * f)), max(16, int(h * f * rng.uniform(0.8, 1.2)))
    cw, ch = min(cw, w), min(ch, h)
    x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
    im = im.crop((x, y, x + cw, y + ch))
    side = rng.randint(300, 1000)
    s = side / max(cw, ch)
    im = im.resize((max(1, round(cw * s)), max(1, round(ch * s))), Image.BILINEAR)
    im.save(dst, "JPEG", quality=rng.randint(70, 95))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("photos")
    ap.add_argument("out")
    ap.add_argument("count", type=int)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    srcs = sorted(os.path.join(d, f) for d, _, fs in os.walk(a.photos) for f in fs
                  if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if not srcs:
        raise SystemExit("gpu-variants: no photos in " + a.photos)
    os.makedirs(a.out, exist_ok=True)
    jobs = [(srcs[i % len(srcs)], os.path.join(a.out, "v%05d.jpg" % i), a.seed * 1000003 + i) for i in range(a.count)]
    with Pool(os.cpu_count()) as p:
        p.map(make, jobs, chunksize=16)
    print("%d variants of %d photos in %s" % (a.count, len(srcs), a.out))


if __name__ == "__main__":
    main()
