"""The orient corpus class: featurize/testdata/corpus/orient/.

Run: /usr/bin/python3 tools/corpus/orient.py [OUTDIR]

Files whose point is their orientation, as ImageOps.exif_transpose finds it
in Pillow 9.4: JPEG EXIF orientations 1-8 and invalid ones, the tag stored
with every TIFF type, duplicated, cut off, in broken EXIF blocks; PNG eXIf
chunks before and after the image data (and the "Exif\\0\\0"-prefixed
variant), EXIF in text chunks ("exif", ImageMagick's "Raw profile type
exif"), XMP tiff:Orientation in both forms and in every text chunk kind, EXIF
and XMP disagreeing; JPEG and WebP XMP (which Pillow 9.4 does not read for
orientation); WebP EXIF chunks. TIFF orientation is the tiff class's.
Pillow is the judge. Deterministic: no randomness, no timestamps.
"""
import io
import os
import struct
import sys

import numpy as np
from PIL import Image

sys.dont_write_bytecode = True  # no __pycache__ in the repository
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import png as pngc  # noqa: E402

from common import write_class


def picture(w, h, seed, mode="RGB"):
    """An asymmetric picture, so every transposition shows."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    a = np.stack([x * 255 // max(1, w - 1), y * 255 // max(1, h - 1), ((x * 3 + y * 5) * 7) % 256], axis=2)
    a[: h // 3, : w // 4] = (250, 30, 30)
    a = a + rng.integers(-10, 11, size=(h, w, 3))
    im = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")
    return im if mode == "RGB" else im.convert(mode)


def ifd(entries, bo="MM", offset=8, extra_after=b""):
    """A TIFF structure: IFD0 of (tag, type, count, value bytes) at offset."""
    p = ">" if bo == "MM" else "<"
    head = (b"MM\x00\x2A" if bo == "MM" else b"II\x2A\x00") + struct.pack(p + "I", offset)
    pad = b"\x00" * (offset - 8) if offset >= 8 else b""
    start = max(offset, 8)
    body = struct.pack(p + "H", len(entries))
    extra = b""
    base = start + 2 + 12 * len(entries) + 4
    for tag, typ, count, val in entries:
        if len(val) <= 4:
            body += struct.pack(p + "HHI", tag, typ, count) + val.ljust(4, b"\x00")
        else:
            body += struct.pack(p + "HHII", tag, typ, count, base + len(extra))
            extra += val
    body += struct.pack(p + "I", 0)
    return head + pad + body + extra + extra_after


def short(v, bo="MM"):
    return struct.pack((">" if bo == "MM" else "<") + "H", v)


def orient_ifd(v, bo="MM"):
    return ifd([(0x0112, 3, 1, short(v, bo))], bo)


def jpeg(im, exif=None, segments=b"", **kw):
    b = io.BytesIO()
    if exif is not None:
        kw["exif"] = exif
    im.save(b, "JPEG", quality=92, **kw)
    d = b.getvalue()
    if segments:
        # After the JFIF segment Pillow writes first.
        at = 2
        if d[2:4] == b"\xFF\xE0":
            at = 4 + struct.unpack(">H", d[4:6])[0]
        d = d[:at] + segments + d[at:]
    return d


def app1(body):
    return b"\xFF\xE1" + struct.pack(">H", len(body) + 2) + body


XMP_ATTR = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/" tiff:Orientation="%d"/></rdf:RDF></x:xmpmeta>'
XMP_ELEM = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description xmlns:tiff="http://ns.adobe.com/tiff/1.0/"><tiff:Orientation>%d</tiff:Orientation></rdf:Description></rdf:RDF></x:xmpmeta>'


def png_with(im, before=(), after=()):
    b = io.BytesIO()
    im.save(b, "PNG")
    cs = pngc.chunks(b.getvalue())
    cs = pngc.insert_before(cs, b"IDAT", list(before))
    cs = pngc.insert_before(cs, b"IEND", list(after))
    return pngc.build(cs)


def itxt(key, text, compressed=False):
    return pngc.itxt(key, text, compressed)


def raw_profile(exif):
    """ImageMagick's "Raw profile type exif" text."""
    hx = exif.hex()
    lines = [hx[i:i + 72] for i in range(0, len(hx), 72)]
    return b"\nexif\n%8d\n" % len(exif) + "\n".join(lines).encode() + b"\n"


