"""Makes featurize/testdata/corpus/tiff: TIFF variants Pillow 9.4 decodes
and ones it refuses, each small. Deterministic: fixed seeds, no times.

Run with /usr/bin/python3 (Debian's Pillow); uses tiffcp from libtiff-tools
for codecs and layouts Pillow cannot write (JPEG YCbCr, tiles, planes,
BigTIFF, LZMA, ZSTD, WebP) and writes odd or damaged files by hand.
"""
import io
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import zlib

import numpy as np
from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "..", "featurize", "testdata", "corpus", "tiff")
rng = np.random.default_rng(12)
TMP = tempfile.mkdtemp()


def save(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def pattern(w, h, c, depth=8):
    """A smooth pattern with some noise: compresses and shows orientation."""
    y, x = np.mgrid[0:h, 0:w]
    chans = []
    for k in range(c):
        v = (x * (37 + 11 * k) + y * (23 + 7 * k) + k * 50) % 256
        chans.append(v)
    a = np.stack(chans, -1).astype(np.float64)
    a += rng.integers(0, 24, a.shape)
    a = np.clip(a, 0, 255)
    if depth == 16:
        return (a * 257 + rng.integers(0, 200, a.shape)).clip(0, 65535).astype(np.uint16)
    return a.astype(np.uint8)


def pil(im, **kw):
    b = io.BytesIO()
    im.save(b, "TIFF", **kw)
    return b.getvalue()


def tiffcp(data, *args):
    src, dst = os.path.join(TMP, "in.tif"), os.path.join(TMP, "out.tif")
    with open(src, "wb") as f:
        f.write(data)
    if os.path.exists(dst):
        os.remove(dst)
    subprocess.run(["tiffcp", *args, src, dst], check=True, capture_output=True)
    with open(dst, "rb") as f:
        return f.read()


# --- a small TIFF writer for what no tool writes ------------------------

SHORT, LONG, RATIONAL, BYTE, ASCII, UNDEF, SSHORT, LONG8 = 3, 4, 5, 1, 2, 7, 8, 16
FMT = {1: "B", 2: "B", 3: "H", 4: "L", 6: "b", 7: "B", 8: "h", 9: "l", 11: "f", 12: "d", 16: "Q", 13: "L"}
SBYTE, SLONG, DOUBLE = 6, 9, 12


def build(w, h, blocks, tags, bo="<", big=False, sort=True, tiled=None, rps=None,
          counts=None, offsets=None, trailer=b"", ifd_first=False):
    """blocks: encoded strips or tiles. tags: {tag: (type, values)}.
    StripOffsets/ByteCounts (or Tile*) are added unless given."""
    head = 16 if big else 8
    data = b"".join(blocks)
    offs, pos = [], head
    for b in blocks:
        offs.append(pos)
        pos += len(b)
    t = dict(tags)
    t.setdefault(256, (LONG, [w]))
    t.setdefault(257, (LONG, [h]))
    if tiled:
        t.setdefault(322, (LONG, [tiled[0]]))
        t.setdefault(323, (LONG, [tiled[1]]))
        t.setdefault(324, (LONG, offsets if offsets is not None else offs))
        t.setdefault(325, (LONG, counts if counts is not None else [len(b) for b in blocks]))
    else:
        t.setdefault(273, (LONG, offsets if offsets is not None else offs))
        t.setdefault(279, (LONG, counts if counts is not None else [len(b) for b in blocks]))
        if rps is not None:
            t.setdefault(278, (LONG, [rps]))
    t = {k: v for k, v in t.items() if v is not None}
    keys = sorted(t) if sort else list(t)
    if not sort:
        keys = keys[::-1]
    ifd_at = head + len(data)
    esize, inline = (20, 8) if big else (12, 4)
    cnt_size = 8 if big else 2
    extra_at = ifd_at + cnt_size + esize * len(keys) + (8 if big else 4)
    entries, extra = [], b""
    for k in keys:
        typ, vals = t[k]
        if isinstance(vals, (bytes, bytearray)):
            raw = bytes(vals)
        else:
            raw = struct.pack(bo + FMT[typ] * len(vals), *vals) if typ != RATIONAL else \
                b"".join(struct.pack(bo + "LL", *v) for v in vals)
        n = len(vals)
        if len(raw) <= inline:
            val = raw.ljust(inline, b"\0")
        else:
            if len(extra) % 2:
                extra += b"\0"
            val = struct.pack(bo + ("Q" if big else "L"), extra_at + len(extra))
            extra += raw
        entries.append(struct.pack(bo + ("HHQ" if big else "HHL"), k, typ, n) + val)
    ifd = struct.pack(bo + ("Q" if big else "H"), len(keys)) + b"".join(entries) + \
        struct.pack(bo + ("Q" if big else "L"), 0)
    if big:
        hdr = (b"II" if bo == "<" else b"MM") + struct.pack(bo + "HHHQ", 43, 8, 0, ifd_at)
    else:
        hdr = (b"II" if bo == "<" else b"MM") + struct.pack(bo + "HL", 42, ifd_at)
    return hdr + data + ifd + extra + trailer


def rows_to_strips(raw_rows, rps):
    return [b"".join(raw_rows[i:i + rps]) for i in range(0, len(raw_rows), rps)]


def pack_bits(a, bits):
    """Pack an (h, w) array of small ints, msb first, rows padded to bytes."""
    rows = []
    for r in a:
        acc, n, out = 0, 0, bytearray()
        for v in r:
            acc = (acc << bits) | int(v)
            n += bits
            while n >= 8:
                n -= 8
                out.append((acc >> n) & 255)
        if n:
            out.append((acc << (8 - n)) & 255)
        rows.append(bytes(out))
    return rows


def base(photo, bps, spp, comp=1, extra=None, planar=None, sf=None, more=None):
    t = {259: (SHORT, [comp]), 262: (SHORT, [photo]), 258: (SHORT, [bps] * spp), 277: (SHORT, [spp])}
    if extra is not None:
        t[338] = (SHORT, extra)
    if planar:
        t[284] = (SHORT, [planar])
    if sf:
        t[339] = (SHORT, [sf] * spp)
    t.update(more or {})
    return t


def deflate(blocks):
    return [zlib.compress(b, 9) for b in blocks]


def planes_rows(a, bo="<"):
    """Planar: one list of rows per sample."""
    out = []
    for k in range(a.shape[2]):
        p = a[:, :, k]
        if p.dtype == np.uint16:
            p = p.astype(bo + "u2")
        out.append([r.tobytes() for r in p])
    return out


def main():
    if os.path.isdir(OUT):
        shutil.rmtree(OUT)
    os.makedirs(OUT)
    W, H = 23, 17
    rgb = Image.fromarray(pattern(W, H, 3), "RGB")
    rgba = Image.fromarray(pattern(W, H, 4), "RGBA")
    grey = Image.fromarray(pattern(W, H, 1)[:, :, 0], "L")
    bw = grey.point(lambda v: 255 if v > 128 else 0).convert("1")
    pal = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=13)
    good = {}

    # Pillow's own writer (raw strips) and libtiff's codecs through Pillow.
    good["rgb-raw.tif"] = pil(rgb)
    good["rgba-raw.tif"] = pil(rgba)
    good["l-raw.tif"] = pil(grey)
    good["la-raw.tif"] = pil(Image.merge("LA", [grey, rgba.getchannel("A")]))
    good["p8-raw.tif"] = pil(pal)
    good["pa-raw.tif"] = pil(pal.convert("PA"))
    good["1-raw.tif"] = pil(bw)
    good["cmyk-raw.tif"] = pil(rgb.convert("CMYK"))
    good["i16-raw.tif"] = pil(Image.fromarray(pattern(W, H, 1, 16)[:, :, 0], "I;16"))
    good["i32-raw.tif"] = pil(Image.fromarray((pattern(W, H, 1, 16)[:, :, 0].astype(np.int32) - 20000), "I"))
    good["f32-raw.tif"] = pil(Image.fromarray((pattern(W, H, 1)[:, :, 0].astype(np.float32) * 1.37 - 30), "F"))
    good["lab-raw.tif"] = pil(Image.frombytes("LAB", (W, H), pattern(W, H, 3).tobytes()))
    good["ycbcr-raw.tif"] = pil(rgb.convert("YCbCr"))
    good["rgb-lzw.tif"] = pil(rgb, compression="tiff_lzw")
    good["rgb-deflate.tif"] = pil(rgb, compression="tiff_adobe_deflate")
    good["rgb-packbits.tif"] = pil(rgb, compression="packbits")
    good["rgb-jpeg-rgb.tif"] = pil(rgb, compression="jpeg")
    good["rgba-lzw.tif"] = pil(rgba, compression="tiff_lzw")
    good["l-lzw-predictor.tif"] = tiffcp(pil(grey), "-c", "lzw:2")
    good["rgb-deflate-predictor.tif"] = tiffcp(pil(rgb), "-c", "zip:2")
    good["p8-lzw.tif"] = pil(pal, compression="tiff_lzw")
    good["cmyk-deflate.tif"] = pil(rgb.convert("CMYK"), compression="tiff_adobe_deflate")
    good["i16-deflate.tif"] = pil(Image.fromarray(pattern(W, H, 1, 16)[:, :, 0], "I;16"), compression="tiff_adobe_deflate")
    good["f32-lzw.tif"] = pil(Image.fromarray((pattern(W, H, 1)[:, :, 0].astype(np.float32) * 2.1 - 40), "F"), compression="tiff_lzw")
    good["lab-deflate.tif"] = pil(Image.frombytes("LAB", (W, H), pattern(W, H, 3).tobytes()), compression="tiff_adobe_deflate")
    good["1-group3.tif"] = pil(bw, compression="group3")
    good["1-group4.tif"] = pil(bw, compression="group4")
    good["1-group4-o6.tif"] = pil(bw, compression="group4", tiffinfo={274: 6})
    good["1-group3-o8.tif"] = pil(bw, compression="group3", tiffinfo={274: 8})
    good["1-group4-fill2.tif"] = tiffcp(pil(bw, compression="group4"), "-f", "lsb2msb")
    good["1-ccitt-rle.tif"] = tiffcp(pil(bw), "-c", "g3:1d")
    good["rgb-lzma.tif"] = tiffcp(pil(rgb), "-c", "lzma")
    good["rgb-zstd.tif"] = tiffcp(pil(rgb), "-c", "zstd")
    good["rgb-webp.tif"] = tiffcp(pil(rgb), "-c", "webp")
    good["rgba-webp.tif"] = tiffcp(pil(rgba), "-c", "webp")

    # Orientation: turned once (Pillow 9.4 turns a TIFF on load and again in
    # exif_transpose, its bug #7381; the judge scripts and featurizer do not).
    for o in (2, 3, 4, 5, 6, 7, 8):
        good["rgb-raw-o%d.tif" % o] = pil(rgb, tiffinfo={274: o})
    good["rgb-lzw-o6.tif"] = pil(rgb, compression="tiff_lzw", tiffinfo={274: 6})
    good["rgb-lzw-o5.tif"] = pil(rgb, compression="tiff_lzw", tiffinfo={274: 5})

    # JPEG in TIFF: YCbCr 2x2 (tiffcp) in strips and tiles, RGB JPEG tiled.
    W2, H2 = 40, 35
    rgb2 = Image.fromarray(pattern(W2, H2, 3), "RGB")
    good["jpeg-ycbcr22-strip.tif"] = tiffcp(pil(rgb2), "-c", "jpeg", "-r", "16")
    good["jpeg-ycbcr22-tiled.tif"] = tiffcp(pil(rgb2), "-c", "jpeg", "-t", "-w", "16", "-l", "16")
    good["jpeg-rgb-tiled.tif"] = tiffcp(pil(rgb2), "-c", "jpeg:r", "-t", "-w", "16", "-l", "16")
    good["jpeg-grey.tif"] = tiffcp(pil(Image.fromarray(pattern(W2, H2, 1)[:, :, 0], "L")), "-c", "jpeg")
    good["jpeg-ycbcr22-o6.tif"] = tiffcp(pil(rgb2, tiffinfo={274: 6}), "-c", "jpeg")
    # YCbCr 1x1: a whole 4:4:4 JPEG as the one strip.
    j = io.BytesIO()
    rgb2.save(j, "JPEG", quality=90, subsampling=0)
    good["jpeg-ycbcr11-strip.tif"] = build(W2, H2, [j.getvalue()], base(6, 8, 3, 7, more={530: (SHORT, [1, 1])}), rps=H2)
    j2 = io.BytesIO()
    rgb2.save(j2, "JPEG", quality=90, subsampling=2)
    good["jpeg-ycbcr-mismatch.tif"] = build(W2, H2, [j2.getvalue()], base(6, 8, 3, 7, more={530: (SHORT, [1, 1])}), rps=H2)
    # Old-style JPEG (compression 6): JPEGInterchangeFormat over the stream.
    jb = j2.getvalue()
    good["ojpeg-ycbcr22.tif"] = build(W2, H2, [jb], base(6, 8, 3, 6, more={
        530: (SHORT, [2, 2]), 513: (LONG, [8]), 514: (LONG, [len(jb)])}), rps=H2)

    # YCbCr without JPEG: libtiff's RGBA reader (deflate), raw path (none).
    ycc = np.asarray(rgb.convert("YCbCr"))[:16, :22]
    def ycc_sub(a, sx, sy):
        h, w = a.shape[:2]
        out = bytearray()
        for by in range(0, h, sy):
            for bx in range(0, w, sx):
                blk = a[by:by + sy, bx:bx + sx]
                out += bytes(blk[:, :, 0].reshape(-1))
                out += bytes([int(blk[:, :, 1].mean()), int(blk[:, :, 2].mean())])
        return bytes(out)
    for sx, sy in ((1, 1), (2, 2), (2, 1)):
        d = ycc_sub(ycc, sx, sy)
        good["ycbcr%d%d-deflate.tif" % (sx, sy)] = build(22, 16, deflate([d]), base(6, 8, 3, 8, more={530: (SHORT, [sx, sy])}), rps=16)

    # Hand-made sample layouts.
    rows = lambda a: [r.tobytes() for r in a]
    g16 = pattern(W, H, 1, 16)[:, :, 0]
    for bits in (1, 2, 4):
        a = (pattern(W, H, 1)[:, :, 0] >> (8 - bits))
        for photo in (0, 1):
            good["grey%d-ph%d-raw.tif" % (bits, photo)] = build(W, H, rows_to_strips(pack_bits(a, bits), 5), base(photo, bits, 1), rps=5)
        good["grey%d-deflate.tif" % bits] = build(W, H, deflate(rows_to_strips(pack_bits(a, bits), 8)), base(1, bits, 1, 8), rps=8)
        good["grey%d-fill2-raw.tif" % bits] = build(W, H, rows_to_strips(pack_bits(a, bits), H), base(1, bits, 1, more={266: (SHORT, [2])}), rps=H)
        good["pal%d-raw.tif" % bits] = build(W, H, rows_to_strips(pack_bits(a, bits), H), base(3, bits, 1, more={320: (SHORT, list(range(0, 65536, 65536 >> bits))[:1 << bits] * 3)}), rps=H)
        good["pal%d-lzw.tif" % bits] = tiffcp(good["pal%d-raw.tif" % bits], "-c", "lzw")
    a12 = g16 >> 4
    packed12 = []
    for r in a12:
        out = bytearray()
        for i in range(0, len(r), 2):
            v0 = int(r[i]); v1 = int(r[i + 1]) if i + 1 < len(r) else 0
            out += bytes([v0 >> 4, ((v0 & 15) << 4) | (v1 >> 8), v1 & 255])
        packed12.append(bytes(out[:(len(r) * 12 + 7) // 8]))
    good["grey12-raw.tif"] = build(W, H, rows_to_strips(packed12, H), base(1, 12, 1), rps=H)
    good["grey12-deflate.tif"] = build(W, H, deflate(rows_to_strips(packed12, H)), base(1, 12, 1, 8), rps=H)
    good["grey16-mm-raw.tif"] = build(W, H, rows_to_strips(rows(g16.astype(">u2")), 6), base(1, 16, 1), bo=">", rps=6)
    good["grey16-mm-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(g16.astype(">u2")), 6)), base(1, 16, 1, 8), bo=">", rps=6)
    good["grey16-signed.tif"] = build(W, H, rows_to_strips(rows((g16.astype(np.int32) - 30000).astype("<i2")), H), base(1, 16, 1, sf=2), rps=H)
    good["grey16-fill2.tif"] = build(W, H, rows_to_strips(rows(g16.astype("<u2")), H), base(1, 16, 1, more={266: (SHORT, [2])}), rps=H)
    good["grey32-uint.tif"] = build(W, H, deflate(rows_to_strips(rows((g16.astype(np.uint32) * 70001)), H)), base(1, 32, 1, 8), rps=H)
    c16 = pattern(W, H, 3, 16)
    c16a = pattern(W, H, 4, 16)
    good["rgb16-raw.tif"] = build(W, H, rows_to_strips(rows(c16.astype("<u2")), 7), base(2, 16, 3), rps=7)
    good["rgb16-mm-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c16.astype(">u2")), 7)), base(2, 16, 3, 8), bo=">", rps=7)
    good["rgba16-unassoc-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c16a.astype("<u2")), H)), base(2, 16, 4, 8, extra=[2]), rps=H)
    good["rgba16-assoc-raw.tif"] = build(W, H, rows_to_strips(rows(c16a.astype("<u2")), H), base(2, 16, 4, extra=[1]), rps=H)
    good["rgbx16-mm-raw.tif"] = build(W, H, rows_to_strips(rows(c16a.astype(">u2")), H), base(2, 16, 4, extra=[0]), bo=">", rps=H)
    good["cmyk16-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c16a.astype("<u2")), H)), base(5, 16, 4, 8), rps=H)
    c8a = pattern(W, H, 4)
    c8aa = pattern(W, H, 5)
    good["rgba-assoc-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c8a), H)), base(2, 8, 4, 8, extra=[1]), rps=H)
    good["rgba-noextra-raw.tif"] = build(W, H, rows_to_strips(rows(c8a), H), base(2, 8, 4), rps=H)
    good["rgbx-raw.tif"] = build(W, H, rows_to_strips(rows(c8a), H), base(2, 8, 4, extra=[0]), rps=H)
    good["rgba-extra2-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c8aa), H)), base(2, 8, 5, 8, extra=[2, 0]), rps=H)
    good["rgbaa-assoc-raw.tif"] = build(W, H, rows_to_strips(rows(c8aa), H), base(2, 8, 5, extra=[1, 0]), rps=H)
    good["cmyk-extra-raw.tif"] = build(W, H, rows_to_strips(rows(c8aa), H), base(5, 8, 5, extra=[0]), rps=H)
    good["la-assoc-unknown.tif"] = build(W, H, rows_to_strips(rows(pattern(W, H, 2)), H), base(1, 8, 2, extra=[1]), rps=H)
    good["rgb-extra-unknown.tif"] = build(W, H, rows_to_strips(rows(c8a), H), base(2, 8, 4, extra=[3]), rps=H)
    good["rgb-2-samples.tif"] = build(W, H, rows_to_strips(rows(pattern(W, H, 2)), H), base(2, 8, 2), rps=H)

    # Planar (PlanarConfiguration 2): raw, deflate, 8 and 16 bit, strips and tiles.
    c8 = pattern(W, H, 3)
    pl = planes_rows(c8)
    good["planar-rgb-raw.tif"] = build(W, H, sum((rows_to_strips(p, 6) for p in pl), []), base(2, 8, 3, planar=2), rps=6)
    good["planar-rgb-deflate.tif"] = build(W, H, deflate(sum((rows_to_strips(p, 6) for p in pl), [])), base(2, 8, 3, 8, planar=2), rps=6)
    pla = planes_rows(c8a)
    good["planar-rgba-assoc-deflate.tif"] = build(W, H, deflate(sum((rows_to_strips(p, H) for p in pla), [])), base(2, 8, 4, 8, planar=2, extra=[1]), rps=H)
    good["planar-rgba-lzw.tif"] = tiffcp(pil(rgba), "-p", "separate", "-c", "lzw")
    good["planar-rgb16-deflate.tif"] = build(W, H, deflate(sum((rows_to_strips(p, 9) for p in planes_rows(c16)), [])), base(2, 16, 3, 8, planar=2), rps=9)
    good["planar-rgb16-mm-raw.tif"] = build(W, H, sum((rows_to_strips(p, H) for p in planes_rows(c16, ">")), []), base(2, 16, 3, planar=2), bo=">", rps=H)
    good["planar-rgb-tiled-deflate.tif"] = tiffcp(pil(rgb2), "-p", "separate", "-c", "zip", "-t", "-w", "16", "-l", "16")
    good["planar-rgb16-tiled-deflate.tif"] = tiffcp(build(W, H, sum((rows_to_strips(p, H) for p in planes_rows(c16)), []), base(2, 16, 3, planar=2), rps=H), "-c", "zip", "-t", "-w", "16", "-l", "16")
    good["planar-cmyk-deflate.tif"] = tiffcp(pil(rgb.convert("CMYK")), "-p", "separate", "-c", "zip")
    good["planar-grey-raw.tif"] = build(W, H, rows_to_strips(rows(pattern(W, H, 1)[:, :, 0]), H), base(1, 8, 1, planar=2), rps=H)
    good["planar-grey16-raw.tif"] = build(W, H, rows_to_strips(rows(g16.astype("<u2")), H), base(1, 16, 1, planar=2), rps=H)

    # Tiles.
    good["rgb-tiled-raw.tif"] = tiffcp(pil(rgb2), "-t", "-w", "16", "-l", "16")
    good["rgb-tiled-lzw.tif"] = tiffcp(pil(rgb2), "-c", "lzw", "-t", "-w", "16", "-l", "16")
    good["l-tiled-raw.tif"] = tiffcp(pil(Image.fromarray(pattern(W2, H2, 1)[:, :, 0], "L")), "-t", "-w", "32", "-l", "16")
    good["1-tiled-g4.tif"] = tiffcp(pil(bw), "-c", "g4", "-t", "-w", "16", "-l", "16")

    # Structure: BigTIFF, big-endian, multi-page, sub-IFDs, unsorted tags,
    # RowsPerStrip missing, photometric missing.
    good["bigtiff-rgb-raw.tif"] = tiffcp(pil(rgb), "-8")
    good["bigtiff-rgb-lzw.tif"] = tiffcp(pil(rgb), "-8", "-c", "lzw")
    good["bigtiff-handmade-raw.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3), big=True, rps=H)
    good["mm-rgb-lzw.tif"] = tiffcp(pil(rgb), "-B", "-c", "lzw")
    good["mm-rgb-raw.tif"] = tiffcp(pil(rgb), "-B")
    mp = io.BytesIO()
    rgb.save(mp, "TIFF", save_all=True, append_images=[grey, rgba])
    good["multipage-3.tif"] = mp.getvalue()
    good["multipage-lzw.tif"] = tiffcp(mp.getvalue(), "-c", "lzw")
    sub = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, more={330: (LONG, [8])}), rps=H)
    good["subifd-raw.tif"] = sub
    good["subifd-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8, more={330: (LONG, [8])}), rps=H)
    good["unsorted-tags-raw.tif"] = build(W, H, rows_to_strips(rows(c8), 4), base(2, 8, 3), sort=False, rps=4)
    good["unsorted-tags-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), 4)), base(2, 8, 3, 8), sort=False, rps=4)
    good["no-rowsperstrip-raw.tif"] = build(W, H, [b"".join(rows(c8))], base(2, 8, 3))
    good["no-rowsperstrip-deflate.tif"] = build(W, H, deflate([b"".join(rows(c8))]), base(2, 8, 3, 8))
    t = base(1, 8, 1)
    del t[262]
    good["no-photometric-raw.tif"] = build(W, H, [b"".join(rows(pattern(W, H, 1)[:, :, 0]))], t, rps=H)
    good["orient-long-type.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, more={274: (LONG, [8])}), rps=H)
    good["orient-rational.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, more={274: (RATIONAL, [(6, 1)])}), rps=H)

    # Damage. Truncations of several kinds of file at several points.
    bad = {}
    for src in ("rgb-raw.tif", "rgb-lzw.tif", "jpeg-ycbcr22-tiled.tif", "1-group4.tif", "planar-rgb-deflate.tif",
                "rgb-tiled-raw.tif", "ycbcr22-deflate.tif", "bigtiff-rgb-lzw.tif"):
        d = good[src]
        for frac in (0.3, 0.97):
            cut = max(8, int(len(d) * frac))
            bad["trunc-%s-%04d.tif" % (src[:-4], cut)] = d[:cut]
    # IFD-at-end files cut inside the strip data lose the IFD; these keep
    # the IFD first and lose strip data.
    for n in (1, 5, 40):
        bad["short-deflate-strip-%02d.tif" % n] = build(W, H, [zlib.compress(b"".join(rows(c8)))[:-n]], base(2, 8, 3, 8), rps=H)
    bad["short-raw-strip.tif"] = build(W, H, [b"".join(rows(c8))[:-50]], base(2, 8, 3), rps=H)
    bad["raw-counts-too-small.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3), counts=[10], rps=H)
    bad["deflate-counts-too-small.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8), counts=[10], rps=H)
    bad["deflate-counts-too-big.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8), counts=[100000], rps=H)
    bad["raw-offset-past-end.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3), offsets=[10 ** 6], rps=H)
    bad["lzw-offset-past-end.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8), offsets=[10 ** 6], rps=H)
    bad["raw-fewer-offsets.tif"] = build(W, H, rows_to_strips(rows(c8), 4)[:2], base(2, 8, 3), rps=4)
    bad["deflate-fewer-offsets.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), 4)[:2]), base(2, 8, 3, 8), rps=4)
    bad["deflate-flipped-data.tif"] = (lambda b: b[:40] + bytes([b[40] ^ 0x55]) + b[41:])(build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8), rps=H))
    for tag in (256, 257, 273, 258):
        t = base(2, 8, 3, 8)
        t[tag] = None
        bad["missing-%d-deflate.tif" % tag] = build(W, H, deflate(rows_to_strips(rows(c8), H)), t, rps=H)
        t = base(2, 8, 3)
        t[tag] = None
        bad["missing-%d-raw.tif" % tag] = build(W, H, rows_to_strips(rows(c8), H), t, rps=H)
    t = base(3, 8, 1)
    bad["palette-missing-colormap.tif"] = build(W, H, rows_to_strips(rows(pattern(W, H, 1)[:, :, 0]), H), t, rps=H)
    bad["bad-compression.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, 12345), rps=H)
    bad["bad-photometric.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(9, 8, 3), rps=H)
    bad["bad-bps-mismatch.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, more={258: (SHORT, [8, 8])}), rps=H)
    bad["spp-too-many.tif"] = build(W, H, rows_to_strips(rows(c8), H), base(2, 8, 3, more={277: (SHORT, [9])}), rps=H)
    bad["width-short-type-deflate.tif"] = build(W, H, deflate(rows_to_strips(rows(c8), H)), base(2, 8, 3, 8, more={256: (SHORT, [W])}), rps=H)
    bad["planar-bits4-deflate.tif"] = build(W, H, deflate([b"\x55" * 300] * 3), base(2, 4, 3, 8, planar=2), rps=H)
    bad["huge-tile-deflate.tif"] = build(16, 16, [zlib.compress(bytes(16 * 16 * 3))], base(2, 8, 3, 8), tiled=(16384, 16384))
    bad["huge-rowsperstrip-deflate.tif"] = build(16, 16, [zlib.compress(bytes(100))], base(2, 8, 3, 8), rps=40000000)
    bad["garbage-ifd.tif"] = b"II*\x00\x08\x00\x00\x00" + bytes(rng.integers(0, 256, 300, dtype=np.uint8))
    bad["ifd-offset-past-end.tif"] = b"II*\x00\xff\xff\x00\x00" + b"\x00" * 40
    bad["header-only.tif"] = b"MM\x00*\x00\x00\x00\x08"
    bad["bigtiff-short-header.tif"] = b"II+\x00\x08\x00\x00\x00\x10\x00"
    flipped = bytearray(good["rgb-lzw.tif"])
    ifd = struct.unpack("<L", flipped[4:8])[0]
    for k, at in enumerate((ifd + 2 + 12 * 3 + 9, ifd + 2 + 12 * 1 + 8, ifd + 5)):
        b = bytearray(flipped)
        b[at] ^= 0x40
        bad["flipped-ifd-lzw-%d.tif" % k] = bytes(b)
    zero = bytearray(good["rgb-raw.tif"])
    ifd = struct.unpack("<L", zero[4:8])[0]
    zero[ifd:ifd + 2] = b"\x00\x00"
    bad["ifd-zero-entries.tif"] = bytes(zero)
    bad["tile-missing-width.tif"] = build(32, 16, [bytes(32 * 16 * 3)], base(2, 8, 3, more={322: None}), tiled=(32, 16))
    bad["rgb-jpeg-garbage-strip.tif"] = build(W2, H2, [b"\xff\xd8" + bytes(rng.integers(0, 256, 400, dtype=np.uint8))], base(6, 8, 3, 7), rps=H2)

    # Tag values of the wrong type, as Pillow reads them: int() of an ASCII
    # or digit-bytes ImageWidth works (raw path only: libtiff refuses it),
    # an ASCII enum name is its number (cvt_enum), BYTE values are bytes
    # (ints when iterated), floats and rationals are no file offsets or
    # tile coordinates, a float ColorMap fails o8, and XResolution as text
    # with ResolutionUnit cm fails the dpi arithmetic.
    raw1 = [b"".join(rows(c8))]
    def one(more, comp=1, blocks=None, **kw):
        blk = blocks if blocks is not None else raw1
        if comp == 8:
            blk = deflate(blk)
        kw.setdefault("rps", H)
        return build(W, H, blk, base(2, 8, 3, comp, more=more), **kw)
    good["type-width-ascii-raw.tif"] = one({256: (ASCII, b"23\0")})
    good["type-height-ascii-nonul-raw.tif"] = one({257: (ASCII, b"17")})
    good["type-width-ascii-padded-raw.tif"] = one({256: (ASCII, b" 23 \0")})
    good["type-width-ascii-underscore-raw.tif"] = one({256: (ASCII, b"2_3\0")})
    good["type-width-ascii-nbsp-raw.tif"] = one({256: (ASCII, b"\xa023\x85\0")})
    good["type-width-bytes-digits-raw.tif"] = one({256: (BYTE, b"23")})
    good["type-height-undefined-digits-raw.tif"] = one({257: (UNDEF, b"17")})
    good["type-width-double-raw.tif"] = one({256: (DOUBLE, [23.0])})
    good["type-width-sbyte-deflate.tif"] = one({256: (SBYTE, [23])}, 8)
    good["type-compression-name-raw.tif"] = one({259: (ASCII, b"Uncompressed\0")})
    good["type-photometric-name-raw.tif"] = one({262: (ASCII, b"RGB\0")})
    good["type-photometric-name-deflate.tif"] = one({262: (ASCII, b"RGB\0")}, 8)
    good["type-planar-name-separate-raw.tif"] = one({284: (ASCII, b"Separate\0")}, blocks=[b"".join(r.tobytes() for r in c8[:, :, k]) for k in range(3)])
    good["type-sampleformat-byte3-raw.tif"] = one({339: (BYTE, [1, 1, 1])})
    good["type-sampleformat-byte3-deflate.tif"] = one({339: (BYTE, [1, 1, 1])}, 8)
    good["type-stripoffsets-byte-raw.tif"] = one({273: (BYTE, [8])})
    good["type-stripbytecounts-ascii-raw.tif"] = one({279: (ASCII, b"8\0")})
    good["type-orient-ascii6-raw.tif"] = one({274: (ASCII, b"6\0")})
    good["type-orient-byte6-deflate.tif"] = one({274: (BYTE, [6])}, 8)
    good["type-orient-double6-raw.tif"] = one({274: (DOUBLE, [6.0])})
    good["type-rowsperstrip-double-over-height-raw.tif"] = one({278: (DOUBLE, [40.0])})
    good["type-resolution-ascii-inch-raw.tif"] = one({282: (ASCII, b"72\0"), 283: (RATIONAL, [(72, 1)]), 296: (SHORT, [2])})
    good["type-resolution-ascii-nounit-deflate.tif"] = one({282: (ASCII, b"72\0"), 283: (RATIONAL, [(72, 1)])}, 8)
    good["type-resolution-zero-cm-raw.tif"] = one({282: (RATIONAL, [(0, 1)]), 283: (ASCII, b"72\0"), 296: (SHORT, [3])})
    gl = pattern(W, H, 1)[:, :, 0]
    ramp = list(range(0, 65536, 256))
    def palfile(cmap, comp=1):
        blk = [b"".join(rows(gl))]
        if comp == 8:
            blk = deflate(blk)
        return build(W, H, blk, base(3, 8, 1, comp, more={320: cmap}), rps=H)
    good["type-colormap-byte-raw.tif"] = palfile((BYTE, [v >> 8 for v in ramp] * 3))
    good["type-colormap-rational-deflate.tif"] = palfile((RATIONAL, [(v, 1) for v in ramp[::-1]] * 3), 8)
    bad["type-colormap-double-raw.tif"] = palfile((DOUBLE, [float(v) for v in ramp] * 3))
    bad["type-colormap-double-deflate.tif"] = palfile((DOUBLE, [float(v) for v in ramp] * 3), 8)
    good["type-l-rowsperstrip-rational-mmap.tif"] = build(W, H, [b"".join(rows(gl))], base(1, 8, 1, more={278: (RATIONAL, [(H, 1)])}), rps=H)
    bad["type-l-rowsperstrip-rational-strips.tif"] = build(W, H, rows_to_strips(rows(gl), 5), base(1, 8, 1, more={278: (RATIONAL, [(5, 1)])}), rps=5)
    t32 = [b"".join(rows(pattern(32, 16, 3)))]
    good["type-tilewidth-double-edge-raw.tif"] = build(30, 16, t32, base(2, 8, 3, more={322: (DOUBLE, [32.0])}), tiled=(32, 16))
    bad["type-tilelength-rational-raw.tif"] = build(32, 16, t32, base(2, 8, 3, more={323: (RATIONAL, [(16, 1)])}), tiled=(32, 16))
    good["type-tilelength-rational-over-height-raw.tif"] = build(32, 16, t32, base(2, 8, 3, more={323: (RATIONAL, [(32, 1)])}), tiled=(32, 16))
    good["type-tilewidth-byte-deflate.tif"] = build(32, 16, deflate(t32), base(2, 8, 3, 8, more={322: (BYTE, [32])}), tiled=(32, 16))
    good["type-tileoffsets-byte-raw.tif"] = build(32, 16, t32, base(2, 8, 3, more={324: (BYTE, [8])}), tiled=(32, 16))
    bad["type-tilewidth-double-raw.tif"] = build(32, 16, t32, base(2, 8, 3, more={322: (DOUBLE, [32.0])}), tiled=(32, 16))
    bad["type-tilewidth-ascii-raw.tif"] = build(32, 16, t32, base(2, 8, 3, more={322: (ASCII, b"32\0")}), tiled=(32, 16))
    bad["type-tilewidth-ascii-deflate.tif"] = build(32, 16, deflate(t32), base(2, 8, 3, 8, more={322: (ASCII, b"32\0")}), tiled=(32, 16))
    bad["type-width-ascii-deflate.tif"] = one({256: (ASCII, b"23\0")}, 8)
    bad["type-width-byte-raw.tif"] = one({256: (BYTE, [23])})
    bad["type-width-undefined-raw.tif"] = one({256: (UNDEF, [23])})
    bad["type-width-ascii-empty-raw.tif"] = one({256: (ASCII, b"\0")})
    bad["type-width-ascii-2nul-raw.tif"] = one({256: (ASCII, b"23\0\0")})
    bad["type-width-bytes-nbsp-raw.tif"] = one({256: (BYTE, b"\xa023")})
    bad["type-compression-ascii1-raw.tif"] = one({259: (ASCII, b"1\0")})
    bad["type-compression-byte-raw.tif"] = one({259: (BYTE, [1])})
    bad["type-compression-name-jpeg.tif"] = one({259: (ASCII, b"JPEG\0")})
    bad["type-photometric-ascii2-raw.tif"] = one({262: (ASCII, b"2\0")})
    bad["type-photometric-byte-deflate.tif"] = one({262: (BYTE, [2])}, 8)
    bad["type-bitspersample-byte-raw.tif"] = one({258: (BYTE, [8, 8, 8])})
    bad["type-bitspersample-ascii-deflate.tif"] = one({258: (ASCII, b"8\0")}, 8)
    bad["type-sampleformat-byte1-raw.tif"] = one({339: (BYTE, [1])})
    bad["type-extrasamples-ascii-empty-raw.tif"] = one({338: (ASCII, b"\0")})
    bad["type-samplesperpixel-ascii-raw.tif"] = one({277: (ASCII, b"3\0")})
    bad["type-stripoffsets-ascii-raw.tif"] = one({273: (ASCII, b"8\0")})
    bad["type-stripoffsets-undefined-raw.tif"] = one({273: (UNDEF, [8])})
    bad["type-stripoffsets-double-raw.tif"] = one({273: (DOUBLE, [8.0])})
    bad["type-stripoffsets-rational-raw.tif"] = one({273: (RATIONAL, [(8, 1)])})
    bad["type-stripbytecounts-ascii-deflate.tif"] = one({279: (ASCII, b"8\0")}, 8)
    bad["type-rowsperstrip-ascii-raw.tif"] = one({278: (ASCII, b"17\0")})
    bad["type-rowsperstrip-double-raw.tif"] = one({278: (DOUBLE, [17.0])})
    bad["type-rowsperstrip-rational-deflate.tif"] = one({278: (RATIONAL, [(5, 1)])}, 8)
    bad["type-resolution-ascii-cm-raw.tif"] = one({282: (ASCII, b"72\0"), 283: (RATIONAL, [(72, 1)]), 296: (SHORT, [3])})
    bad["type-resolution-byte-cm-deflate.tif"] = one({282: (RATIONAL, [(72, 1)]), 283: (BYTE, [72]), 296: (SHORT, [3])}, 8)
    bad["type-resolutionunit-name-cm-raw.tif"] = one({282: (UNDEF, b"72"), 283: (RATIONAL, [(72, 1)]), 296: (ASCII, b"cm\0")})
    bad["type-resolutionunit-double3-raw.tif"] = one({282: (ASCII, b"72\0"), 296: (DOUBLE, [3.0])})

    # Exif (0x8769), GPS (0x8825) and Interop (0xA005) IFD pointers: on a
    # file of one frame load_end reads them (getexif, get_ifd); a negative
    # or 2^63+ pointer fails the load, a float, str or bytes one is
    # skipped, one past the end or back at IFD0 reads as it can. Pillow
    # does not look at them in a file of several frames.
    def withexif(more, comp=1, trailer=b"", big=False):
        return one(more, comp, trailer=trailer, big=big)
    for name, tag in (("exif", 34665), ("gps", 34853)):
        bad["%s-ptr-sshort-neg-raw.tif" % name] = withexif({tag: (SSHORT, [-5])})
        bad["%s-ptr-slong-neg-deflate.tif" % name] = withexif({tag: (SLONG, [-100])}, 8)
        good["%s-ptr-past-end-raw.tif" % name] = withexif({tag: (LONG, [0xFFFFFFF0])})
        good["%s-ptr-ascii-deflate.tif" % name] = withexif({tag: (ASCII, b"8\0")}, 8)
        good["%s-ptr-rational-raw.tif" % name] = withexif({tag: (RATIONAL, [(8, 1)])})
    bad["exif-ptr-sbyte-neg-raw.tif"] = withexif({34665: (SBYTE, [-1])})
    bad["exif-ptr-slong2-neg-raw.tif"] = withexif({34665: (SLONG, [-4, 8])})
    good["exif-ptr-zero-raw.tif"] = withexif({34665: (LONG, [0])})
    good["exif-ptr-byte-raw.tif"] = withexif({34665: (BYTE, [8])})
    ifd0 = 8 + len(raw1[0])
    good["exif-ptr-loop-ifd0-raw.tif"] = withexif({34665: (LONG, [ifd0])})
    good["gps-ptr-loop-ifd0-deflate.tif"] = withexif({34853: (LONG, [8 + len(deflate(raw1)[0])])}, 8)
    sub_at = len(withexif({34665: (LONG, [0])}))
    exif_ifd = struct.pack("<HHHL4sL", 1, 0x9000, 7, 4, b"0230", 0)
    good["exif-ptr-valid-raw.tif"] = withexif({34665: (LONG, [sub_at])}, trailer=exif_ifd)
    interop_neg = struct.pack("<HHHLlL", 1, 40965, SLONG, 1, -8, 0)
    interop_ok = struct.pack("<HHHLlL", 1, 40965, SLONG, 1, 8, 0)
    # the Exif IFD's own Interop pointer is only read if IFD0 has one too
    good["exif-interop-neg-unread-raw.tif"] = withexif({34665: (LONG, [sub_at])}, trailer=interop_neg)
    sub_at2 = len(withexif({34665: (LONG, [0]), 40965: (LONG, [8])}))
    good["interop-ptr-ok-raw.tif"] = withexif({34665: (LONG, [sub_at2]), 40965: (LONG, [8])}, trailer=interop_ok)
    bad["interop-ptr-neg-raw.tif"] = withexif({34665: (LONG, [sub_at2]), 40965: (LONG, [8])}, trailer=interop_neg)
    bad["interop-without-exif-raw.tif"] = withexif({40965: (LONG, [8])})
    bad["interop-exif-lacks-it-raw.tif"] = withexif({34665: (LONG, [sub_at2]), 40965: (LONG, [8])}, trailer=exif_ifd)
    good["bigtiff-exif-ptr-past-end.tif"] = withexif({34665: (LONG8, [2 ** 40])}, big=True)
    bad["bigtiff-exif-ptr-2e63.tif"] = withexif({34665: (LONG8, [2 ** 63 + 5])}, big=True)
    bad["bigtiff-exif-ptr-max.tif"] = withexif({34665: (LONG8, [2 ** 64 - 1])}, 8, big=True)
    big_desc = bytearray(withexif({270: (ASCII, b"a description, long\0")}, big=True))
    at = big_desc.find(struct.pack("<HHQ", 270, ASCII, 20))
    big_desc[at + 12:at + 20] = struct.pack("<Q", 2 ** 63 + 1)
    bad["bigtiff-tag-data-offset-2e63.tif"] = bytes(big_desc)
    # Several frames: is_animated, so load_end leaves the Exif pointer alone.
    def next_to(d, nxt):
        d = bytearray(d)
        ifd = struct.unpack("<L", d[4:8])[0]
        n = struct.unpack("<H", d[ifd:ifd + 2])[0]
        d[ifd + 2 + 12 * n:ifd + 6 + 12 * n] = struct.pack("<L", nxt)
        return bytes(d)
    neg = withexif({34665: (SSHORT, [-5])})
    negifd = struct.unpack("<L", neg[4:8])[0]
    good["exif-ptr-neg-2frames.tif"] = next_to(neg + neg, len(neg) + negifd)
    good["gps-ptr-neg-next-past-end.tif"] = next_to(withexif({34853: (SLONG, [-100])}), 1 << 20)
    bad["exif-ptr-neg-next-is-ifd0.tif"] = next_to(neg, negifd)

    # Odd layouts: overlapping strips, StripByteCounts missing,
    # PlanarConfiguration 0 and 3, SamplesPerPixel 0, a huge tag count.
    strips6 = rows_to_strips(rows(c8), 6)
    good["strips-overlap-raw.tif"] = build(W, H, strips6, base(2, 8, 3), rps=6, offsets=[8, 8, 8])
    good["strips-overlap-deflate.tif"] = build(W, H, deflate(strips6), base(2, 8, 3, 8), rps=6, offsets=[8, 8, 8])
    good["bytecounts-missing-raw.tif"] = one({279: None})
    good["bytecounts-missing-deflate.tif"] = one({279: None}, 8)
    good["planar3-raw.tif"] = one({284: (SHORT, [3])})
    bad["planar3-deflate.tif"] = one({284: (SHORT, [3])}, 8)
    bad["planar0-deflate.tif"] = one({284: (SHORT, [0])}, 8)
    bad["planar0-separate-data-raw.tif"] = one({284: (SHORT, [0])}, blocks=[b"".join(r.tobytes() for r in c8[:, :, k]) for k in range(3)])
    bad["spp0-raw.tif"] = one({277: (SHORT, [0])})
    bad["spp0-deflate.tif"] = one({277: (SHORT, [0])}, 8)
    for name, tag, ok in (("before", 270, False), ("after", 33432, True)):
        d = bytearray(one({tag: (ASCII, b"hi\0")}))
        at = d.find(struct.pack("<HHL", tag, ASCII, 3))
        d[at + 4:at + 8] = struct.pack("<L", 0x7FFFFFFF)
        (good if ok else bad)["huge-count-%s-strips.tif" % name] = bytes(d)

    total = 0
    for name, data in sorted({**good, **bad}.items()):
        save(name, data)
        total += len(data)
    print("%d files, %d bytes" % (len(good) + len(bad), total))


main()
shutil.rmtree(TMP)
