"""WebP corpus for featurize (featurize/testdata/corpus/webp/).

WebPs as Pillow 9.4 reads them (libwebp's animation decoder, first frame):
lossy at several qualities and odd sizes, lossy with alpha (ALPH chunks
compressed and raw, every prediction filter, pre-processing), lossless
(palette/colour indexing with pixel bundling, predictor, cross-colour and
subtract-green transforms, near-lossless, alpha), the VP8L and VP8X alpha
flags disagreeing with the pixels, animations (a first frame smaller than
the canvas), EXIF orientation, ICC and XMP chunks, and damaged files
(truncations, bad chunk and RIFF sizes, flipped bytes, bad headers).
Made with Pillow, cwebp, img2webp and gif2webp (libwebp 1.2.4's tools) and
bytes written by hand; deterministic.

usage: /usr/bin/python3 tools/corpus/webp.py OUTDIR
"""
import atexit
import io
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

from PIL import Image

OUT = sys.argv[1] if len(sys.argv) > 1 else "featurize/testdata/corpus/webp"
os.makedirs(OUT, exist_ok=True)
TMP = tempfile.mkdtemp(prefix="webpcorpus")
atexit.register(shutil.rmtree, TMP, True)


def put(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def photo(w, h, seed=0, alpha=None):
    """A smooth, noisy picture (something lossy coding has work on)."""
    r = random.Random(seed)
    px = []
    for y in range(h):
        for x in range(w):
            c = (
                (x * 255 // max(1, w - 1) + r.randrange(24)) % 256,
                (y * 255 // max(1, h - 1) + r.randrange(24)) % 256,
                ((x * y) // 3 + r.randrange(24)) % 256,
            )
            if alpha == "gradient":
                c += ((x * 7 + y * 11) % 256,)
            elif alpha == "holes":
                c += (0 if (x // 4 + y // 4) % 3 == 0 else 255,)
            elif alpha == "soft":
                c += (min(255, 40 + (x * 255) // max(1, w)),)
            px.append(c)
    im = Image.new("RGBA" if alpha else "RGB", (w, h))
    im.putdata(px)
    return im


def palette_image(w, h, n, seed=0, alpha=False):
    r = random.Random(seed)
    cols = [(r.randrange(256), r.randrange(256), r.randrange(256), r.choice((0, 128, 255)) if alpha else 255)
            for _ in range(n)]
    im = Image.new("RGBA", (w, h))
    im.putdata([cols[((x // 3) + (y // 2) * 3) % n] for y in range(h) for x in range(w)])
    return im if alpha else im.convert("RGB")


def png(im, name):
    p = os.path.join(TMP, name + ".png")
    im.save(p)
    return p


def cwebp(im, *args):
    src = png(im, "in")
    dst = os.path.join(TMP, "out.webp")
    subprocess.run(["cwebp", "-quiet", *args, src, "-o", dst], check=True)
    with open(dst, "rb") as f:
        return f.read()


def pil(im, **kw):
    b = io.BytesIO()
    im.save(b, "WEBP", **kw)
    return b.getvalue()


def chunk(fourcc, data):
    out = fourcc + struct.pack("<I", len(data)) + data
    return out + (b"\x00" if len(data) & 1 else b"")


def riff(body, size=None):
    return b"RIFF" + struct.pack("<I", len(body) + 4 if size is None else size) + b"WEBP" + body


def chunks(webp):
    """The top-level chunks of a WebP: [(fourcc, payload)]."""
    out, i = [], 12
    while i + 8 <= len(webp):
        n = struct.unpack("<I", webp[i + 4:i + 8])[0]
        out.append((webp[i:i + 4], webp[i + 8:i + 8 + n]))
        i += 8 + n + (n & 1)
    return out


def vp8x(w, h, alpha=False, anim=False, exif=False, icc=False, xmp=False):
    flags = (0x20 if icc else 0) | (0x10 if alpha else 0) | (0x08 if exif else 0) | (0x04 if xmp else 0) | \
        (0x02 if anim else 0)
    return chunk(b"VP8X", bytes((flags, 0, 0, 0)) + struct.pack("<I", w - 1)[:3] + struct.pack("<I", h - 1)[:3])


def exif_orientation(o):
    """A little-endian TIFF block with IFD0 holding Orientation only."""
    return b"Exif\x00\x00" + b"II*\x00" + struct.pack("<I", 8) + struct.pack("<H", 1) + \
        struct.pack("<HHII", 0x0112, 3, 1, o) + struct.pack("<I", 0)


def alpha_filter(a, w, h, method):
    """Residuals of the ALPH prediction filters (WebP container spec)."""
    def at(x, y):
        return a[y * w + x]
    res = []
    for y in range(h):
        for x in range(w):
            if method == 0 or (x == 0 and y == 0):
                p = 0
            elif y == 0:
                p = at(x - 1, 0)
            elif x == 0:
                p = at(0, y - 1)
            elif method == 1:
                p = at(x - 1, y)
            elif method == 2:
                p = at(x, y - 1)
            else:
                g = at(x - 1, y) + at(x, y - 1) - at(x - 1, y - 1)
                p = min(255, max(0, g))
            res.append((at(x, y) - p) & 255)
    return bytes(res)


# --- lossy -----------------------------------------------------------------
P = photo(37, 23, 1)
put("lossy-q75.webp", cwebp(P, "-q", "75"))
put("lossy-q5.webp", cwebp(P, "-q", "5"))
put("lossy-q100-m6.webp", cwebp(P, "-q", "100", "-m", "6"))
put("lossy-sharp-yuv.webp", cwebp(photo(30, 19, 2), "-q", "80", "-sharp_yuv"))
put("lossy-segments1-nofilter.webp", cwebp(photo(33, 27, 3), "-q", "60", "-segments", "1", "-f", "0"))
put("lossy-strong-filter-sharp.webp", cwebp(photo(33, 27, 3), "-q", "60", "-f", "100", "-sharpness", "7"))
put("lossy-1x1.webp", cwebp(photo(1, 1, 4), "-q", "75"))
put("lossy-2x3.webp", cwebp(photo(2, 3, 5), "-q", "75"))
put("lossy-odd-64x47.webp", cwebp(photo(64, 47, 6), "-q", "70"))
put("lossy-pillow.webp", pil(photo(29, 21, 7), quality=80))
put("lossy-pillow-from-rgba-opaque.webp", pil(photo(29, 21, 8, alpha="soft").convert("RGB").convert("RGBA"), quality=80))

# --- lossy with alpha --------------------------------------------------------
A = photo(35, 25, 9, alpha="gradient")
for flt in ("none", "fast", "best"):
    put("lossy-alpha-filter-%s.webp" % flt, cwebp(A, "-q", "70", "-alpha_filter", flt))
put("lossy-alpha-method0-raw.webp", cwebp(A, "-q", "70", "-alpha_method", "0"))
put("lossy-alpha-q30-quantized.webp", cwebp(A, "-q", "70", "-alpha_q", "30"))
put("lossy-alpha-holes-exact.webp", cwebp(photo(35, 25, 10, alpha="holes"), "-q", "70", "-exact"))
put("lossy-alpha-holes.webp", cwebp(photo(35, 25, 10, alpha="holes"), "-q", "70"))
put("lossy-alpha-pillow.webp", pil(photo(27, 17, 11, alpha="soft"), quality=60))

# Hand-made ALPH chunks, raw (compression 0), with each prediction filter,
# over the lossy picture of lossy-alpha-filter-none.
base = cwebp(photo(35, 25, 9), "-q", "70")
vp8 = dict(chunks(base))[b"VP8 "]
alpha = bytes(photo(35, 25, 9, alpha="gradient").getdata(3))
for m, name in enumerate(("none", "horizontal", "vertical", "gradient")):
    alph = bytes((m << 2,)) + alpha_filter(alpha, 35, 25, m)
    put("alph-raw-filter-%s.webp" % name, riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", alph) + chunk(b"VP8 ", vp8)))
put("alph-raw-preprocessed.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", bytes((1 << 4,)) + alpha)
                                       + chunk(b"VP8 ", vp8)))
put("alph-bad-method.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", bytes((2,)) + alpha) + chunk(b"VP8 ", vp8)))
put("alph-reserved-bits.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", bytes((0x40,)) + alpha)
                                    + chunk(b"VP8 ", vp8)))
put("alph-short.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", bytes((0,)) + alpha[:300]) + chunk(b"VP8 ", vp8)))
put("alph-flag-off.webp", riff(vp8x(35, 25, alpha=False) + chunk(b"ALPH", bytes((0,)) + alpha) + chunk(b"VP8 ", vp8)))
put("vp8x-alpha-flag-no-alph.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"VP8 ", vp8)))
lossy_alpha = cwebp(A, "-q", "70", "-alpha_filter", "best")
ca = chunks(lossy_alpha)
alph_lossless = dict(ca)[b"ALPH"]
bad = bytearray(alph_lossless)
bad[len(bad) // 2] ^= 0x5A
put("alph-lossless-flipped.webp", riff(vp8x(35, 25, alpha=True) + chunk(b"ALPH", bytes(bad)) + chunk(b"VP8 ", vp8)))

# --- lossless ----------------------------------------------------------------
L = photo(31, 22, 12)
put("lossless-z0.webp", cwebp(L, "-lossless", "-z", "0"))
put("lossless-z6.webp", cwebp(L, "-lossless", "-z", "6"))
put("lossless-z9.webp", cwebp(L, "-lossless", "-z", "9"))
put("lossless-near60.webp", cwebp(L, "-lossless", "-near_lossless", "60"))
# Colour indexing, bundling 8, 4 (3 and 4 colours), 2 and 1 pixels a byte.
for n in (2, 3, 4, 16, 36):
    put("lossless-palette-%d.webp" % n, cwebp(palette_image(27, 19, n, seed=n), "-lossless", "-z", "6"))
put("lossless-palette-alpha.webp", cwebp(palette_image(27, 19, 12, seed=3, alpha=True), "-lossless", "-exact"))
put("lossless-alpha-gradient.webp", cwebp(photo(29, 23, 13, alpha="gradient"), "-lossless", "-exact"))
put("lossless-alpha-holes.webp", cwebp(photo(29, 23, 14, alpha="holes"), "-lossless"))
put("lossless-pillow.webp", pil(photo(25, 18, 15), lossless=True))
put("lossless-pillow-rgba.webp", pil(photo(25, 18, 16, alpha="soft"), lossless=True, exact=True))
put("lossless-1x1.webp", cwebp(photo(1, 1, 17), "-lossless"))

# The VP8L header's alpha_is_used bit (bit 28 after the 0x2f signature) is
# what WebPGetFeatures reports, and Pillow picks RGB or RGBA by it.
ll = cwebp(photo(29, 23, 13, alpha="gradient"), "-lossless", "-exact")
b = bytearray(ll)
b[21 + 3] &= ~0x10  # the alpha_is_used bit: bit 28 of the 32 after the signature byte (offset 20)
put("vp8l-alpha-bit-cleared.webp", bytes(b))
ll = cwebp(photo(29, 23, 18), "-lossless")
b = bytearray(ll)
b[21 + 3] |= 0x10
put("vp8l-alpha-bit-set-opaque.webp", bytes(b))
b = bytearray(ll)
b[21 + 3] |= 0xE0  # version bits: must be 0
put("vp8l-bad-version.webp", bytes(b))
b = bytearray(ll)
b[20] = 0x2e  # not the VP8L signature
put("vp8l-bad-signature.webp", bytes(b))

# --- animations --------------------------------------------------------------
f1, f2 = png(photo(30, 20, 19), "f1"), png(photo(30, 20, 20, alpha="holes"), "f2")
dst = os.path.join(TMP, "anim.webp")
subprocess.run(["img2webp", "-loop", "0", "-lossy", "-q", "70", f1, "-d", "80", "-lossless", f2, "-o", dst],
               check=True, capture_output=True)
put("anim-img2webp-lossy-first.webp", open(dst, "rb").read())
subprocess.run(["img2webp", "-loop", "0", "-lossless", f2, "-d", "80", "-lossy", f1, "-o", dst],
               check=True, capture_output=True)
put("anim-img2webp-lossless-alpha-first.webp", open(dst, "rb").read())
frames = [photo(26, 18, 21 + i, alpha="soft") for i in range(3)]
put("anim-pillow-rgba.webp", pil(frames[0], save_all=True, append_images=frames[1:], duration=50, lossless=True))
# gif2webp from a GIF whose first frame is smaller than the screen.
g = Image.new("P", (24, 16))
g.putpalette(bytes(random.Random(5).randrange(256) for _ in range(768)))
g.putdata([(x + y) % 32 for y in range(16) for x in range(24)])
g2 = g.copy()
g2.putdata([(x * y) % 32 for y in range(16) for x in range(24)])
gp = os.path.join(TMP, "a.gif")
g.save(gp, save_all=True, append_images=[g2], duration=100, loop=0)
subprocess.run(["gif2webp", "-quiet", "-q", "60", gp, "-o", dst], check=True)
put("anim-gif2webp.webp", open(dst, "rb").read())


def anmf(x, y, w, h, body, dur=100, flags=0):
    hdr = struct.pack("<I", x // 2)[:3] + struct.pack("<I", y // 2)[:3] + struct.pack("<I", w - 1)[:3] + \
        struct.pack("<I", h - 1)[:3] + struct.pack("<I", dur)[:3] + bytes((flags,))
    return chunk(b"ANMF", hdr + body)


small = dict(chunks(cwebp(photo(14, 10, 22), "-q", "80")))[b"VP8 "]
smallL = dict(chunks(cwebp(photo(14, 10, 23, alpha="gradient"), "-lossless", "-exact")))[b"VP8L"]
anim = chunk(b"ANIM", struct.pack("<IH", 0xFF00FF00, 0))
put("anim-first-frame-offset-alpha.webp",
    riff(vp8x(40, 30, alpha=True, anim=True) + anim + anmf(8, 6, 14, 10, chunk(b"VP8 ", small))
         + anmf(0, 0, 14, 10, chunk(b"VP8L", smallL))))
put("anim-first-frame-offset-noalpha.webp",
    riff(vp8x(40, 30, alpha=False, anim=True) + anim + anmf(8, 6, 14, 10, chunk(b"VP8 ", small))))
put("anim-first-frame-outside-canvas.webp",
    riff(vp8x(20, 12, alpha=True, anim=True) + anim + anmf(10, 6, 14, 10, chunk(b"VP8 ", small))))
put("anim-no-frames.webp", riff(vp8x(20, 12, alpha=True, anim=True) + anim))
put("anim-no-anim-chunk.webp", riff(vp8x(40, 30, alpha=True, anim=True) + anmf(8, 6, 14, 10, chunk(b"VP8 ", small))))
bad_frame = bytearray(small)
for i in range(20, len(bad_frame), 7):
    bad_frame[i] ^= 0xA5
put("anim-first-frame-broken.webp",
    riff(vp8x(40, 30, alpha=True, anim=True) + anim + anmf(0, 0, 14, 10, chunk(b"VP8 ", bytes(bad_frame[:40])))))
put("anim-canvas-over-limit.webp",
    riff(vp8x(14000, 14000, alpha=True, anim=True) + anim + anmf(0, 0, 14, 10, chunk(b"VP8 ", small))))

# --- metadata ------------------------------------------------------------------
for o in (3, 6, 8):
    put("exif-orientation-%d-lossy.webp" % o, pil(photo(21, 13, 24), quality=70, exif=exif_orientation(o)))
put("exif-orientation-6-lossless-alpha.webp",
    pil(photo(21, 13, 25, alpha="holes"), lossless=True, exif=exif_orientation(6)))
put("exif-orientation-5-raw-vp8x.webp",
    riff(vp8x(35, 25, exif=True) + chunk(b"VP8 ", vp8) + chunk(b"EXIF", exif_orientation(5))))
put("icc-xmp.webp", riff(vp8x(35, 25, icc=True, xmp=True) + chunk(b"ICCP", b"\x00" * 128) + chunk(b"VP8 ", vp8)
                         + chunk(b"XMP ", b"<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")))
put("unknown-chunks.webp", riff(vp8x(35, 25) + chunk(b"ABCD", b"xyz") + chunk(b"VP8 ", vp8) + chunk(b"ZZZZ", b"1")))

# --- damaged -------------------------------------------------------------------
lossy = open(os.path.join(OUT, "lossy-q75.webp"), "rb").read()
lossless = open(os.path.join(OUT, "lossless-z6.webp"), "rb").read()
lalpha = open(os.path.join(OUT, "lossy-alpha-filter-fast.webp"), "rb").read()
for tag, src in (("lossy", lossy), ("lossless", lossless), ("lossy-alpha", lalpha)):
    n = len(src)
    for cut in sorted({11, 15, 20, 30, n // 3, n // 2, n - 40, n - 1}):
        put("trunc-%s-%04d.webp" % (tag, cut), src[:cut])
    # Cut short with the RIFF and last chunk sizes made to fit: libwebp's
    # decoders, not the demuxer, meet the end of the data.
    last = 12
    while last + 8 + struct.unpack("<I", src[last + 4:last + 8])[0] < n - 1:
        last += 8 + struct.unpack("<I", src[last + 4:last + 8])[0]
        last += last & 1
    for cut in (last + 8 + (n - last) // 3, last + 8 + (n - last) * 2 // 3, n - 6):
        cut -= cut & 1  # even, so the last chunk needs no padding byte
        b = bytearray(src[:cut])
        b[4:8] = struct.pack("<I", cut - 8)
        b[last + 4:last + 8] = struct.pack("<I", cut - last - 8)
        put("trunc-sizes-fixed-%s-%04d.webp" % (tag, cut), bytes(b))
    # The RIFF size says more, or less, than there is.
    b = bytearray(src)
    b[4:8] = struct.pack("<I", n + 100)
    put("riff-size-long-%s.webp" % tag, bytes(b))
    b[4:8] = struct.pack("<I", n - 8 - 30)
    put("riff-size-short-%s.webp" % tag, bytes(b))
    put("trailing-junk-%s.webp" % tag, src + b"\x00junk" * 5)
    r = random.Random(len(tag))
    b = bytearray(src)
    for _ in range(3):
        b[r.randrange(40, n)] ^= 1 << r.randrange(8)
    put("flipped-%s.webp" % tag, bytes(b))

b = bytearray(lossy)
b[4:8] = struct.pack("<I", 0xFFFFFFF0)
put("riff-size-huge.webp", bytes(b))
b = bytearray(lossy)
b[4:8] = struct.pack("<I", len(lossy) - 8 + 1)
put("riff-size-odd.webp", bytes(b))
b = bytearray(lossy)
b[16:20] = struct.pack("<I", len(lossy) + 50)
put("vp8-chunk-size-long.webp", bytes(b))
b = bytearray(lossy)
b[16:20] = struct.pack("<I", 40)
put("vp8-chunk-size-short.webp", bytes(b))
b = bytearray(lossless)
b[16:20] = struct.pack("<I", len(lossless))
put("vp8l-chunk-size-long.webp", bytes(b))
b = bytearray(lossy)
b[23:26] = b"\x00\x00\x00"  # VP8 start code
put("vp8-bad-start-code.webp", bytes(b))
b = bytearray(lossy)
b[20] |= 0x01  # frame type bit: an interframe
put("vp8-interframe.webp", bytes(b))
b = bytearray(lossy)
b[12:16] = b"VP9 "
put("bad-fourcc.webp", bytes(b))
put("vp8x-only.webp", riff(vp8x(35, 25)))
put("vp8x-canvas-mismatch.webp", riff(vp8x(36, 25) + chunk(b"VP8 ", vp8)))
put("vp8x-zero-size.webp", riff(chunk(b"VP8X", b"\x00" * 3)))
put("riff-header-only.webp", b"RIFF\x04\x00\x00\x00WEBP")

# EXIF where Pillow does not look for it: libwebp's demuxer keeps chunks
# of VP8X files only, and only inside the RIFF size.
put("exif-simple-vp8-trailing-chunk.webp", riff(chunk(b"VP8 ", vp8) + chunk(b"EXIF", exif_orientation(6))))
put("exif-vp8x-flag-unset.webp", riff(vp8x(35, 25) + chunk(b"VP8 ", vp8) + chunk(b"EXIF", exif_orientation(6))))
put("exif-after-riff-end.webp", riff(vp8x(35, 25, exif=True) + chunk(b"VP8 ", vp8)) + chunk(b"EXIF", exif_orientation(6)))
put("exif-before-image.webp", riff(vp8x(35, 25, exif=True) + chunk(b"EXIF", exif_orientation(8)) + chunk(b"VP8 ", vp8)))
