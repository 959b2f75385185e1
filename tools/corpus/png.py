"""The png corpus class: featurize/testdata/corpus/png/.

Run: /usr/bin/python3 tools/corpus/png.py [OUTDIR]

Valid PNGs of every colour type and depth Pillow reads, interlaced ones,
text chunks near and past Pillow's limits (MAX_TEXT_CHUNK for one
decompressed zTXt/iTXt, MAX_TEXT_MEMORY for all of them, before and after
the image data), APNG variants (frame controls missing, out of sequence,
cut short, frames off the image, a default image), eXIf chunks, and damaged
files (truncations, bad checksums, broken zlib data, short palettes).
Pillow is the judge: no file says what the verdict should be.
Deterministic: no randomness, no timestamps.
"""
import io
import struct
import zlib

import numpy as np
from PIL import Image

from common import write_class

MAGIC = b"\x89PNG\r\n\x1a\n"


def chunk(cid, data):
    return struct.pack(">I", len(data)) + cid + data + struct.pack(">I", zlib.crc32(cid + data) & 0xFFFFFFFF)


def chunks(png):
    """[(cid, data)] of a PNG file."""
    out, i = [], 8
    while i + 8 <= len(png):
        n = struct.unpack(">I", png[i:i + 4])[0]
        out.append((png[i + 4:i + 8], png[i + 8:i + 8 + n]))
        i += 12 + n
    return out


def build(cs):
    return MAGIC + b"".join(chunk(c, d) for c, d in cs)


def picture(w, h, seed, mode="RGB"):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), ((x + y) * 9) % 256], axis=2)
    a = a + rng.integers(-20, 21, size=(h, w, 3))
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    if mode == "RGBA":
        im.putalpha(Image.fromarray(((x * 37 + y * 11) % 256).astype(np.uint8), "L"))
        return im
    return im if mode == "RGB" else im.convert(mode)


def save(im, **kw):
    b = io.BytesIO()
    im.save(b, "PNG", **kw)
    return b.getvalue()


def insert_before(cs, cid, extra):
    i = next(k for k, (c, _) in enumerate(cs) if c == cid)
    return cs[:i] + extra + cs[i:]


def ztxt(key, text, level=9):
    return (b"zTXt", key + b"\x00\x00" + zlib.compress(text, level))


def itxt(key, text, compressed=False):
    body = zlib.compress(text, 9) if compressed else text
    return (b"iTXt", key + b"\x00" + bytes([1 if compressed else 0, 0]) + b"en\x00\x00" + body)


def fctl(seq, w, h, x=0, y=0, dispose=0, blend=0):
    return (b"fcTL", struct.pack(">IIIIIHHBB", seq, w, h, x, y, 1, 10, dispose, blend))


def idat_of(png):
    return b"".join(d for c, d in chunks(png) if c == b"IDAT")


