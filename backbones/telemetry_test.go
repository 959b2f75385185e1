package backbones

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// The trace file is removed only when it is this process's and empty.
func TestRemoveTelemetryTrace(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	mine := filepath.Join(os.TempDir(), fmt.Sprintf("mat-debug-%d.log", os.Getpid()))
	other := filepath.Join(os.TempDir(), fmt.Sprintf("mat-debug-%d.log", os.Getpid()+1))
	for _, p := range []string{mine, other} {
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	removeTelemetryTrace()
	if _, err := os.Stat(mine); err == nil {
		t.Error("this process's empty trace file is still there")
	}
	if _, err := os.Stat(other); err != nil {
		t.Error("another process's trace file was removed")
	}
	os.WriteFile(mine, []byte("written by someone\n"), 0o644)
	removeTelemetryTrace()
	if _, err := os.Stat(mine); err != nil {
		t.Error("a trace file with content was removed")
	}
}
