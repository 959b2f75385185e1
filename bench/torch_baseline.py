"""PyTorch CPU baseline for `make bench`: torchvision model (random weights,
classifier replaced by Identity), PIL + torchvision transforms in a DataLoader,
batch 32, the same cores. Prints one JSON line with images per second.

Runs under Debian's torch 1.13 and under a current torch 2.x (make bench-env):
what PyTorch's CPU inference guidance recommends is behind flags, so each
setting can be measured with and without: torch.inference_mode (always),
--channels-last, --compile (torch.compile, Inductor) and --freezing (Inductor's
freezing of the weights into constants, for inference). Compilation happens
before the clock starts, on every batch shape the timed pass will see."""
import argparse
import contextlib
import json
import os
import time

import torch
import torchvision
from PIL import Image
from torchvision import transforms


class Files(torch.utils.data.Dataset):
    def __init__(self, root, tf):
        self.paths = sorted(
            os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs
            if f.lower().endswith((".jpg", ".jpeg", ".png", ".bmp")))
        self.tf = tf

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        return self.tf(Image.open(self.paths[i]).convert("RGB"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--arch", required=True, choices=["resnet50", "inception_v3"])
    ap.add_argument("--images", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--fp16", action="store_true", help="half precision (cuda): the model in float16")
    ap.add_argument("--autocast", action="store_true", help="float16 autocast (cuda), what PyTorch recommends")
    ap.add_argument("--channels-last", action="store_true", help="channels_last memory format")
    ap.add_argument("--compile", action="store_true", help="torch.compile (torch 2.x; Inductor), compiled before timing")
    ap.add_argument("--freezing", action="store_true", help="with --compile: torch._inductor.config.freezing (inference)")
    ap.add_argument("--repeat", type=int, default=1, help="passes over the images (after one untimed pass)")
    a = ap.parse_args()
    if a.freezing and not a.compile:
        ap.error("--freezing needs --compile")
    torch.set_num_threads(a.threads)
    if a.arch == "inception_v3":
        model = torchvision.models.inception_v3(aux_logits=False, init_weights=True)
        resize, crop = 342, 299
    else:
        model = torchvision.models.resnet50()
        resize, crop = 256, 224
    model.fc = torch.nn.Identity()
    model.eval().to(a.device)
    dtype = torch.float16 if a.fp16 else torch.float32
    if a.fp16:
        model.half()
    fmt = torch.channels_last if a.channels_last else torch.contiguous_format
    model.to(memory_format=fmt)
    amp = torch.autocast(a.device, dtype=torch.float16) if a.autocast else contextlib.nullcontext()
    run = model
    if a.compile:
        if a.freezing:
            import torch._inductor.config as inductor_config
            inductor_config.freezing = True
        # Static shapes: one graph per batch shape, all compiled below.
        run = torch.compile(model, dynamic=False)
    tf = transforms.Compose([
        transforms.Resize(resize), transforms.CenterCrop(crop), transforms.ToTensor(),
        transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    ds = Files(a.images, tf)
    dl = torch.utils.data.DataLoader(ds, batch_size=a.batch, num_workers=a.threads,
                                     pin_memory=a.device != "cpu", persistent_workers=a.repeat > 1)
    def move(x):
        return x.to(a.device, dtype, non_blocking=True).contiguous(memory_format=fmt)

    # Warm-up on the shapes of the timed pass (a full batch and the last,
    # partial one): torch.compile compiles each here, not on the clock.
    shapes = sorted({min(a.batch, len(ds)), len(ds) % a.batch} - {0})
    with torch.inference_mode(), amp:
        t_warm = time.perf_counter()
        for b in shapes:
            run(move(torch.zeros(b, 3, crop, crop)))
        warm = time.perf_counter() - t_warm
        if a.repeat > 1:
            for x in dl:  # untimed pass: page cache, cuDNN autotuning
                run(move(x)).sum().item()
        n, t0 = 0, time.perf_counter()
        for _ in range(a.repeat):
            for x in dl:
                f = run(move(x))
                n += f.shape[0]
        if a.device != "cpu":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    print(json.dumps({"images": n, "seconds": dt, "images_per_second": n / dt, "torch": torch.__version__,
                      "threads": a.threads, "workers": a.threads, "device": a.device, "fp16": a.fp16,
                      "autocast": a.autocast, "channels_last": a.channels_last, "compile": a.compile,
                      "freezing": a.freezing, "warmup_seconds": warm, "batch": a.batch}))


if __name__ == "__main__":
    main()