def webp(im, exif=None, xmp=None):
    b = io.BytesIO()
    kw = {"lossless": True}
    if exif is not None:
        kw["exif"] = exif
    if xmp is not None:
        kw["xmp"] = xmp
    im.save(b, "WEBP", **kw)
    return b.getvalue()


def riff(chunks):
    body = b"WEBP" + b"".join(c + struct.pack("<I", len(d)) + d + (b"\x00" if len(d) & 1 else b"") for c, d in chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def riff_chunks(data):
    out, i = [], 12
    while i + 8 <= len(data):
        n = struct.unpack("<I", data[i + 4:i + 8])[0]
        out.append((data[i:i + 4], data[i + 8:i + 8 + n]))
        i += 8 + n + (n & 1)
    return out


def variants():
    out = {}
    im = picture(13, 9, 1)

    # JPEG: every orientation, both byte orders, invalid values.
    for v in range(1, 9):
        out["jpeg-orientation-%d.jpg" % v] = jpeg(im, b"Exif\x00\x00" + orient_ifd(v))
    out["jpeg-orientation-6-ii.jpg"] = jpeg(im, b"Exif\x00\x00" + orient_ifd(6, "II"))
    for v in (0, 9, 65535):
        out["jpeg-orientation-invalid-%d.jpg" % v] = jpeg(im, b"Exif\x00\x00" + orient_ifd(v))
    # The tag with other TIFF types.
    typed = {
        "long": (4, 1, struct.pack(">I", 6)),
        "sshort": (8, 1, short(6)),
        "slong-negative": (9, 1, struct.pack(">i", -6)),
        "rational-6-1": (5, 1, struct.pack(">II", 6, 1)),
        "rational-12-2": (5, 1, struct.pack(">II", 12, 2)),
        "rational-6-0": (5, 1, struct.pack(">II", 6, 0)),
        "rational-13-2": (5, 1, struct.pack(">II", 13, 2)),
        "float": (11, 1, struct.pack(">f", 6.0)),
        "double": (12, 1, struct.pack(">d", 8.0)),
        "byte": (1, 1, b"\x06"),
        "sbyte": (6, 1, b"\x03"),
        "undefined": (7, 1, b"\x06"),
        "ascii": (2, 2, b"6\x00"),
        "short-count-2": (3, 2, short(6) + short(1)),
        "unknown-type-99": (99, 1, short(6)),
        "count-0": (3, 0, short(6)),
    }
    for name, (typ, count, val) in typed.items():
        out["jpeg-orientation-%s.jpg" % name] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, typ, count, val)]))
    out["jpeg-orientation-duplicate-3-then-6.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(3)), (0x0112, 3, 1, short(6))]))
    # Cut-off IFDs: what was read before the cut counts.
    full = ifd([(0x0112, 3, 1, short(8)), (0x010F, 2, 20, b"A" * 19 + b"\x00"), (0x0110, 2, 4, b"cam\x00")])
    out["jpeg-orientation-8-ifd-cut-after-tag.jpg"] = jpeg(im, b"Exif\x00\x00" + full[:8 + 2 + 12 + 6])
    late = ifd([(0x010F, 2, 20, b"A" * 19 + b"\x00"), (0x0112, 3, 1, short(8))])
    out["jpeg-orientation-8-after-out-of-range-value.jpg"] = jpeg(im, b"Exif\x00\x00" + late[:8 + 2 + 24 + 4])
    out["jpeg-orientation-ifd-count-too-big.jpg"] = jpeg(im, b"Exif\x00\x00" + orient_ifd(5)[:8] + b"\x00\x05" + orient_ifd(5)[10:])
    out["jpeg-orientation-ifd-offset-0.jpg"] = jpeg(im, b"Exif\x00\x00MM\x00\x2A\x00\x00\x00\x00")
    out["jpeg-orientation-ifd-offset-far.jpg"] = jpeg(im, b"Exif\x00\x00MM\x00\x2A\x00\x00\x10\x00" + orient_ifd(6)[8:])
    out["jpeg-orientation-6-ifd-at-16.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6))], offset=16))
    # Sub-IFDs that exif_transpose rewrites.
    sub = ifd([(0x0112, 3, 1, short(6)), (0x8769, 4, 1, struct.pack(">I", 26))]) + b"\x00\x01" + struct.pack(">HHI", 0x9000, 7, 4) + b"0230" + b"\x00" * 4
    out["jpeg-orientation-6-exif-subifd.jpg"] = jpeg(im, b"Exif\x00\x00" + sub)
    out["jpeg-orientation-6-subifd-out-of-range.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6)), (0x8769, 4, 1, struct.pack(">I", 5000))]))
    out["jpeg-orientation-6-gps-pointer.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6)), (0x8825, 4, 1, struct.pack(">I", 5000))]))
    out["jpeg-orientation-6-subifd-pointer-short-count-2.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6)), (0x8769, 3, 2, short(8) + short(9))]))
    # Tags exif_transpose cannot write back when it drops the orientation:
    # it raises, and the image stays as it is.
    rewrite = {
        "make-rational": (0x010F, 5, 1, struct.pack(">II", 1, 2)),
        "compression-70000": (0x0103, 4, 1, struct.pack(">I", 70000)),
        "compression-float": (0x0103, 11, 1, struct.pack(">f", 1.0)),
        "resolutionunit-text-inch": (0x0128, 2, 5, b"inch\x00"),
        "resolutionunit-text-foo": (0x0128, 2, 4, b"foo\x00"),
        "xresolution-negative": (0x011A, 10, 1, struct.pack(">ii", -72, 1)),
        "xresolution-zero-denominator": (0x011A, 5, 1, struct.pack(">II", 72, 0)),
        "stripoffsets-two": (0x0111, 4, 2, struct.pack(">II", 1, 2)),
        "exififd-text": (0x8769, 2, 4, b"abc\x00"),
        "exififd-negative": (0x8769, 9, 1, struct.pack(">i", -1)),
        "gpsifd-rational": (0x8825, 5, 1, struct.pack(">II", 1, 1)),
        "xmp-tag-short-300": (0x02BC, 3, 1, short(300)),
        "unknown-tag-long8-big": (0x9999, 16, 1, struct.pack(">Q", 1 << 33)),
        "unknown-tag-srational-negative": (0x9999, 10, 1, struct.pack(">ii", -6, 1)),
    }
    for name, entry in rewrite.items():
        out["jpeg-orientation-6-%s.jpg" % name] = jpeg(im, b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6)), entry]))
    interop = ifd([(0x0112, 3, 1, short(6)), (0x8769, 4, 1, struct.pack(">I", 38))]) + b"\x00\x01" + struct.pack(">HHI", 0xA005, 2, 4) + b"abc\x00" + b"\x00" * 4
    out["jpeg-orientation-6-interop-pointer-text.jpg"] = jpeg(im, b"Exif\x00\x00" + interop)

    # Broken EXIF blocks.
    out["jpeg-exif-bad-magic.jpg"] = jpeg(im, segments=app1(b"Exif\x00\x00XX\x00\x2A\x00\x00\x00\x08"))
    out["jpeg-exif-no-second-nul-orientation-6.jpg"] = jpeg(im, segments=app1(b"Exif\x00X" + orient_ifd(6)))
    out["jpeg-exif-header-cut-jfif-dpi.jpg"] = jpeg(im, segments=app1(b"Exif\x00\x00MM\x00\x2A"), dpi=(72, 72))
    out["jpeg-exif-second-app1-has-orientation.jpg"] = jpeg(im, segments=app1(b"Exif\x00\x00" + ifd([(0x010F, 2, 4, b"cam\x00")])) + app1(b"Exif\x00\x00" + orient_ifd(6)))
    out["jpeg-exif-empty.jpg"] = jpeg(im, segments=app1(b"Exif\x00\x00"))
    # XMP in JPEG: Pillow 9.4 keeps it in applist only.
    xmp_app1 = app1(b"http://ns.adobe.com/xap/1.0/\x00" + XMP_ATTR % 6)
    out["jpeg-xmp-orientation-6-no-exif.jpg"] = jpeg(im, segments=xmp_app1)
    out["jpeg-xmp-orientation-6-exif-without-tag.jpg"] = jpeg(im, b"Exif\x00\x00" + ifd([(0x010F, 2, 4, b"cam\x00")]), segments=xmp_app1)
    # Other JPEG kinds, rotated.
    out["jpeg-grey-orientation-5.jpg"] = jpeg(picture(11, 7, 2, "L"), b"Exif\x00\x00" + orient_ifd(5))
    out["jpeg-cmyk-orientation-8.jpg"] = jpeg(picture(9, 13, 3, "CMYK"), b"Exif\x00\x00" + orient_ifd(8))
    out["jpeg-progressive-orientation-6.jpg"] = jpeg(picture(17, 10, 4), b"Exif\x00\x00" + orient_ifd(6), progressive=True)
    trunc = jpeg(im, b"Exif\x00\x00" + orient_ifd(6))
    out["jpeg-orientation-6-truncated.jpg"] = trunc[:len(trunc) - 30]

    # PNG.
    pim = picture(11, 8, 5)
    ex = lambda v, bo="MM": (b"eXIf", orient_ifd(v, bo))
    for v in (2, 3, 5, 6, 7, 8):
        out["png-exif-%d.png" % v] = png_with(pim, [ex(v)])
    out["png-exif-6-ii.png"] = png_with(pim, [ex(6, "II")])
    out["png-exif-invalid-9.png"] = png_with(pim, [ex(9)])
    out["png-exif-after-idat-6.png"] = png_with(pim, after=[ex(6)])
    out["png-exif-before-3-after-6.png"] = png_with(pim, [ex(3)], [ex(6)])
    out["png-exif-two-before-3-then-8.png"] = png_with(pim, [ex(3), ex(8)])
    out["png-exif-two-after-3-then-8.png"] = png_with(pim, after=[ex(3), ex(8)])
    out["png-exif-prefixed-exif00-6.png"] = png_with(pim, [(b"eXIf", b"Exif\x00\x00" + orient_ifd(6))])
    out["png-exif-prefixed-with-xmp-8.png"] = png_with(pim, [(b"eXIf", b"Exif\x00\x00" + orient_ifd(6)), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 8)])
    out["png-exif-header-cut-with-xmp-8.png"] = png_with(pim, [(b"eXIf", b"MM\x00\x2A"), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 8)])
    out["png-exif-empty-with-xmp-8.png"] = png_with(pim, [(b"eXIf", b""), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 8)])
    out["png-exif-rational-orientation.png"] = png_with(pim, [(b"eXIf", ifd([(0x0112, 5, 1, struct.pack(">II", 14, 2))]))])
    # XMP.
    out["png-xmp-attr-6.png"] = png_with(pim, [itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-element-8.png"] = png_with(pim, [itxt(b"XML:com.adobe.xmp", XMP_ELEM % 8)])
    out["png-xmp-compressed-itxt-5.png"] = png_with(pim, [itxt(b"XML:com.adobe.xmp", XMP_ATTR % 5, True)])
    out["png-xmp-text-3.png"] = png_with(pim, [(b"tEXt", b"XML:com.adobe.xmp\x00" + XMP_ATTR % 3)])
    out["png-xmp-ztxt-7.png"] = png_with(pim, [pngc.ztxt(b"XML:com.adobe.xmp", XMP_ELEM % 7)])
    out["png-xmp-after-idat-6.png"] = png_with(pim, after=[itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-after-idat-exif-before-without-tag.png"] = png_with(pim, [(b"eXIf", ifd([(0x010F, 2, 4, b"cam\x00")]))], [itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-9.png"] = png_with(pim, [itxt(b"XML:com.adobe.xmp", XMP_ATTR % 9)])
    out["png-xmp-6-exif-orientation-1.png"] = png_with(pim, [ex(1), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-6-exif-orientation-3.png"] = png_with(pim, [ex(3), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-6-exif-without-tag.png"] = png_with(pim, [(b"eXIf", ifd([(0x010F, 2, 4, b"cam\x00")])), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-6-exif-invalid-0.png"] = png_with(pim, [ex(0), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-xmp-two-values-first-wins.png"] = png_with(pim, [itxt(b"XML:com.adobe.xmp", (XMP_ATTR % 6) + (XMP_ELEM % 3))])
    # EXIF in text chunks.
    out["png-text-exif-key-6.png"] = png_with(pim, [(b"tEXt", b"exif\x00Exif\x00\x00" + orient_ifd(6))])
    out["png-ztxt-exif-key-6.png"] = png_with(pim, [pngc.ztxt(b"exif", b"Exif\x00\x00" + orient_ifd(6))])
    out["png-raw-profile-exif-6.png"] = png_with(pim, [pngc.ztxt(b"Raw profile type exif", raw_profile(b"Exif\x00\x00" + orient_ifd(6)))])
    out["png-raw-profile-exif-8-text.png"] = png_with(pim, [(b"tEXt", b"Raw profile type exif\x00" + raw_profile(b"Exif\x00\x00" + orient_ifd(8)))])
    out["png-raw-profile-bad-hex-with-xmp.png"] = png_with(pim, [pngc.ztxt(b"Raw profile type exif", b"\nexif\n 4\nzz00\n"), itxt(b"XML:com.adobe.xmp", XMP_ATTR % 6)])
    out["png-raw-profile-and-exif-chunk.png"] = png_with(pim, [pngc.ztxt(b"Raw profile type exif", raw_profile(b"Exif\x00\x00" + orient_ifd(6))), ex(3)])
    out["png-exif-6-tag-not-writable.png"] = png_with(pim, [(b"eXIf", ifd([(0x0112, 3, 1, short(6)), (0x0103, 4, 1, struct.pack(">I", 70000))]))])
    out["png-raw-profile-6-tag-not-writable.png"] = png_with(pim, [pngc.ztxt(b"Raw profile type exif", raw_profile(b"Exif\x00\x00" + ifd([(0x0112, 3, 1, short(6)), (0x010F, 5, 1, struct.pack(">II", 1, 2))])))])
    out["png-palette-exif-6.png"] = png_with(pim.convert("P", palette=Image.ADAPTIVE, colors=8), [ex(6)])
    out["png-rgba-exif-5.png"] = png_with(picture(10, 7, 6).convert("RGBA"), [ex(5)])

    # WebP (lossless: the pixels are exact).
    wim = picture(12, 9, 7)
    for v in (3, 6, 8):
        out["webp-exif-%d.webp" % v] = webp(wim, b"Exif\x00\x00" + orient_ifd(v))
    out["webp-exif-no-prefix-6.webp"] = webp(wim, orient_ifd(6))
    out["webp-exif-invalid-9.webp"] = webp(wim, orient_ifd(9))
    out["webp-xmp-orientation-6.webp"] = webp(wim, xmp=XMP_ATTR % 6)
    base = webp(wim)
    cs = riff_chunks(base)
    assert cs[0][0] == b"VP8L", cs[0][0]
    out["webp-simple-with-exif-chunk-6.webp"] = riff(cs + [(b"EXIF", orient_ifd(6))])
    vx = riff_chunks(webp(wim, orient_ifd(3)))
    out["webp-two-exif-chunks-3-then-6.webp"] = riff(vx + [(b"EXIF", orient_ifd(6))])
    flags = bytearray(vx[0][1])
    flags[0] &= ~0x08
    out["webp-exif-flag-cleared-3.webp"] = riff([(b"VP8X", bytes(flags))] + vx[1:])
    out["webp-exif-before-image-3.webp"] = riff([vx[0], vx[2], vx[1]])
    out["webp-exif-empty-chunk.webp"] = riff([vx[0], vx[1], (b"EXIF", b"")])
    return out


def main():
    write_class("orient", variants())


if __name__ == "__main__":
    main()
