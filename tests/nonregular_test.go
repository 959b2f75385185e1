package tests

import (
	"bytes"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/table"
)

// start runs the CLI in the background; wait returns its exit code, or
// fails the test (killing it) when it has not ended within limit.
func start(t *testing.T, args ...string) (cmd *exec.Cmd, stderr *bytes.Buffer, wait func(limit time.Duration) int) {
	t.Helper()
	cmd = exec.Command(binary, args...)
	stderr = &bytes.Buffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	return cmd, stderr, func(limit time.Duration) int {
		t.Helper()
		select {
		case err := <-done:
			if ee, ok := err.(*exec.ExitError); ok {
				return ee.ExitCode()
			} else if err != nil {
				t.Fatal(err)
			}
			return 0
		case <-time.After(limit):
			cmd.Process.Kill()
			<-done
			t.Fatalf("%s did not end within %v\n%s", args[0], limit, stderr.String())
			return -1
		}
	}
}

// A named pipe, a socket or a link to a pipe named like an image is a
// reject at the read stage, never opened (opening a pipe waits for a
// writer forever); the job finishes, exit 0. Through a manifest too.
func TestNonRegularInputsAreRejects(t *testing.T) {
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	if err := syscall.Mkfifo(filepath.Join(in, "cats", "pipe.png"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(filepath.Join(dir, "elsewhere"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink(filepath.Join(dir, "elsewhere"), filepath.Join(in, "dogs", "link.png"))
	l, err := net.Listen("unix", filepath.Join(in, "sock.png"))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	want := map[string]string{"pipe.png": "not a regular file (named pipe)", "link.png": "not a regular file (named pipe)",
		"sock.png": "not a regular file (socket)"}

	manifest := filepath.Join(dir, "m.csv")
	os.WriteFile(manifest, []byte("path,label\nimages/cats/c0.png,cats\nimages/cats/pipe.png,cats\nimages/dogs/link.png,dogs\n"), 0o644)
	for _, src := range []string{in, manifest} {
		out := filepath.Join(dir, "out-"+filepath.Base(src))
		_, stderr, wait := start(t, "featurize", "--backbone", model, "--spec", spec, "--input", src, "--output", out, "--progress", "none")
		if code := wait(30 * time.Second); code != exitOK {
			t.Fatalf("%s: exit %d\n%s", src, code, stderr.String())
		}
		rejects, err := table.ReadAll[table.RejectRow](filepath.Join(out, table.RejectsDir))
		if err != nil {
			t.Fatal(err)
		}
		seen := 0
		for _, rj := range rejects {
			reason, ok := want[filepath.Base(rj.Path)]
			if !ok {
				continue
			}
			seen++
			if rj.Stage != "read" || !strings.Contains(rj.Error, reason) {
				t.Errorf("%s: %s: stage %q, error %q; want read, %q", src, rj.Path, rj.Stage, rj.Error, reason)
			}
		}
		if n := map[string]int{in: 3, manifest: 2}[src]; seen != n {
			t.Errorf("%s: %d of the %d special files are rejects: %+v", src, seen, n, rejects)
		}
	}
}

// Ctrl-C stops a job whose read is stuck (here: the open of a file under
// a lease, as an SMB oplock does, which waits up to lease-break-time,
// 45 s by default; a hung NFS or FUSE mount never returns): exit 130 at
// once, no _SUCCESS.
func TestInterruptWhileAReadWaits(t *testing.T) {
	needRuntime(t)
	if b, err := os.ReadFile("/proc/sys/fs/leases-enable"); err == nil && strings.TrimSpace(string(b)) == "0" {
		t.Skip("file leases are disabled on this machine (/proc/sys/fs/leases-enable)")
	}
	fx := newFixture(t, testmodels.Options{})
	dir, model, spec, in := fx.dir, fx.model, fx.spec, fx.in
	leased := filepath.Join(in, "cats", "c1.png")
	f, err := os.Open(leased)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fcntl := func(cmd, arg int) (int, error) {
		r, _, e := syscall.Syscall(syscall.SYS_FCNTL, f.Fd(), uintptr(cmd), uintptr(arg))
		if e != 0 {
			return 0, e
		}
		return int(r), nil
	}
	// The lease breaker's signal to us (SIGIO) is ignored by Go programs.
	if _, err := fcntl(syscall.F_SETLEASE, syscall.F_WRLCK); err != nil {
		t.Fatalf("take a lease: %v", err)
	}
	defer fcntl(syscall.F_SETLEASE, syscall.F_UNLCK)

	out := filepath.Join(dir, "out")
	cmd, stderr, wait := start(t, "featurize", "--backbone", model, "--spec", spec, "--input", in, "--output", out,
		"--workers", "1", "--batch-size", "1", "--progress", "none")
	// Wait until the job's open of the leased file is waiting (the lease is
	// being broken), then interrupt.
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if v, err := fcntl(syscall.F_GETLEASE, 0); err == nil && v != syscall.F_WRLCK {
			break
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			t.Fatalf("the job never opened %s\n%s", leased, stderr.String())
		}
	}
	t0 := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	if code := wait(10 * time.Second); code != exitInterrupted {
		t.Fatalf("exit %d, want 130\n%s", code, stderr.String())
	}
	t.Logf("stopped %v after the signal", time.Since(t0).Round(time.Millisecond))
	if _, err := os.Stat(filepath.Join(out, table.SuccessFile)); err == nil {
		t.Error("_SUCCESS written by a stopped job")
	}
	noTempFiles(t, out)
}
