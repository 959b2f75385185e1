// Package corrupt writes corpora of broken and unusual image files, the
// inputs a batch job meets in real data: each must either decode correctly
// or be rejected with a reason, never crash the job. Write makes the mixed
// corpus; WriteDamagedJPEGs and WriteDamagedGIFs make seeded damaged
// corpora, and the Pillow helpers ask Debian's Pillow for its verdict on
// each file, the reference the decoders are held to.
package corrupt
