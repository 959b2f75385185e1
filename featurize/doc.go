// Package featurize turns images into feature rows: decoding exactly the
// files Pillow decodes, to Pillow's pixels (libjpeg-turbo for JPEG, libtiff
// for TIFF, libwebp for WebP, each driven as Pillow drives it; Pillow's own
// PNG, GIF and BMP readers ported to Go),
// preprocessing that matches PIL and torchvision bit for bit (Preprocessor,
// from a modelspec.Preprocessing), and Run, the concurrent pipeline.
//
// The pipeline is a type with one method per stage: list (and count, for
// progress), read, decode, batch (which restores input order), infer and
// write. The model is a Runner (*backbones.Engine is one) and the rows go to
// a Sink, so this package does not link ONNX Runtime. A bad input becomes a
// Reject with its stage; memory stays flat whatever the number of images.
package featurize
