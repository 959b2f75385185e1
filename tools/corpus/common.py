"""What every corpus generator shares: where its class's files go and how
they are written (make corpus passes the folder; the default is the
committed one)."""
import os
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "featurize", "testdata", "corpus")


def write_class(cls, files):
    """Replace the folder of class cls with files ({name: bytes})."""
    outdir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, cls)
    os.makedirs(outdir, exist_ok=True)
    for f in os.listdir(outdir):
        os.remove(os.path.join(outdir, f))
    total = 0
    for name, data in sorted(files.items()):
        with open(os.path.join(outdir, name), "wb") as f:
            f.write(data)
        total += len(data)
    print("%d files, %d bytes" % (len(os.listdir(outdir)), total))
