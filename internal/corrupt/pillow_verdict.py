"""Pillow's verdict on image files: the judge of what featurizer accepts.

Reads file paths, one per line, on stdin; writes one JSON object per line:
{"path", "ok", "error", "width", "height", "sha256", "pixels_error"}. A file is accepted
exactly when Image.open(path).convert("RGB") succeeds (convert loads the
pixels). The hash is over the RGB pixels featurizer must produce from it:
EXIF orientation applied (ImageOps.exif_transpose; a broken EXIF block
leaves the image as it is; a TIFF turned once by its Orientation tag, as
Pillow 10.1 and later do), alpha composited on white, 16-bit grey by its
high byte (featurize/testdata/reference.py does the same).
"""
import hashlib
import json
import sys
import warnings

import numpy as np
from PIL import Image, ImageOps

warnings.simplefilter("ignore")


def pixels(path):
    im = Image.open(path)
    if im.format == "TIFF" and getattr(im, "_tile_orientation", None):
        # Pillow before 10.1 turns a TIFF by its Orientation tag on load and
        # then lets exif_transpose turn it again (python-pillow/Pillow#7381,
        # fixed by #7383 in 10.1): featurizer turns it once, as 10.1 does.
        im.load()
        return finish(im)
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:
        im = Image.open(path)
    return finish(im)


def finish(im):
    """Alpha on white, 16-bit grey by its high byte, then RGB."""
    trns = im.info.get("transparency")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        a = np.asarray(im).astype(np.uint32)
        grey = Image.fromarray((a >> 8).astype(np.uint8))
        if not isinstance(trns, int):
            return grey.convert("RGB")
        im = grey.convert("RGBA")
        im.putalpha(Image.fromarray(np.where(a == trns, 0, 255).astype(np.uint8)))
    if im.mode in ("RGBA", "LA", "PA") or (im.mode in ("P", "1", "L", "RGB") and trns is not None):
        im = im.convert("RGBA")
        bg = Image.new("RGBA", im.size, (255, 255, 255, 255))
        bg.paste(im, mask=im.split()[3])
        im = bg
    return im.convert("RGB")


for line in sys.stdin:
    path = line.rstrip("\n")
    if not path:
        continue
    out = {"path": path, "ok": False}
    try:
        with Image.open(path) as im:
            im.convert("RGB")
    except Exception as e:  # every exception is a refusal
        out["error"] = "%s: %s" % (type(e).__name__, e)
    else:
        out["ok"] = True
        try:
            rgb = pixels(path)
        except Exception as e:
            # Pillow opens it but cannot composite it (a transparency table
            # longer than the palette): no pixels to compare.
            out["pixels_error"] = "%s: %s" % (type(e).__name__, e)
        else:
            out.update(width=rgb.width, height=rgb.height,
                       sha256=hashlib.sha256(rgb.tobytes()).hexdigest())
    print(json.dumps(out), flush=True)
