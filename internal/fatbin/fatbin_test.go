package fatbin

import (
	"bytes"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/featurizer/featurizer/download"
)

// entry is one device-code entry: a 64-byte header and a payload filled
// with a byte that names it.
func entry(arch uint32, n int, fill byte) []byte {
	h := make([]byte, 64)
	binary.LittleEndian.PutUint16(h[0:], 2) // cubin
	binary.LittleEndian.PutUint32(h[4:], 64)
	binary.LittleEndian.PutUint64(h[8:], uint64(n))
	binary.LittleEndian.PutUint32(h[28:], arch)
	return append(h, bytes.Repeat([]byte{fill}, n)...)
}

func container(entries ...[]byte) []byte {
	var payload []byte
	for _, e := range entries {
		payload = append(payload, e...)
	}
	h := make([]byte, 16)
	binary.LittleEndian.PutUint32(h, containerMagic)
	binary.LittleEndian.PutUint16(h[4:], 1)
	binary.LittleEndian.PutUint16(h[6:], 16)
	binary.LittleEndian.PutUint64(h[8:], uint64(len(payload)))
	return append(h, payload...)
}

// elfWith builds a small shared library whose .nv_fatbin section holds
// blob (gcc and objcopy, as cgo needs anyway).
func elfWith(t *testing.T, blob []byte) []byte {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.c"), []byte("int answer(void) { return 42; }\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "fatbin"), blob, 0o644)
	for _, c := range [][]string{
		{"gcc", "-shared", "-fPIC", "-o", "a.so", "a.c"},
		{"objcopy", "--add-section", ".nv_fatbin=fatbin", "--set-section-flags", ".nv_fatbin=alloc,readonly", "a.so", "b.so"},
	} {
		cmd := exec.Command(c[0], c[1:]...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("%v: %v %s (needs gcc and binutils)", c, err, out)
		}
	}
	b, err := os.ReadFile(filepath.Join(dir, "b.so"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSlim(t *testing.T) {
	c1 := container(entry(75, 100, 0x75), entry(90, 300, 0x90), entry(120, 200, 0x12))
	c2 := container(entry(90, 50, 0x91))
	c3 := container(entry(120, 40, 0x13)) // for another GPU only
	blob := append(append(append(append([]byte{}, c1...), make([]byte, 8)...), c2...), c3...)
	file := elfWith(t, blob)
	before := len(file)
	st, err := Slim(file, map[uint32]bool{90: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(file) != before {
		t.Fatalf("file size changed: %d -> %d", before, len(file))
	}
	if st.Containers != 3 || st.Untouched != 1 || st.ByArch[90] != 350 || st.ByArch[75] != 100 || st.ByArch[120] != 240 {
		t.Fatalf("stats %+v", st)
	}
	off, size, _ := Section(file)
	sec := file[off : off+size]
	want := append(append([]byte{}, container(entry(90, 300, 0x90))...), make([]byte, len(c1)-len(container(entry(90, 300, 0x90))))...)
	if !bytes.Equal(sec[:len(c1)], want) {
		t.Error("the first container is not its sm_90 entry followed by zeroes")
	}
	if rest := sec[len(c1):]; !bytes.Equal(rest, blob[len(c1):]) {
		t.Error("containers with nothing to drop, and padding, changed")
	}
	if st.Zeroed != int64(len(c1)-len(container(entry(90, 300, 0x90)))) {
		t.Errorf("zeroed %d", st.Zeroed)
	}
	// Slimming again keeps everything that is left.
	again, err := Slim(file, map[uint32]bool{90: true})
	if err != nil || again.Zeroed != 0 || again.ByArch[90] != 350 {
		t.Errorf("second pass: %+v %v", again, err)
	}
	if _, err := Slim(elfWith(t, blob), map[uint32]bool{86: true}); err == nil {
		t.Error("no code for sm_86 at all, and no error")
	}
	if _, err := Slim([]byte("not an elf"), map[uint32]bool{90: true}); err == nil {
		t.Error("not an ELF file, and no error")
	}
}

// The real CUDA provider of make setup-gpu: sm_90 code is kept whole.
func TestSlimProvider(t *testing.T) {
	p := filepath.Join(download.CacheDir(), "onnxruntime", "1.29.0-cuda13", "libonnxruntime_providers_cuda.so")
	file, err := os.ReadFile(p)
	if err != nil {
		if os.Getenv("FEATURIZER_REQUIRE_GPU_RUNTIME") != "" {
			t.Fatal(err)
		}
		t.Skipf("no GPU runtime (make setup-gpu): %v", err)
	}
	st, err := Slim(file, map[uint32]bool{90: true})
	if err != nil {
		t.Fatal(err)
	}
	if st.Kept < st.ByArch[90] {
		t.Errorf("kept %d of %d bytes of sm_90 code", st.Kept, st.ByArch[90])
	}
	if len(st.ByArch) < 2 || st.Zeroed < st.Kept {
		t.Errorf("nothing much dropped: %+v", st)
	}
	again, err := Slim(file, map[uint32]bool{90: true})
	if err != nil || again.ByArch[90] != st.ByArch[90] || again.Zeroed != 0 {
		t.Errorf("after slimming, the sm_90 code is not all there: %+v %v", again, err)
	}
	t.Logf("%d containers, %v; kept %.1f MB, zeroed %.1f MB", st.Containers, st.Archs(), float64(st.Kept)/1e6, float64(st.Zeroed)/1e6)
}
