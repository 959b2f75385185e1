"""Reference preprocessing with Pillow and torchvision, for the Go tests.

Reads a JSON list of jobs on stdin; for each writes the 8-bit RGB pixels the
model would see (and, for torchvision jobs, the normalized float32 tensor) to
the given output paths. Run with Debian's /usr/bin/python3.
"""
import json
import sys

import numpy as np
from PIL import Image, ImageOps


def load(path):
    # The same pixels as internal/corrupt/pillow_verdict.py's pixels().
    im = Image.open(path)
    if im.format == "TIFF" and getattr(im, "_tile_orientation", None):
        # Pillow before 10.1 turns a TIFF by its Orientation tag on load and
        # then lets exif_transpose turn it again (python-pillow/Pillow#7381,
        # fixed by #7383 in 10.1): featurizer turns it once, as 10.1 does.
        im.load()
        return finish(im)
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block leaves the image as it is
        im = Image.open(path)
    return finish(im)


def finish(im):
    """Alpha on white, 16-bit grey by its high byte, then RGB."""
    trns = im.info.get("transparency")
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # Pillow's own convert("RGB") clips 16-bit grey at 255; featurizer
        # keeps the high byte, as Pillow does for 16-bit colour.
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


def main():
    jobs = json.load(sys.stdin)
    for job in jobs:
        if "make" in job:  # write a test file in a format Go cannot encode
            src = Image.open(job["src"]).convert("RGB")
            src.save(job["path"], job["make"], lossless=job.get("lossless", False), quality=90)
            continue
        im = load(job["path"])
        if job["policy"] == "squash":
            out = im.resize((job["width"], job["height"]), Image.BILINEAR)
        elif job["policy"] == "crop":
            from torchvision import transforms
            t = transforms.Compose([
                transforms.Resize(job["size"]),
                transforms.CenterCrop((job["height"], job["width"])),
            ])
            out = t(im)
        else:  # plain resize of the whole image
            out = im.resize((job["width"], job["height"]), Image.BILINEAR)
        np.asarray(out, dtype=np.uint8).tofile(job["out"])
        if job.get("keras_mode"):
            # keras.applications' preprocess_input on a float32 NHWC array.
            x = np.asarray(out, dtype=np.float32)
            if job["keras_mode"] == "caffe":
                x = x[..., ::-1]
                x = x - np.array([103.939, 116.779, 123.68], dtype=np.float32)
            else:  # "tf"
                x = x / np.float32(127.5)
                x = x - np.float32(1.0)
            np.ascontiguousarray(x, dtype=np.float32).tofile(job["keras_out"])
        if job.get("tensor_out"):
            from torchvision import transforms
            norm = transforms.Compose([
                transforms.ToTensor(),
                transforms.Normalize(job["mean"], job["std"]),
            ])
            norm(out).numpy().astype(np.float32).tofile(job["tensor_out"])


if __name__ == "__main__":
    main()