def variants():
    out = {}
    rgb = save(picture(23, 17, 1))
    cs = chunks(rgb)
    out["rgb8-23x17.png"] = rgb
    out["rgba8-19x13.png"] = save(picture(19, 13, 2, "RGBA"))
    out["grey8-21x11.png"] = save(picture(21, 11, 3, "L"))
    out["la8-17x9.png"] = save(picture(17, 9, 4, "RGBA").convert("LA"))
    out["palette-25x15.png"] = save(picture(25, 15, 5).convert("P", palette=Image.ADAPTIVE, colors=16))
    out["grey1-33x9.png"] = save(picture(33, 9, 6, "L").convert("1"))
    g16 = (np.asarray(picture(15, 11, 7, "L")).astype(np.uint16) * 257 + 3).astype(np.uint16)
    out["grey16-15x11.png"] = save(Image.fromarray(g16, "I;16"))
    out["rgb8-interlaced-29x19.png"] = _interlaced(picture(29, 19, 8))

    # Text chunks. One decompressed zTXt/iTXt may be MAX_TEXT_CHUNK (1 MiB).
    mib = 1 << 20
    small = [(b"tEXt", b"Comment\x00hello"), ztxt(b"Software", b"featurizer corpus"),
             itxt(b"Title", "caf\u00e9".encode()), itxt(b"Description", b"compressed words " * 20, True)]
    out["text-chunks-small.png"] = build(insert_before(cs, b"IDAT", small))
    out["ztxt-1mib-minus-1.png"] = build(insert_before(cs, b"IDAT", [ztxt(b"Big", b"a" * (mib - 1))]))
    out["ztxt-exactly-1mib.png"] = build(insert_before(cs, b"IDAT", [ztxt(b"Big", b"a" * mib)]))
    out["ztxt-1mib-plus-1.png"] = build(insert_before(cs, b"IDAT", [ztxt(b"Big", b"a" * (mib + 1))]))
    out["itxt-compressed-over-1mib.png"] = build(insert_before(cs, b"IDAT", [itxt(b"Big", b"b" * (mib + 5000), True)]))
    out["itxt-compressed-1mib-exact.png"] = build(insert_before(cs, b"IDAT", [itxt(b"Big", b"b" * mib, True)]))
    out["ztxt-over-1mib-after-idat.png"] = build(insert_before(cs, b"IEND", [ztxt(b"Big", b"c" * (2 * mib))]))
    out["ztxt-over-1mib-no-key.png"] = build(insert_before(cs, b"IDAT", [(b"zTXt", b"\x00\x00" + zlib.compress(b"d" * (mib + 1), 9))]))
    raw = zlib.compress(b"e" * (mib + 100), 9)
    out["ztxt-over-1mib-corrupt-after-limit.png"] = build(insert_before(cs, b"IDAT", [(b"zTXt", b"K\x00\x00" + raw[:-6] + b"\xFF\xFF\xFF\xFF\xFF\xFF")]))
    out["ztxt-corrupt-stream.png"] = build(insert_before(cs, b"IDAT", [(b"zTXt", b"K\x00\x00\x78\x9C\xFF\xFF\xFF")]))
    out["ztxt-unknown-method.png"] = build(insert_before(cs, b"IDAT", [(b"zTXt", b"K\x00\x01" + zlib.compress(b"x"))]))
    out["itxt-compressed-bad-utf8.png"] = build(insert_before(cs, b"IDAT", [itxt(b"K", b"\xFF\xFE" * 100, True)]))
    # MAX_TEXT_MEMORY: 64 MiB of text in all.
    chunk_mib = ztxt(b"Part", b"f" * mib)
    out["text-memory-64-mib.png"] = build(insert_before(cs, b"IDAT", [chunk_mib] * 64))
    out["text-memory-64-mib-plus-1.png"] = build(insert_before(cs, b"IDAT", [chunk_mib] * 64 + [(b"tEXt", b"k\x00x")]))
    out["text-memory-over-after-idat.png"] = build(insert_before(insert_before(cs, b"IDAT", [chunk_mib] * 40), b"IEND", [chunk_mib] * 25))
    utf = itxt(b"U", ("\u00e9" * (mib // 2)).encode(), True)  # 1 MiB of bytes, half as many characters
    out["text-memory-itxt-utf8-chars.png"] = build(insert_before(cs, b"IDAT", [chunk_mib] * 63 + [utf, utf]))

    # APNG.
    a = picture(16, 12, 9)
    b = picture(16, 12, 10)
    ia, ib = idat_of(save(a)), idat_of(save(b))
    ihdr = cs[0]
    actl = lambda n: (b"acTL", struct.pack(">II", n, 0))
    fdat = lambda seq, d: (b"fdAT", struct.pack(">I", seq) + d)
    ihdr16 = chunks(save(a))[0]
    end = (b"IEND", b"")
    out["apng-two-frames.png"] = build([ihdr16, actl(2), fctl(0, 16, 12), (b"IDAT", ia), fctl(1, 16, 12), fdat(2, ib), end])
    out["apng-default-image.png"] = build([ihdr16, actl(1), (b"IDAT", ia), fctl(0, 16, 12), fdat(1, ib), end])
    out["apng-no-fctl-at-all.png"] = build([ihdr16, actl(2), (b"IDAT", ia), fdat(0, ib), end])
    out["apng-one-frame-no-fctl-then-fdat.png"] = build([ihdr16, actl(1), (b"IDAT", ia), fdat(1, ib), end])
    out["apng-fctl-missing-second-frame.png"] = build([ihdr16, actl(2), fctl(0, 16, 12), (b"IDAT", ia), fdat(1, ib), end])
    out["apng-one-frame-fctl-missing-second.png"] = build([ihdr16, actl(1), fctl(0, 16, 12), (b"IDAT", ia), fdat(1, ib), end])
    out["apng-one-frame-extra-fctl-bad-seq.png"] = build([ihdr16, actl(1), fctl(0, 16, 12), (b"IDAT", ia), fctl(5, 16, 12), fdat(6, ib), end])
    out["apng-two-frames-extra-fctl-bad-seq.png"] = build([ihdr16, actl(2), fctl(0, 16, 12), (b"IDAT", ia), fctl(5, 16, 12), fdat(6, ib), end])
    out["apng-default-image-bad-seq-after.png"] = build([ihdr16, actl(1), (b"IDAT", ia), fctl(3, 16, 12), fdat(4, ib), end])
    out["apng-first-fctl-seq1.png"] = build([ihdr16, actl(2), fctl(1, 16, 12), (b"IDAT", ia), end])
    out["apng-fctl-truncated.png"] = build([ihdr16, actl(2), (b"fcTL", fctl(0, 16, 12)[1][:20]), (b"IDAT", ia), end])
    out["apng-fctl-frame-off-image.png"] = build([ihdr16, actl(2), fctl(0, 16, 12, 4, 0), (b"IDAT", ia), end])
    small_idat = idat_of(save(picture(8, 6, 11)))
    out["apng-first-frame-smaller.png"] = build([ihdr16, actl(1), fctl(0, 8, 6, 2, 3), (b"IDAT", small_idat), end])
    def framed(name, im, fw, fh, x, y, interlaced=False):
        full = chunks(save(im))
        sub = chunks(_interlaced(im.crop((0, 0, fw, fh))) if interlaced else save(im.crop((0, 0, fw, fh))))
        hdr = [c for c in full if c[0] in (b"IHDR", b"PLTE", b"tRNS")]
        if interlaced:
            hdr[0] = (b"IHDR", hdr[0][1][:12] + b"\x01")
        data = b"".join(d for c, d in sub if c == b"IDAT")
        out[name] = build(hdr + [actl(1), fctl(0, fw, fh, x, y), (b"IDAT", data), end])
    framed("apng-first-frame-smaller-rgba.png", picture(14, 10, 12, "RGBA"), 9, 5, 3, 4)
    framed("apng-first-frame-smaller-palette.png", picture(13, 11, 13).convert("P", palette=Image.ADAPTIVE, colors=8), 6, 7, 5, 2)
    framed("apng-first-frame-smaller-grey1.png", picture(21, 9, 14, "L").convert("1"), 11, 5, 3, 1)
    framed("apng-first-frame-smaller-interlaced.png", picture(19, 13, 15), 10, 9, 7, 3, interlaced=True)
    out["apng-first-frame-zero-width.png"] = build([ihdr16, actl(1), fctl(0, 0, 6, 2, 3), (b"IDAT", small_idat), end])
    out["apng-first-frame-dispose-previous.png"] = build([ihdr16, actl(2), fctl(0, 16, 12, dispose=2), (b"IDAT", ia), fctl(1, 16, 12), fdat(2, ib), end])
    out["apng-fdat-before-idat.png"] = build([ihdr16, actl(1), fdat(0, ia), end])
    out["apng-fctl-then-fdat-only.png"] = build([ihdr16, actl(1), fctl(0, 16, 12), fdat(1, ia), end])
    out["apng-actl-zero-frames.png"] = build([ihdr16, actl(0), fctl(0, 16, 12), (b"IDAT", ia), fctl(1, 16, 12), fdat(2, ib), end])
    out["apng-actl-twice.png"] = build([ihdr16, actl(2), actl(2), fctl(0, 16, 12), (b"IDAT", ia), fctl(1, 16, 12), fdat(2, ib), end])
    out["apng-actl-truncated.png"] = build([ihdr16, (b"acTL", b"\x00\x00\x00\x02"), (b"IDAT", ia), end])
    out["apng-fdat-truncated-after-idat.png"] = build([ihdr16, actl(1), fctl(0, 16, 12), (b"IDAT", ia), (b"fdAT", b"\x00\x00"), end])

    # eXIf (orientation 1 here; rotations live in the orient class).
    ex = b"MM\x00\x2A\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x01\x00\x00\x00\x00\x00\x00"
    out["exif-chunk.png"] = build(insert_before(cs, b"IDAT", [(b"eXIf", ex)]))
    out["exif-chunk-bad-crc.png"] = _bad_crc(build(insert_before(cs, b"IDAT", [(b"eXIf", ex)])), b"eXIf")
    out["exif-chunk-cut-by-eof.png"] = build(insert_before(cs, b"IDAT", [(b"eXIf", ex)]))[:33 + 8 + 10]

    # Damage.
    out["no-iend.png"] = build(cs[:-1])
    out["iend-cut.png"] = rgb[:-6]
    out["idat-bad-crc.png"] = _bad_crc(rgb, b"IDAT")
    out["text-bad-crc-before-idat.png"] = _bad_crc(out["text-chunks-small.png"], b"tEXt")
    out["text-bad-crc-after-idat.png"] = _bad_crc(build(insert_before(cs, b"IEND", [(b"tEXt", b"a\x00b")])), b"tEXt")
    for cut in (7, 20, 40, len(rgb) // 2, len(rgb) - 20):
        out["trunc-%04d.png" % cut] = rgb[:cut]
    z = bytearray(rgb)
    k = rgb.find(b"IDAT") + 4 + 30
    z[k:k + 4] = b"\xFF\xFF\xFF\xFF"
    out["idat-zlib-damaged.png"] = bytes(z)
    pal = chunks(out["palette-25x15.png"])
    out["palette-short.png"] = build([(c, d[:12] if c == b"PLTE" else d) for c, d in pal])
    out["chunk-type-not-ascii.png"] = build(insert_before(cs, b"IDAT", [(b"a\x01cd", b"x")]))
    out["ihdr-truncated.png"] = build([(b"IHDR", cs[0][1][:10])] + cs[1:])
    out["private-chunk.png"] = build(insert_before(cs, b"IDAT", [(b"prVt", b"\x00" * 9)]))
    return out


def _interlaced(im):
    """Adam7 by hand (Pillow 9.4 does not write interlaced PNGs)."""
    a = np.asarray(im)
    h, w = a.shape[:2]
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b""
    for x0, y0, dx, dy in passes:
        sub = a[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        for row in sub:
            raw += b"\x00" + row.tobytes()
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 1)
    return build([(b"IHDR", ihdr), (b"IDAT", zlib.compress(raw, 9)), (b"IEND", b"")])


def _bad_crc(png, cid):
    i = png.find(cid)
    n = struct.unpack(">I", png[i - 4:i])[0]
    d = bytearray(png)
    d[i + 4 + n] ^= 0xFF
    return bytes(d)


def main():
    write_class("png", variants())


if __name__ == "__main__":
    main()
