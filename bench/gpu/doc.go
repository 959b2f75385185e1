// Command gpubench measures featurizer on a GPU in one run, for
// scripts/gpu-check.sh on a lent GPU machine (and, with -device cpu, on
// any machine, to check the script itself). It writes one JSON report and
// prints a table:
//
//   - parity: features with -device against the CPU on the same photos
//     (relative L2 per row, the largest and the mean);
//   - decode capacity: decode + preprocess only, one worker per core, the
//     ceiling of any end-to-end run on this machine;
//   - raw ONNX Runtime on pre-decoded batches, float32 and float16, at each
//     batch size;
//   - end to end (the CLI, files to Parquet), float32 and float16, with and
//     without --fast-decode, with the device's busy share from the job and
//     the GPU's utilization sampled by nvidia-smi;
//   - the PyTorch peer: torchvision + PIL DataLoader on the same files, one
//     worker per core, float16 autocast on the GPU.
package main
