"""GIF corpus for featurize (featurize/testdata/corpus/gif/).

GIFs as Pillow 9.4 reads their first frame: palettes global, local, both,
neither (Pillow's "L" frames), identity grey ramps, short palettes with
indices past them, transparency inside and past the palette, interlacing,
frames offset, larger than the screen, outside it and of zero size, every
LZW minimum code size 0..12 and past it, extensions of every kind, and
damaged files (truncations, missing trailer, broken LZW, short blocks).
Deterministic: fixed seeds, bytes written by hand (and Pillow's encoder
for a few real LZW streams).

usage: /usr/bin/python3 tools/corpus/gif.py OUTDIR
"""
import io
import os
import random
import struct
import sys

from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else "featurize/testdata/corpus/gif"
os.makedirs(OUT, exist_ok=True)


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def pal(n, seed):
    r = random.Random(seed)
    return bytes(r.randrange(256) for _ in range(3 * n))


def ramp(n):
    return b"".join(bytes((i, i, i)) for i in range(n))


def bits_of(p):
    """Colour table size field for a palette of len(p)//3 entries."""
    n = len(p) // 3
    b = 0
    while (2 << b) < n:
        b += 1
    return b


def lzw_literals(indices, m, end_at=None):
    """An LZW stream of literal codes only, with a clear before the
    decoder's code width would grow: valid for any minimum code size,
    including 0, 1 and 9..12 (codes are m+1 bits throughout)."""
    clear, end = 1 << m, (1 << m) + 1
    width = m + 1
    seg = None if (m <= 1 or m >= 11) else (1 << m) - 2
    codes = [clear]
    run = 0
    for i, v in enumerate(indices):
        if i == end_at:
            codes.append(end)  # an end code mid-stream, the rest after it
        if seg is not None and run == seg:
            codes.append(clear)
            run = 0
        codes.append(v & (clear - 1) if clear > 1 else 0)
        run += 1
    codes.append(end)
    return pack(codes, width)


def lzw(indices, m):
    """A real LZW stream (strings, growing code width), as GIF encoders
    write it."""
    clear, end = 1 << m, (1 << m) + 1
    width = m + 1
    table = {(i,): i for i in range(clear)}
    nxt = clear + 2
    codes = []  # (code, width)
    codes.append((clear, width))
    w = ()
    for k in indices:
        wk = w + (k,)
        if wk in table:
            w = wk
            continue
        codes.append((table[w], width))
        if nxt < 4096:
            table[wk] = nxt
            nxt += 1
            if nxt > (1 << width) and width < 12:
                width += 1
        else:
            codes.append((clear, width))
            table = {(i,): i for i in range(clear)}
            nxt = clear + 2
            width = m + 1
        w = (k,)
    if w:
        codes.append((table[w], width))
    codes.append((end, width))
    return pack_widths(codes)


def pack(codes, width):
    """Codes of one width, LSB first."""
    return pack_widths((c, width) for c in codes)


def pack_widths(codes):
    """(code, width) pairs, LSB first."""
    acc = nbits = 0
    out = bytearray()
    for c, width in codes:
        acc |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 255)
            acc >>= 8
            nbits -= 8
    if nbits:
        out.append(acc & 255)
    return bytes(out)


def blocks(data, size=255):
    out = bytearray()
    for i in range(0, len(data), size):
        c = data[i:i + size]
        out += bytes((len(c),)) + c
    return bytes(out) + b"\x00"


