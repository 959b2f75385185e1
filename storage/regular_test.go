package storage

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A local store never opens a named pipe, a device or a directory as a file: the
// open would block (a pipe waits for a writer) or the read never end.
// The check is on the opened file, so a path replaced after the listing
// is caught too.
func TestLocalReadsRegularFilesOnly(t *testing.T) {
	dir := t.TempDir()
	pipe := filepath.Join(dir, "pipe.jpg")
	if err := syscall.Mkfifo(pipe, 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.jpg")
	os.Symlink(pipe, link)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for p, want := range map[string]string{pipe: "not a regular file (named pipe)", link: "not a regular file (named pipe)",
			"/dev/zero": "not a regular file (character device)", dir: "not a regular file (directory)"} {
			if _, err := NewLocal("").ReadFileLimit(context.Background(), p, 0); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("ReadFile %s: %v, want %q", p, err, want)
			}
			if _, err := NewLocal("").NewReader(context.Background(), p); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("NewReader %s: %v, want %q", p, err, want)
			}
			if _, err := NewLocal(filepath.Dir(p)).Open(context.Background(), filepath.Base(p)); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Open %s: %v, want %q", p, err, want)
			}
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an open blocked")
	}
	reg := filepath.Join(dir, "a.jpg")
	os.WriteFile(reg, []byte("jpeg"), 0o644)
	if b, err := NewLocal("").ReadFileLimit(context.Background(), reg, 0); err != nil || string(b) != "jpeg" {
		t.Errorf("regular file: %q %v", b, err)
	}
}

// A walk says what each path leads to, links followed.
func TestLocalWalkModes(t *testing.T) {
	dir := t.TempDir()
	syscall.Mkfifo(filepath.Join(dir, "pipe.jpg"), 0o644)
	os.WriteFile(filepath.Join(dir, "a.jpg"), []byte("twelve bytes"), 0o644)
	os.Symlink(filepath.Join(dir, "pipe.jpg"), filepath.Join(dir, "to-pipe.jpg"))
	os.Symlink(filepath.Join(dir, "a.jpg"), filepath.Join(dir, "to-a.jpg"))
	got := map[string]Entry{}
	NewLocal("").Walk(context.Background(), dir, func(e Entry) error { got[e.Rel] = e; return nil })
	for name, want := range map[string]fs.FileMode{"a.jpg": 0, "pipe.jpg": fs.ModeNamedPipe, "to-pipe.jpg": fs.ModeNamedPipe, "to-a.jpg": 0} {
		if got[name].Mode != want {
			t.Errorf("%s: mode %v, want %v", name, got[name].Mode, want)
		}
	}
	if got["to-a.jpg"].Size != 12 {
		t.Errorf("a link's size is its target's: %d", got["to-a.jpg"].Size)
	}
}
