package tests

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/creack/pty"
	"github.com/featurizer/featurizer/internal/testmodels"
	"github.com/featurizer/featurizer/internal/testservers"
)

// progressImages writes n small labelled images and bad broken files
// named like images (rejects) under dir.
func progressImages(t *testing.T, dir string, n, bad int) {
	t.Helper()
	for i := 0; i < n; i++ {
		class := []string{"cats", "dogs"}[i%2]
		writePNG(t, filepath.Join(dir, class, fmt.Sprintf("%04d.png", i)), picture(96+i%7, 80+i%5, i))
	}
	for i := 0; i < bad; i++ {
		os.WriteFile(filepath.Join(dir, "cats", fmt.Sprintf("broken%d.png", i)), []byte("not a png"), 0o644)
	}
}

// runInPty runs the CLI with its stdout and stderr on a pseudo-terminal
// of 120 columns, as a person at a terminal would, and returns what the
// terminal got.
func runInPty(t *testing.T, args ...string) (string, int) {
	t.Helper()
	cmd := exec.Command(binary, args...)
	tty, err := pty.StartWithSize(cmd, &pty.Winsize{Rows: 40, Cols: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()
	var out bytes.Buffer
	read := make(chan error, 1)
	go func() {
		_, err := io.Copy(&out, tty)
		read <- err
	}()
	waited := make(chan error, 1)
	go func() { waited <- cmd.Wait() }()
	var werr error
	select {
	case werr = <-waited:
	case <-time.After(2 * time.Minute):
		cmd.Process.Kill()
		t.Fatalf("the CLI did not finish within 2 minutes; the terminal so far:\n%s", out.String())
	}
	// Linux ends the read with EIO once the child's side is closed.
	if err := <-read; err != nil && !errors.Is(err, syscall.EIO) {
		t.Fatal(err)
	}
	code := 0
	var ee *exec.ExitError
	if errors.As(werr, &ee) {
		code = ee.ExitCode()
	} else if werr != nil {
		t.Fatal(werr)
	}
	return out.String(), code
}

// frames splits a terminal's output into what each redraw of the bar
// showed (carriage returns and ANSI erase codes between them).
func frames(term string) []string {
	var out []string
	term = regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`).ReplaceAllString(term, "")
	for _, f := range regexp.MustCompile(`\r\n|\r|\n`).Split(term, -1) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// On a terminal, the bar (schollz/progressbar) shows the total as soon as
// it is known, well before the work is done, and ends on N/N with the
// rate, the rejects and the elapsed time; no frame shows a count without
// the total.
func TestProgressBarOnATerminal(t *testing.T) {
	fx := newFixture(t, testmodels.Options{})
	in := filepath.Join(fx.dir, "many")
	const n, bad = 300, 5
	progressImages(t, in, n, bad)
	term, code := runInPty(t, "featurize", "--backbone", fx.model, "--spec", fx.spec, "--input", in, "--output", filepath.Join(fx.dir, "out"),
		"--batch-size", "4", "--workers", "1", "--threads", "1")
	if code != exitOK {
		t.Fatalf("exit %d:\n%s", code, term)
	}
	total := n + bad
	count := regexp.MustCompile(`\((\d+)/([^,]+), `)
	var early, last string
	// Whatever the format: a count without its total ("76/-", "76/?").
	unknown := regexp.MustCompile(`\b([1-9]\d*)/[-?]`)
	for _, f := range frames(term) {
		if m := unknown.FindStringSubmatch(f); m != nil {
			t.Errorf("a frame shows %s done without the total: %q", m[1], f)
		}
		m := count.FindStringSubmatch(f)
		if m == nil {
			continue
		}
		if len(f) > 120 {
			t.Errorf("a frame wider than the terminal's 120 columns: %q", f)
		}
		done, _ := strconv.Atoi(m[1])
		if m[2] != strconv.Itoa(total) {
			continue
		}
		if done < total && early == "" {
			early = f
		}
		last = f
	}
	if early == "" {
		t.Errorf("no frame showed the total %d before the work was done:\n%s", total, term)
	} else if !regexp.MustCompile(`\[[0-9hms.]+:[0-9hms.]+\]$`).MatchString(early) {
		t.Errorf("the frame %q has no [elapsed:ETA]", early)
	}
	final := regexp.MustCompile(fmt.Sprintf(`^featurize: %d rejected 100%% \[=+\] \(%d/%d, ([0-9]+) img/s\) \[[0-9hms.]+\]$`, bad, total, total))
	if m := final.FindStringSubmatch(last); m == nil || m[1] == "0" {
		t.Errorf("the last frame is %q, want %v", last, final)
	}
	t.Logf("first frame with the total: %q; last: %q", early, last)
}

// In logs (no terminal), timestamped lines: the first as soon as the total
// is known, the last with done/total, rate, rejects and ETA.
func TestProgressLogLines(t *testing.T) {
	fx := newFixture(t, testmodels.Options{})
	in := filepath.Join(fx.dir, "many")
	const n, bad = 60, 3
	progressImages(t, in, n, bad)
	r := run(t, "featurize", "--backbone", fx.model, "--spec", fx.spec, "--input", in, "--output", filepath.Join(fx.dir, "out"),
		"--batch-size", "4", "--workers", "1", "--threads", "1", "--progress", "log")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	line := regexp.MustCompile(`(?m)^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ featurize: (\d+)/(\d+) images \((\d+)%\), ([0-9.]+) img/s, (\d+) rejected, eta (\S+)$`)
	ms := line.FindAllStringSubmatch(r.stderr, -1)
	if len(ms) < 2 {
		t.Fatalf("%d progress lines:\n%s", len(ms), r.stderr)
	}
	first, last := ms[0], ms[len(ms)-1]
	total := fmt.Sprint(n + bad)
	if first[2] != total || first[1] == total {
		t.Errorf("the first line %q does not give the total before the work is done", first[0])
	}
	if last[1] != total || last[2] != total || last[3] != "100" || last[5] != fmt.Sprint(bad) || last[6] != "0s" || last[4] == "0.0" {
		t.Errorf("the last line is %q", last[0])
	}
}

// A job's stages each report under their own name: every featurize stage
// with its total known before it ends, the train stage fit by fit and the
// refit.
func TestRunStagesReportProgress(t *testing.T) {
	dir, _, _ := trainSetup(t, 5)
	job := filepath.Join(dir, "job.yaml")
	os.WriteFile(job, []byte(strings.Replace(jobYAML, "reg_param: 0.01", "grid: [1, 0.1]", 1)), 0o644)
	r := run(t, "run", job, "--progress", "log")
	if r.code != exitOK {
		t.Fatalf("run: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for split, n := range map[string]int{"train": 72, "validation": 24, "test": 24} {
		lines := regexp.MustCompile(fmt.Sprintf(`(?m)^\S+ featurize %s: (\d+)/%d images .*, eta \S+$`, split, n)).FindAllStringSubmatch(r.stderr, -1)
		if len(lines) < 2 || lines[0][1] == fmt.Sprint(n) || lines[len(lines)-1][1] != fmt.Sprint(n) {
			t.Errorf("featurize %s: progress lines %q", split, lines)
		}
	}
	for _, want := range []string{"train: fit 1/2, reg_param 1\n", "train: fit 2/2, reg_param 0.1\n", "train: refit on train+validation, reg_param "} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("no %q in\n%s", want, r.stderr)
		}
	}
}

// From a bucket: the listing that counts runs beside the work, and the
// total is in the log long before the work ends.
func TestProgressFromABucket(t *testing.T) {
	needRuntime(t)
	srv := testservers.MinIO(t)
	fx := newFixture(t, testmodels.Options{})
	s3Images(t, filepath.Join(fx.dir, "s3"), 60, 64, 48, srv.Put) // and a broken file: 61 inputs
	r := run(t, "featurize", "--backbone", fx.model, "--spec", fx.spec, "--input", srv.URL("images"), "--output", filepath.Join(fx.dir, "out"),
		"--batch-size", "2", "--workers", "1", "--threads", "1", "--progress", "log")
	if r.code != exitOK {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ms := regexp.MustCompile(`(?m)^\S+ featurize: (\d+)/(\d+) images .*, (\d+) rejected, eta (\S+)$`).FindAllStringSubmatch(r.stderr, -1)
	if len(ms) < 2 || ms[0][2] != "61" || ms[0][1] == "61" {
		t.Fatalf("the total is not known before the work ends:\n%s", r.stderr)
	}
	if last := ms[len(ms)-1]; last[1] != "61" || last[2] != "61" || last[3] != "1" || last[4] != "0s" {
		t.Errorf("the last line is %q", last[0])
	}
}

// predict --model --features knows its work from the table's row count:
// the total is in the log before the first batch.
func TestPredictFeaturesProgressTotal(t *testing.T) {
	dir, _, _ := trainSetup(t, 4)
	f := func(s string) string { return filepath.Join(dir, "features", s) }
	model := filepath.Join(dir, "model")
	if r := run(t, "train", "--features", f("train"), "--validation", f("validation"), "--output", model, "--quiet"); r.code != exitOK {
		t.Fatalf("train: %d %s", r.code, r.stderr)
	}
	r := run(t, "predict", "--model", model, "--features", f("test"), "--output", filepath.Join(dir, "preds"), "--progress", "log")
	if r.code != exitOK {
		t.Fatalf("predict: %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	ms := regexp.MustCompile(`(?m)^\S+ \S+: (\d+)/(\d+) images .*$`).FindAllStringSubmatch(r.stderr, -1)
	if len(ms) < 2 || ms[0][2] != "24" || ms[0][1] == "24" || ms[len(ms)-1][1] != "24" {
		t.Fatalf("progress lines %q in\n%s", ms, r.stderr)
	}
}