def pattern(w, h, n, seed=0):
    return [((x * 7 + y * 3 + seed) // 2) % n for y in range(h) for x in range(w)]


def interlaced_order(pix, w, h):
    rows = []
    for start, step in ((0, 8), (4, 8), (2, 4), (1, 2)):
        rows += list(range(start, h, step))
    return [v for y in rows for v in pix[y * w:(y + 1) * w]]


def gce(trans=None, delay=10, size=4):
    flags = 1 if trans is not None else 0
    body = bytes((flags,)) + struct.pack("<H", delay) + bytes((trans or 0,))
    return b"\x21\xf9" + bytes((size,)) + body[:size] + b"\x00"


def gif(w, h, frames, glob=None, version=b"GIF89a", pre=b"", trailer=b";", bg=0):
    """frames: dicts with x, y, w, h, pix, local, interlace, m (min code
    size), ext (bytes before the descriptor), data (LZW bytes, overrides)."""
    out = bytearray(version + struct.pack("<HH", w, h))
    flags = 0x70
    if glob is not None:
        flags |= 0x80 | bits_of(glob)
    out += bytes((flags, bg, 0))
    if glob is not None:
        out += glob
    out += pre
    for f in frames:
        out += f.get("ext", b"")
        fw, fh = f.get("w", w), f.get("h", h)
        dflags = 0
        local = f.get("local")
        if local is not None:
            dflags |= 0x80 | bits_of(local)
        if f.get("interlace"):
            dflags |= 0x40
        out += b"," + struct.pack("<HHHH", f.get("x", 0), f.get("y", 0), fw, fh) + bytes((dflags,))
        if local is not None:
            out += local
        m = f.get("m", 8)
        out += bytes((m,))
        if "data" in f:
            out += f["data"]
            continue
        pix = f["pix"]
        if f.get("interlace"):
            pix = interlaced_order(pix, fw, fh)
        if f.get("literal"):
            data = lzw_literals(pix, m, f.get("end_at"))
        else:
            data = lzw(pix, m)
        out += blocks(data, f.get("block", 255))
    out += trailer
    return bytes(out)


def frame(w, h, n, m=8, seed=0, **kw):
    d = dict(w=w, h=h, pix=pattern(w, h, n, seed), m=m)
    d.update(kw)
    return d


# --- palettes --------------------------------------------------------------
P16, P256, P4 = pal(16, 1), pal(256, 2), pal(4, 3)
put("global-256.gif", gif(37, 23, [frame(37, 23, 256)], glob=P256))
put("global-16-gif87a.gif", gif(29, 17, [frame(29, 17, 16, m=4)], glob=P16, version=b"GIF87a"))
put("global-2-mincode2.gif", gif(21, 13, [frame(21, 13, 2, m=2)], glob=pal(2, 4)))
put("local-only-32.gif", gif(31, 19, [frame(31, 19, 32, m=5, local=pal(32, 5))]))
put("global-and-local.gif", gif(27, 15, [frame(27, 15, 16, m=4, local=pal(16, 6))], glob=P256))
put("no-palette.gif", gif(33, 21, [frame(33, 21, 256)]))
put("no-palette-trans.gif", gif(33, 21, [frame(33, 21, 256, ext=gce(77))]))
put("no-palette-mincode4.gif", gif(25, 11, [frame(25, 11, 16, m=4)]))
put("global-grey-ramp.gif", gif(35, 17, [frame(35, 17, 256)], glob=ramp(256)))
put("global-grey-ramp-16.gif", gif(35, 17, [frame(35, 17, 16, m=4)], glob=ramp(16)))
put("global-grey-ramp-trans.gif", gif(35, 17, [frame(35, 17, 256, ext=gce(9))], glob=ramp(256)))
put("global-grey-local-colour.gif", gif(23, 19, [frame(23, 19, 16, m=4, local=P16)], glob=ramp(256)))
put("global-colour-local-grey.gif", gif(23, 19, [frame(23, 19, 16, m=4, local=ramp(16))], glob=P256))
put("global-colour-local-grey-trans.gif",
    gif(23, 19, [frame(23, 19, 16, m=4, local=ramp(16), ext=gce(3))], glob=P256))
put("local-grey-only.gif", gif(23, 19, [frame(23, 19, 16, m=4, local=ramp(16))]))
put("grey-ramp-almost.gif", gif(23, 19, [frame(23, 19, 4, m=2)], glob=ramp(3) + b"\x03\x03\x04"))
put("short-palette-big-indices.gif", gif(31, 23, [frame(31, 23, 200)], glob=P4))
put("short-palette-trans-past.gif", gif(31, 23, [frame(31, 23, 200, ext=gce(150))], glob=P4))
put("trans-inside.gif", gif(31, 23, [frame(31, 23, 16, m=4, ext=gce(5))], glob=P16))
put("trans-past-palette.gif", gif(31, 23, [frame(31, 23, 16, m=4, ext=gce(200))], glob=P16))
put("trans-flag-off.gif", gif(31, 23, [frame(31, 23, 16, m=4, ext=gce(None))], glob=P16))
put("local-grey-no-global-trans.gif", gif(23, 19, [frame(23, 19, 16, m=4, local=ramp(16), ext=gce(2))]))

# --- geometry --------------------------------------------------------------
put("interlaced.gif", gif(29, 27, [frame(29, 27, 64, m=6, interlace=True)], glob=pal(64, 7)))
put("interlaced-3rows.gif", gif(19, 3, [frame(19, 3, 16, m=4, interlace=True)], glob=P16))
put("frame-offset.gif", gif(41, 33, [frame(17, 11, 16, m=4, x=9, y=13)], glob=P16))
put("frame-offset-trans.gif", gif(41, 33, [frame(17, 11, 16, m=4, x=20, y=3, ext=gce(4))], glob=P16))
put("frame-larger-than-screen.gif", gif(15, 11, [frame(27, 19, 16, m=4, x=3, y=2)], glob=P16))
put("frame-outside-screen.gif", gif(15, 11, [frame(9, 7, 16, m=4, x=30, y=20)], glob=P16))
put("screen-zero.gif", gif(0, 0, [frame(13, 9, 16, m=4)], glob=P16))
put("frame-zero-width.gif", gif(15, 11, [frame(0, 11, 16, m=4, x=0, data=blocks(lzw([1] * 10, 4)))], glob=P16))
put("frame-zero-width-x3.gif", gif(15, 11, [frame(0, 11, 16, m=4, x=3, data=blocks(lzw([1] * 10, 4)))], glob=P16))
put("frame-zero-height.gif", gif(15, 11, [frame(15, 0, 16, m=4, x=2, data=blocks(lzw([1] * 10, 4)))], glob=P16))
put("frame-zero-height-x0.gif", gif(15, 11, [frame(15, 0, 16, m=4, y=3, data=blocks(lzw(pattern(15, 11, 16), 4)))],
                                    glob=P16))
put("frame-zero-width-x0-whole-screen.gif",
    gif(15, 11, [frame(0, 11, 16, m=4, x=0, y=4, data=blocks(lzw(pattern(15, 11, 16), 4)))], glob=P16))
put("interlaced-1row.gif", gif(19, 1, [frame(19, 1, 16, m=4, interlace=True)], glob=P16))
put("interlaced-offset-trans.gif", gif(31, 29, [frame(17, 19, 16, m=4, x=5, y=7, interlace=True, ext=gce(1))], glob=P16))
put("animated-two-frames.gif", gif(21, 17, [frame(21, 17, 16, m=4), frame(9, 9, 16, m=4, x=3, y=3, seed=5)], glob=P16))

# --- LZW code sizes --------------------------------------------------------
for m in (0, 1, 2, 3, 7, 9, 10, 11, 12):
    n = min(1 << m, 256) if m else 1
    put("mincode-%02d.gif" % m, gif(19, 13, [frame(19, 13, n, m=m, literal=True)], glob=P256))
put("mincode-12-real-lzw-indices.gif", gif(19, 13, [frame(19, 13, 256, m=12, literal=True)], glob=P256))
put("mincode-13.gif", gif(19, 13, [frame(19, 13, 16, m=13, data=blocks(b"\x00" * 40))], glob=P256))
put("mincode-255.gif", gif(19, 13, [frame(19, 13, 16, m=255, data=blocks(b"\x00" * 40))], glob=P256))
put("mincode-1-no-palette.gif", gif(19, 13, [frame(19, 13, 2, m=1, literal=True)]))

# --- extensions ------------------------------------------------------------
netscape = b"\x21\xff\x0bNETSCAPE2.0\x03\x01\x00\x00\x00"
xmp = b"\x21\xff\x0bXMP DataXMP" + blocks(b"<x:xmpmeta/>" * 3)
comment = b"\x21\xfe" + blocks(b"a comment " * 40)
plain = b"\x21\x01" + blocks(b"\x00" * 12 + b"plain text")
unknown = b"\x21\x42" + blocks(b"?" * 9)
put("extensions-all.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=netscape + xmp + comment + plain + unknown + gce(2))],
                              glob=P16))
put("stray-bytes-before-frame.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=b"\x00\x99\x42")], glob=P16))
put("gce-short.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=gce(None, size=2))], glob=P16))
put("gce-trans-short.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=gce(5, size=3))], glob=P16))
put("gce-empty.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=b"\x21\xf9\x00")], glob=P16))
put("app-ext-empty.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=b"\x21\xff\x00")], glob=P16))
put("netscape-no-subblock.gif", gif(25, 15, [frame(25, 15, 16, m=4, ext=b"\x21\xff\x0bNETSCAPE2.0\x00")], glob=P16))

# --- real LZW from Pillow's encoder, then damaged --------------------------
im = Image.new("P", (47, 31))
im.putpalette(pal(64, 8))
im.putdata([((x * x + y * 5) // 3) % 64 for y in range(31) for x in range(47)])
buf = io.BytesIO()
im.save(buf, "GIF")
base = buf.getvalue()
put("pillow-saved.gif", base)
put("no-trailer.gif", base[:-1])
# The first frame's LZW data: after the 13-byte screen, the 64-entry table,
# any extensions, the descriptor and the code size byte.
start = base.index(b",", 13 + 3 * 64) + 10 + 1
for cut in (11, 13 + 3 * 30, start - 1, start + 1, start + 40, start + (len(base) - start) // 2, len(base) - 3):
    put("trunc-%04d.gif" % cut, base[:cut])
flip = bytearray(base)
flip[start + 25] ^= 0xFF
put("lzw-flipped.gif", bytes(flip))
# The last sub-block claims more than the file has.
big = bytearray(base)
p = start
while big[p + big[p] + 1] != 0:
    p += big[p] + 1
big[p] += 3
put("subblock-past-eof.gif", bytes(big))

# A frame stream that ends early (end code, then nothing), and one with the
# end code in the middle and more data after it.
short = pattern(19, 13, 16)[:100]
put("lzw-ends-early.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(lzw(short, 4)))], glob=P16))
half1 = lzw(pattern(19, 13, 16)[:120], 4)
half2 = lzw(pattern(19, 13, 16)[120:], 4)
put("lzw-end-code-then-more.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(half1 + half2))], glob=P16))
put("lzw-end-code-mid-stream.gif", gif(19, 13, [frame(19, 13, 16, m=4, literal=True, end_at=150)], glob=P16))
# Pillow feeds the decoder 64 KiB at a time: an end code before the frame is
# full is ignored when more of the file follows the chunk, fatal when not.
for name, at in (("lzw-end-code-first-64k", 30000), ("lzw-end-code-past-64k", 59000)):
    put(name + ".gif", gif(251, 239, [frame(251, 239, 256, literal=True, end_at=at, seed=3)], glob=P256))
put("lzw-too-much-data.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(lzw(pattern(19, 13, 16) * 3, 4)))],
                                 glob=P16))
put("lzw-first-code-past-clear.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(pack([16, 20] + [1] * 300, 5)))],
                                         glob=P16))
put("lzw-code-past-table.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(pack([16, 3, 4, 5, 30] + [1] * 300, 5)))],
                                   glob=P16))
put("lzw-code-is-next.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=blocks(pack([16, 3, 18, 19, 20] + [1] * 300, 5)))],
                                glob=P16))
put("lzw-no-data.gif", gif(19, 13, [frame(19, 13, 16, m=4, data=b"\x00")], glob=P16))
put("small-subblocks.gif", gif(19, 13, [frame(19, 13, 16, m=4, block=7)], glob=P16))
put("no-image.gif", gif(19, 13, [], glob=P16))
put("only-extension-no-image.gif", gif(19, 13, [], glob=P16, pre=comment))
put("palette-cut-short.gif", gif(19, 13, [], glob=None, trailer=b"")[:10] + b"\x83\x00\x00" + ramp(3)[:7])
put("header-only.gif", b"GIF89a")
