"""Writes the BMP corpus: featurize/testdata/corpus/bmp/.

Run with /usr/bin/python3 (Debian's, with Pillow 9.4, the judge). Every
file is built byte by byte here (Pillow writes only a few BMP variants):
each header version (OS/2 v1 and v2, Windows v3/v4/v5), every bit depth,
RLE4/RLE8 with every escape, bitfields layouts, palettes of every kind
(grey ramps that Pillow reads as "1"/"L", short, long, out-of-range
indexes), odd offsets and plane counts, and damaged files (truncations,
bad sizes and counts, flipped header bytes) that Pillow refuses or,
sometimes, still decodes. Deterministic: fixed seeds, no timestamps.
"""
import os
import random
import struct
import sys

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                   "featurize", "testdata", "corpus", "bmp")

RNG = random.Random(12)


def stride(w, bits):
    return ((w * bits + 31) >> 3) & ~3


def pack_row(vals, bits):
    """Packs pixel values (indexes, or byte tuples for >= 16 bits) into a
    padded BMP row."""
    out = bytearray()
    if bits in (1, 4):
        per = 8 // bits
        for i in range(0, len(vals), per):
            b = 0
            for j, v in enumerate(vals[i:i + per]):
                b |= (v & ((1 << bits) - 1)) << (8 - bits * (j + 1))
            out.append(b)
    elif bits == 8:
        out += bytes(vals)
    else:
        for v in vals:
            out += bytes(v)
    n = stride(len(vals), bits)
    return bytes(out + b"\0" * (n - len(out)))


def image_rows(w, h, bits, ncolors=None, alpha=False, gen=None):
    """Bottom-up rows of a deterministic test pattern."""
    rng = gen or random.Random(w * 131 + h * 7 + bits)
    rows = []
    for y in range(h):
        vals = []
        for x in range(w):
            if bits <= 8:
                n = ncolors or (1 << bits)
                vals.append((x + 2 * y + rng.randrange(2)) % n)
            elif bits == 16:
                v = (x * 2000 + y * 777 + rng.randrange(64)) & 0xFFFF
                vals.append(struct.pack("<H", v))
            elif bits == 24:
                vals.append((x * 19 % 256, y * 23 % 256, rng.randrange(256)))
            else:
                a = rng.choice([0, 255, rng.randrange(256)]) if alpha else 0
                vals.append((x * 19 % 256, y * 23 % 256, rng.randrange(256), a))
        rows.append(pack_row(vals, bits))
    return b"".join(rows)


def palette(n, pad=4, grey_ramp=False, seed=1):
    rng = random.Random(seed)
    out = bytearray()
    for i in range(n):
        if grey_ramp:
            e = [i & 255] * 3
        else:
            e = [rng.randrange(256), rng.randrange(256), rng.randrange(256)]
        out += bytes(e) + (b"\0" if pad == 4 else b"")
    return bytes(out)


def info_header(w, h, bits, comp=0, colors=0, size=40, planes=1, masks=None,
                height_raw=None):
    hh = struct.pack("<i", h) if height_raw is None else struct.pack("<I", height_raw)
    b = struct.pack("<IIH", size, w & 0xFFFFFFFF, 0)[:8] + hh
    b += struct.pack("<HHIIiiII", planes, bits, comp, 0, 2835, 2835, colors, 0)
    ext = b""
    if size >= 52 and masks is not None:
        ext = struct.pack("<4I", *masks)
    b += ext
    b += b"\0" * (size - len(b))
    return b[:size]


def bmp(hdr, pal=b"", pixels=b"", extra=b"", offset=None):
    """File header + info header + extra (masks) + palette + pixels."""
    off = 14 + len(hdr) + len(extra) + len(pal) if offset is None else offset
    body = hdr + extra + pal + pixels
    return b"BM" + struct.pack("<IHHI", 14 + len(body), 0, 0, off) + body


def os2_header(w, h, bits, planes=1):
    return struct.pack("<IHHHH", 12, w, h, planes, bits)


# RLE encoders: simple, with each escape where asked.

