// Package jpegtest writes JPEG files that Go's encoder cannot (CMYK,
// YCCK, 4:4:4, progressive, restart markers, arithmetic coding), through
// libjpeg-turbo, for decoder tests.
package jpegtest
