// Command bench measures featurizer side by side with its baselines, in one
// run, and reports ratios (make bench):
//
//   - end-to-end featurize (the CLI, from image files to Parquet) against raw
//     ONNX Runtime on pre-decoded tensors, same model, same session options;
//   - end-to-end against a PyTorch CPU pipeline (torchvision + PIL DataLoader
//     with the same cores), for ResNet-50 and InceptionV3, under Debian's
//     torch 1.13 (-python) and, when make bench-env has made .venv-bench, a
//     current torch 2.x from PyPI (-python-current) with the settings its
//     docs recommend for CPU inference, each measured with and without
//     (channels_last, torch.compile, Inductor freezing);
//   - peak RSS of the ResNet-50 job on a small and a large image set;
//   - MobileNetV2 (decode-bound): img/s and where the time goes.
package main