def rle8_encode(rows, w, absolute=True):
    out = bytearray()
    for row in rows:
        x = 0
        while x < w:
            run = 1
            while x + run < w and row[x + run] == row[x] and run < 255:
                run += 1
            if run >= 3 or not absolute:
                out += bytes([run, row[x]])
                x += run
                continue
            # absolute run of the next few differing pixels
            n = min(w - x, 255)
            k = 0
            while k < n and not (k + 2 < n and row[x + k] == row[x + k + 1] == row[x + k + 2]):
                k += 1
            if k < 3:
                out += bytes([1, row[x]])
                x += 1
                continue
            out += bytes([0, k]) + bytes(row[x:x + k])
            if k % 2:
                out += b"\0"
            x += k
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


def rle4_encode(rows, w, absolute=True):
    out = bytearray()
    for row in rows:
        x = 0
        while x < w:
            if absolute and w - x >= 6 and len(set(row[x:x + 6])) > 2:
                k = 6
                out += bytes([0, k])
                for i in range(0, k, 2):
                    out.append(row[x + i] << 4 | row[x + i + 1])
                out += b"\0"  # 3 bytes: pad to a word
                x += k
                continue
            a = row[x]
            b = row[x + 1] if x + 1 < w else 0
            run = 1
            while x + run < w and run < 255 and row[x + run] == (a if run % 2 == 0 else b):
                run += 1
            out += bytes([run, a << 4 | b])
            x += run
        out += b"\0\0"
    out += b"\0\1"
    return bytes(out)


def index_rows(w, h, n, seed):
    rng = random.Random(seed)
    rows = []
    for y in range(h):
        row = []
        while len(row) < w:
            v = rng.randrange(n)
            row += [v] * rng.choice([1, 1, 2, 4, 7])
        rows.append(row[:w])
    return rows


FILES = {}


def add(name, data):
    assert name not in FILES, name
    FILES[name] = data


def build():
    W, H = 13, 9

    # ---- paletted, raw
    for bits, w, h in ((1, 19, 7), (4, 13, 9), (8, 17, 11)):
        n = 1 << bits
        add(f"pal{bits}.bmp", bmp(info_header(w, h, bits, colors=n),
                                  palette(n, seed=bits), image_rows(w, h, bits)))
    # 2-bit (4 colours) is valid BMP, and Go's x/image/bmp reads it; Pillow
    # does not.
    add("pal2-bits2.bmp", bmp(info_header(13, 9, 2, colors=4), palette(4, seed=2),
                              b"".join(bytes([0x1B, 0xE4, 0x6C, 0x93]) for _ in range(9))))
    add("pal1-bw.bmp", bmp(info_header(19, 7, 1), bytes([0, 0, 0, 0, 255, 255, 255, 0]),
                           image_rows(19, 7, 1)))
    add("pal1-wb.bmp", bmp(info_header(19, 7, 1), bytes([255, 255, 255, 0, 0, 0, 0, 0]),
                           image_rows(19, 7, 1)))
    add("pal8-grey-ramp.bmp", bmp(info_header(17, 11, 8), palette(256, grey_ramp=True),
                                  image_rows(17, 11, 8)))
    add("pal8-grey-17.bmp", bmp(info_header(17, 11, 8, colors=17), palette(17, grey_ramp=True),
                                image_rows(17, 11, 8, ncolors=17)))
    # A 16-step grey that is not Pillow's ramp (i*17): stays "P".
    add("pal4-grey-x17.bmp", bmp(info_header(13, 9, 4, colors=16),
                                 b"".join(bytes([i * 17] * 3 + [0]) for i in range(16)),
                                 image_rows(13, 9, 4)))
    # A 0..15 grey ramp makes "L" read byte per pixel from 4-bit rows:
    # memory-mapped, overlapping rows.
    add("pal4-grey-ramp-mapped.bmp", bmp(info_header(13, 9, 4, colors=16),
                                         palette(16, grey_ramp=True), image_rows(13, 9, 4)))
    # ... same, one byte short of the mapping: the raw decoder refuses.
    add("pal4-grey-ramp-short.bmp", bmp(info_header(13, 9, 4, colors=16),
                                        palette(16, grey_ramp=True), image_rows(13, 9, 4)[:-1]))
    add("pal4-grey-ramp-w3.bmp", bmp(info_header(3, 5, 4, colors=16),
                                     palette(16, grey_ramp=True), image_rows(3, 5, 4)[:-1]))
    add("pal1-grey-ramp256.bmp", bmp(info_header(40, 6, 1, colors=256),
                                     palette(256, grey_ramp=True),
                                     image_rows(40, 6, 1) + bytes(range(7, 250, 7))))
    # Two-colour black/white palettes make mode "1", whatever the depth.
    bw = bytes([0, 0, 0, 0, 255, 255, 255, 0])
    add("pal8-bw2.bmp", bmp(info_header(17, 11, 8, colors=2), bw, image_rows(17, 11, 8, ncolors=256)))
    add("pal4-bw2.bmp", bmp(info_header(13, 9, 4, colors=2), bw, image_rows(13, 9, 4)))
    add("pal8-2colour.bmp", bmp(info_header(17, 11, 8, colors=2), palette(2, seed=5),
                                image_rows(17, 11, 8, ncolors=2)))
    add("pal8-1colour-black.bmp", bmp(info_header(17, 11, 8, colors=1), bytes(4),
                                      image_rows(17, 11, 8, ncolors=4)))
    # Indexes past a short palette read Pillow's grey ramp.
    add("pal8-short-palette.bmp", bmp(info_header(17, 11, 8, colors=6), palette(6, seed=6),
                                      image_rows(17, 11, 8)))
    add("pal4-short-palette.bmp", bmp(info_header(13, 9, 4, colors=5), palette(5, seed=7),
                                      image_rows(13, 9, 4)))
    # More entries than 256: an error unless they are a grey ramp ("L").
    add("pal8-colors300.bmp", bmp(info_header(17, 11, 8, colors=300), palette(300, seed=8),
                                  image_rows(17, 11, 8)))
    add("pal8-colors300-grey.bmp", bmp(info_header(17, 11, 8, colors=300),
                                       palette(300, grey_ramp=True), image_rows(17, 11, 8)))
    add("pal8-colors70000.bmp", bmp(info_header(17, 11, 8, colors=70000), palette(256, seed=9),
                                    image_rows(17, 11, 8)))
    add("pal8-topdown.bmp", bmp(info_header(17, 11, 8, colors=256, height_raw=(-11) & 0xFFFFFFFF),
                                palette(256, seed=10), image_rows(17, 11, 8)))
    # Offsets: 0 (pixels follow the palette), a gap, into the palette.
    add("pal8-offset0.bmp", bmp(info_header(17, 11, 8, colors=20), palette(20, seed=11),
                                image_rows(17, 11, 8, ncolors=20), offset=0))
    p = palette(20, seed=11)
    add("pal8-offset-gap.bmp", bmp(info_header(17, 11, 8, colors=20), p,
                                   b"\xAA" * 10 + image_rows(17, 11, 8, ncolors=20),
                                   offset=14 + 40 + len(p) + 10))
    add("pal8-offset-inside-palette.bmp", bmp(info_header(17, 11, 8, colors=20), p,
                                              image_rows(17, 11, 8, ncolors=20), offset=14 + 40 + 8))
    add("pal8-offset-past-end.bmp", bmp(info_header(17, 11, 8, colors=20), p,
                                        image_rows(17, 11, 8, ncolors=20), offset=100000))
    # Offset 54 with a palette: Pillow skips 4*colors itself.
    add("pal8-offset-headerend.bmp", bmp(info_header(17, 11, 8, colors=20), p,
                                         image_rows(17, 11, 8, ncolors=20), offset=54))
    add("pal8-planes0.bmp", bmp(info_header(17, 11, 8, planes=0), palette(256, seed=12),
                                image_rows(17, 11, 8)))
    add("pal8-no-palette-bytes.bmp", bmp(info_header(17, 11, 8, colors=16), b"",
                                         b"", offset=0))

    # ---- OS/2
    for bits, w, h in ((1, 19, 7), (4, 13, 9), (8, 17, 11)):
        n = 1 << bits
        add(f"os2v1-pal{bits}.bmp", bmp(os2_header(w, h, bits), palette(n, pad=3, seed=20 + bits),
                                        image_rows(w, h, bits)))
    add("os2v1-rgb24.bmp", bmp(os2_header(W, H, 24), b"", image_rows(W, H, 24)))
    # Offset 26 (header end): Pillow skips 4 bytes per entry, not 3.
    add("os2v1-pal8-offset26.bmp", bmp(os2_header(17, 11, 8), palette(256, pad=3, seed=28),
                                       image_rows(17, 11, 8) + bytes(256), offset=26))
    add("os2v1-grey-ramp.bmp", bmp(os2_header(17, 11, 8), palette(256, pad=3, grey_ramp=True),
                                   image_rows(17, 11, 8)))
    add("os2v2-pal8.bmp", bmp(info_header(17, 11, 8, size=64), palette(256, seed=30),
                              image_rows(17, 11, 8)))
    add("os2v2-rgb24.bmp", bmp(info_header(W, H, 24, size=64), b"", image_rows(W, H, 24)))

    # ---- true colour
    add("rgb24.bmp", bmp(info_header(W, H, 24), b"", image_rows(W, H, 24)))
    add("rgb24-topdown.bmp", bmp(info_header(W, H, 24, height_raw=(-H) & 0xFFFFFFFF), b"",
                                 image_rows(W, H, 24)))
    add("rgb24-v5.bmp", bmp(info_header(W, H, 24, size=124), b"", image_rows(W, H, 24)))
    add("rgb24-bitfields.bmp", bmp(info_header(W, H, 24, comp=3), b"", image_rows(W, H, 24),
                                   extra=struct.pack("<3I", 0xFF0000, 0xFF00, 0xFF)))
    add("rgb24-bitfields-rgb.bmp", bmp(info_header(W, H, 24, comp=3), b"", image_rows(W, H, 24),
                                       extra=struct.pack("<3I", 0xFF, 0xFF00, 0xFF0000)))
    add("rgb16-555.bmp", bmp(info_header(W, H, 16), b"", image_rows(W, H, 16)))
    add("rgb16-555-bitfields.bmp", bmp(info_header(W, H, 16, comp=3), b"", image_rows(W, H, 16),
                                       extra=struct.pack("<3I", 0x7C00, 0x3E0, 0x1F)))
    add("rgb16-565-bitfields.bmp", bmp(info_header(W, H, 16, comp=3), b"", image_rows(W, H, 16),
                                       extra=struct.pack("<3I", 0xF800, 0x7E0, 0x1F)))
    add("rgb16-565-v4.bmp", bmp(info_header(W, H, 16, comp=3, size=108, masks=(0xF800, 0x7E0, 0x1F, 0)),
                                b"", image_rows(W, H, 16)))
    add("rgb16-565-v4-topdown.bmp", bmp(info_header(W, H, 16, comp=3, size=108, masks=(0xF800, 0x7E0, 0x1F, 0),
                                                    height_raw=(-H) & 0xFFFFFFFF), b"", image_rows(W, H, 16)))
    add("rgb16-444-bitfields.bmp", bmp(info_header(W, H, 16, comp=3), b"", image_rows(W, H, 16),
                                       extra=struct.pack("<3I", 0xF00, 0xF0, 0xF)))
    # A 16-bit file with a (useless) palette before its pixels.
    add("rgb16-with-palette.bmp", bmp(info_header(W, H, 16, colors=16), palette(16, seed=40),
                                      image_rows(W, H, 16)))
    add("rgb32.bmp", bmp(info_header(W, H, 32), b"", image_rows(W, H, 32, alpha=True)))
    m = {"bgrx": (0xFF0000, 0xFF00, 0xFF, 0), "xbgr": (0xFF000000, 0xFF0000, 0xFF00, 0),
         "abgr": (0xFF000000, 0xFF0000, 0xFF00, 0xFF), "rgba": (0xFF, 0xFF00, 0xFF0000, 0xFF000000),
         "bgra": (0xFF0000, 0xFF00, 0xFF, 0xFF000000), "zero": (0, 0, 0, 0),
         "bad": (0xFF00, 0xFF0000, 0xFF000000, 0xFF)}
    for k, masks in m.items():
        for size in (108, 124):
            if size == 108 and k not in ("bgra", "xbgr"):
                continue
            add(f"rgb32-{k}-v{4 if size == 108 else 5}.bmp",
                bmp(info_header(W, H, 32, comp=3, size=size, masks=masks), b"",
                    image_rows(W, H, 32, alpha=True)))
    # 40-byte header: three masks follow it and alpha is always 0.
    for k in ("bgrx", "xbgr", "zero"):
        add(f"rgb32-{k}-v3.bmp", bmp(info_header(W, H, 32, comp=3), b"",
                                     image_rows(W, H, 32, alpha=True),
                                     extra=struct.pack("<3I", *m[k][:3])))
    add("rgb32-rgba-v4-topdown.bmp",
        bmp(info_header(W, H, 32, comp=3, size=108, masks=m["rgba"], height_raw=(-H) & 0xFFFFFFFF), b"",
            image_rows(W, H, 32, alpha=True)))
    add("os2v2-bitfields-bgra.bmp", bmp(info_header(W, H, 32, comp=3, size=64, masks=m["bgra"]), b"",
                                        image_rows(W, H, 32, alpha=True)))
    add("pal8-bitfields.bmp", bmp(info_header(17, 11, 8, comp=3), palette(256, seed=41),
                                  image_rows(17, 11, 8), extra=struct.pack("<3I", 0xE0, 0x1C, 0x3)))

    # ---- RLE
    rows8 = index_rows(23, 11, 40, seed=50)
    p40 = palette(40, seed=51)
    add("rle8.bmp", bmp(info_header(23, 11, 8, comp=1, colors=40), p40, rle8_encode(rows8, 23)))
    add("rle8-encoded-only.bmp", bmp(info_header(23, 11, 8, comp=1, colors=40), p40,
                                     rle8_encode(rows8, 23, absolute=False)))
    add("rle8-topdown.bmp", bmp(info_header(23, 11, 8, comp=1, colors=40, height_raw=(-11) & 0xFFFFFFFF),
                                p40, rle8_encode(rows8, 23)))
    add("rle8-grey.bmp", bmp(info_header(23, 11, 8, comp=1), palette(256, grey_ramp=True),
                             rle8_encode(rows8, 23)))
    add("rle8-bw-palette.bmp", bmp(info_header(23, 11, 8, comp=1, colors=2), bw,
                                   rle8_encode([[v & 1 for v in r] for r in rows8], 23)))
    rows4 = index_rows(21, 9, 16, seed=52)
    add("rle4.bmp", bmp(info_header(21, 9, 4, comp=2), palette(16, seed=53), rle4_encode(rows4, 21)))
    add("rle4-topdown.bmp", bmp(info_header(21, 9, 4, comp=2, height_raw=(-9) & 0xFFFFFFFF),
                                palette(16, seed=53), rle4_encode(rows4, 21)))
    add("rle4-encoded-only.bmp", bmp(info_header(21, 9, 4, comp=2), palette(16, seed=53),
                                     rle4_encode(rows4, 21, absolute=False)))
    add("rle4-bw-palette.bmp", bmp(info_header(21, 9, 4, comp=2, colors=2), bw,
                                   rle4_encode([[v & 1 for v in r] for r in rows4], 21)))
    # Hand-made streams: delta, early end of line, overlong runs, odd
    # absolute runs, end of bitmap early.
    hdr = info_header(10, 8, 8, comp=1, colors=40)
    s = (bytes([3, 5, 0, 2, 9, 9, 2, 1, 4, 7]) + b"\0\0"      # delta (Pillow reads 4 bytes)
         + bytes([200, 8]) + b"\0\0"                        # run past the row end
         + bytes([0, 5, 1, 2, 3, 4, 5, 0, 4, 9]) + b"\0\0"  # odd absolute + pad
         + bytes([0, 12]) + bytes(range(10, 22)) + bytes([3, 1]) + b"\0\0"  # absolute past row
         + bytes([2, 3]) + b"\0\0" + bytes([10, 30, 10, 31]) + b"\0\1")
    add("rle8-escapes.bmp", bmp(hdr, p40, s))
    add("rle8-escapes-odd-offset.bmp", bmp(hdr, p40, b"\x77" + s, offset=14 + 40 + len(p40) + 1))
    add("rle8-end-of-bitmap-early.bmp", bmp(hdr, p40, bytes([10, 3, 0, 0, 10, 4]) + b"\0\1"))
    add("rle8-truncated.bmp", bmp(hdr, p40, rle8_encode(index_rows(10, 6, 40, 54), 10)[:20]))
    add("rle8-no-eob.bmp", bmp(hdr, p40, rle8_encode(index_rows(10, 6, 40, 55), 10)[:-2]))
    add("rle8-delta-at-eof.bmp", bmp(hdr, p40, bytes([10, 3] * 5 + [0, 2, 1])))
    add("rle8-delta-short.bmp", bmp(hdr, p40, bytes([10, 3] * 5 + [0, 2, 1, 1, 5])))
    add("rle8-delta-fills.bmp", bmp(hdr, p40, bytes([10, 3, 0, 2, 0, 0, 0, 6, 10, 4])))
    add("rle8-rgb24.bmp", bmp(info_header(10, 6, 24, comp=1), b"", bytes([10, 3, 0, 0] * 6 + [0, 1])))
    h4 = info_header(11, 4, 4, comp=2)
    s4 = (bytes([5, 0x12, 0, 7, 0x34, 0x56, 0x78, 0x9A])  # odd absolute loses a pixel
          + b"\0\0" + bytes([0, 2, 0xFF, 0xFF, 3, 1])       # delta
          + bytes([20, 0xCD]) + b"\0\0" + bytes([11, 0xEF]) + b"\0\1")
    add("rle4-escapes.bmp", bmp(h4, palette(16, seed=56), s4))
    add("rle4-escapes-odd-offset.bmp", bmp(h4, palette(16, seed=56), b"\x00" + s4,
                                           offset=14 + 40 + 64 + 1))
    add("rle4-truncated.bmp", bmp(h4, palette(16, seed=56), s4[:12]))
    # An RLE header over 10000 x 10000 pixels and a few bytes.
    add("rle8-huge-short.bmp", bmp(info_header(10000, 10000, 8, comp=1, colors=2), palette(2, seed=57),
                                   bytes([255, 1, 0, 0, 0, 1])))

    add("rle4-grey-ramp.bmp", bmp(info_header(21, 9, 4, comp=2), palette(16, grey_ramp=True),
                                  rle4_encode(rows4, 21)))
    add("pal8-v5.bmp", bmp(info_header(17, 11, 8, size=124), palette(256, seed=60), image_rows(17, 11, 8)))
    add("rgb24-bitfields-v4.bmp", bmp(info_header(W, H, 24, comp=3, size=108, masks=(0xFF0000, 0xFF00, 0xFF, 0)),
                                      b"", image_rows(W, H, 24)))
    add("rgb16-555-v5-alphamask.bmp", bmp(info_header(W, H, 16, comp=3, size=124,
                                                      masks=(0x7C00, 0x3E0, 0x1F, 0x8000)), b"", image_rows(W, H, 16)))
    # Offset 54 with masks after a 40-byte header: the masks are read as pixels.
    add("rgb16-565-bitfields-offset54.bmp", bmp(info_header(W, H, 16, comp=3), b"", image_rows(W, H, 16) + bytes(12),
                                                extra=struct.pack("<3I", 0xF800, 0x7E0, 0x1F), offset=54))
    add("rgb24-height-1-topdown.bmp", bmp(info_header(W, 1, 24, height_raw=0xFFFFFFFF), b"", image_rows(W, 1, 24)))
    # 300 colours declared, but the file ends after 250: a 250-entry
    # palette is fine, and the pixels sit inside it.
    pal300 = palette(300, seed=61)[:1000]
    add("pal8-colors300-short-file.bmp", bmp(info_header(17, 11, 8, colors=300), pal300, b"", offset=62))
    add("os2v1-pal8-short-palette.bmp", bmp(os2_header(17, 11, 8), palette(256, pad=3, seed=62)[:301],
                                            image_rows(17, 11, 8)[:219], offset=26 + 8))

    # ---- damaged headers
    base = FILES["pal8.bmp"]
    rgb = FILES["rgb24.bmp"]
    for hs in (16, 41, 0xFFFFFFF0):
        add(f"bad-header-size-{hs}.bmp", base[:14] + struct.pack("<I", hs) + base[18:])
    for bits in (0, 2, 64):
        add(f"bad-bits-{bits}.bmp", rgb[:28] + struct.pack("<H", bits) + rgb[30:])
    for comp in (4, 6):
        add(f"bad-compression-{comp}.bmp", rgb[:30] + struct.pack("<I", comp) + rgb[34:])
    add("width0.bmp", rgb[:18] + struct.pack("<I", 0) + rgb[22:])
    add("height0.bmp", rgb[:22] + struct.pack("<I", 0) + rgb[26:])
    add("width-negative.bmp", rgb[:18] + struct.pack("<i", -13) + rgb[22:])
    add("height-negative-huge.bmp", rgb[:22] + struct.pack("<i", -20000000) + rgb[26:])
    add("huge-dimensions.bmp", rgb[:18] + struct.pack("<ii", 100000, 100000) + rgb[26:])
    add("large-dimensions-short.bmp", rgb[:18] + struct.pack("<ii", 6000, 5000) + rgb[26:])
    add("planes-ffff.bmp", rgb[:26] + struct.pack("<H", 0xFFFF) + rgb[28:])
    add("os2v1-width0.bmp", FILES["os2v1-pal8.bmp"][:18] + struct.pack("<H", 0) + FILES["os2v1-pal8.bmp"][20:])
    add("offset-zero-rgb24.bmp", rgb[:10] + struct.pack("<I", 0) + rgb[14:])
    add("offset-odd-rgb24.bmp", rgb[:10] + struct.pack("<I", 57) + rgb[14:])
    add("short-14.bmp", rgb[:14])
    add("magic-only.bmp", b"BM")

    # ---- truncations: header, palette, pixels, the last row's padding
    for n in (10, 53, 300, len(base) - 20, len(base) - 1):
        add(f"trunc-pal8-{n:04d}.bmp", base[:n])
    for n in (60, len(rgb) - 3, len(rgb) - 1):
        add(f"trunc-rgb24-{n:04d}.bmp", rgb[:n])
    r32 = FILES["rgb32-bgra-v5.bmp"]
    add(f"trunc-rgb32-bgra-{len(r32) - 4:04d}.bmp", r32[:-4])
    r16 = FILES["rgb16-565-bitfields.bmp"]
    add(f"trunc-rgb16-{len(r16) - 2:04d}.bmp", r16[:-2])
    add("trunc-rgb16-0062.bmp", r16[:62])
    p1 = FILES["pal1.bmp"]
    add(f"trunc-pal1-{len(p1) - 1:04d}.bmp", p1[:-1])
    add(f"trunc-pal1-{len(p1) - 3:04d}.bmp", p1[:-3])

    # ---- flipped header bytes (fixed seed)
    rng = random.Random(99)
    for src in ("pal8.bmp", "rgb24.bmp", "rle8.bmp", "rgb32-bgra-v4.bmp"):
        b = bytearray(FILES[src])
        for k in range(2):
            c = bytearray(b)
            i = rng.randrange(2, min(len(c), 70))
            c[i] ^= 1 << rng.randrange(8)
            add(f"flip-{src[:-4]}-{i:02d}-{k}.bmp", bytes(c))


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else OUT
    os.makedirs(out, exist_ok=True)
    for f in os.listdir(out):
        if f.endswith(".bmp"):
            os.remove(os.path.join(out, f))
    build()
    for name, data in sorted(FILES.items()):
        with open(os.path.join(out, name), "wb") as fh:
            fh.write(data)
    print(f"{len(FILES)} files, {sum(map(len, FILES.values()))} bytes in {out}")


if __name__ == "__main__":
    main()
