package main

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/featurizer/featurizer/head"
)

// clock is a fake time.Now that tests move.
type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

// barFrames splits what a bar wrote into the lines it drew (a carriage
// return starts each; ANSI erase codes end them).
func barFrames(s string) []string {
	var out []string
	for _, f := range regexp.MustCompile(`\r|\n`).Split(regexp.MustCompile(`\x1b\[[0-9;]*[A-Za-z]`).ReplaceAllString(s, ""), -1) {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// The bar is a spinner with the count until the total is known, then
// done/total, the share, the rate, elapsed:ETA and the rejects, fitted to
// the width (80 columns off a terminal); the frame that reaches the total
// shows it with the final rejects and ends the line.
func TestBarProgressFrames(t *testing.T) {
	var out bytes.Buffer
	p := newBarProgress(&out, "featurize", 0)
	p.Start()
	p.Update(2000, 1)
	// The count, then the rejects (a frame each, unthrottled).
	if fs := barFrames(out.String()); len(fs) != 3 ||
		!regexp.MustCompile(`^. featurize: 0 rejected \(0/-, 0 img/hr\) \[\d+s\]$`).MatchString(fs[0]) ||
		!regexp.MustCompile(`^. featurize: 1 rejected \(2000/-, \d+ img/s\) \[\d+s\]$`).MatchString(fs[2]) {
		t.Fatalf("before the total: %q", fs)
	}
	out.Reset()
	p.Total(20000)
	p.Update(4000, 3)
	p.Update(20000, 5)
	p.Finish()
	p.Finish() // once is enough
	s := out.String()
	fs := barFrames(s)
	if len(fs) < 3 {
		t.Fatalf("frames %q", fs)
	}
	// The count stays exact through the spinner: 2000 of 20000 is 10%.
	if !regexp.MustCompile(`^featurize: 1 rejected  10% \[=*>\.+\] \(2000/20000, \d+ img/s\) \[\d+s:\d+s\]$`).MatchString(fs[0]) {
		t.Errorf("with the total: %q", fs[0])
	}
	last := fs[len(fs)-1]
	if !regexp.MustCompile(`^featurize: 5 rejected 100% \[=+\] \(20000/20000, [1-9]\d* img/s\) \[\d+s\]$`).MatchString(last) {
		t.Errorf("last frame %q", last)
	}
	for _, f := range fs {
		if strings.Contains(f, "/-") {
			t.Errorf("a frame without the total once known: %q", f)
		}
		if len(f) > 80 {
			t.Errorf("%d columns: %q", len(f), f)
		}
	}
	if !strings.HasSuffix(s, "\x1b[0K\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("the line ends %q", s)
	}
}

// Redraws are throttled, but the total is drawn as soon as it is known,
// and so is the frame that reaches it, or where a stopped run stopped.
func TestBarProgressThrottled(t *testing.T) {
	var out bytes.Buffer
	p := newBarProgress(&out, "featurize", time.Hour)
	p.Start()
	p.Update(5, 0)
	p.Total(100)
	for i := int64(6); i <= 100; i++ {
		p.Update(i, i/10)
	}
	p.Finish()
	fs := barFrames(out.String())
	if len(fs) != 3 || !strings.Contains(fs[0], "(0/-, ") || !strings.Contains(fs[1], "   5% [") || !strings.Contains(fs[1], "(5/100, ") ||
		!strings.HasPrefix(fs[2], "featurize: 10 rejected 100% [") || !strings.Contains(fs[2], "(100/100, ") {
		t.Errorf("frames %q", fs)
	}
}

// A run that stops short draws where it stopped (no 100%) and ends the
// line.
func TestBarProgressStopped(t *testing.T) {
	var out bytes.Buffer
	p := newBarProgress(&out, "featurize test", time.Hour)
	p.Start()
	p.Total(100)
	p.Update(40, 2)
	p.Finish()
	s := out.String()
	fs := barFrames(s)
	if last := fs[len(fs)-1]; !strings.HasPrefix(last, "featurize test: 2 rejected  40% [") || !strings.Contains(last, "(40/100, ") {
		t.Errorf("last frame %q", last)
	}
	if !strings.HasSuffix(s, "\n") || strings.Count(s, "\n") != 1 {
		t.Errorf("the line ends %q", s)
	}
}

// Log lines: the first as soon as the total is known, then one per
// interval, and a last one at the end.
func TestLogProgressLines(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	var out bytes.Buffer
	p := newLogProgress(&out, "featurize validation", 10*time.Second)
	p.m.now = c.now
	p.Start()
	p.Total(1000)
	c.advance(4 * time.Second)
	p.Update(100, 0) // within the interval: no line
	c.advance(6 * time.Second)
	p.Update(250, 2)
	c.advance(30 * time.Second)
	p.Update(1000, 5)
	p.Finish()
	want := "2001-09-09T01:46:40Z featurize validation: 0/1000 images (0%), 0.0 img/s, 0 rejected, eta ?\n" +
		"2001-09-09T01:46:50Z featurize validation: 250/1000 images (25%), 25.0 img/s, 2 rejected, eta 30s\n" +
		"2001-09-09T01:47:20Z featurize validation: 1000/1000 images (100%), 25.0 img/s, 5 rejected, eta 0s\n"
	if out.String() != want {
		t.Errorf("got\n%swant\n%s", out.String(), want)
	}
}

// Training: a line per fit (the refit named), iterations as they go.
func TestTrainProgressLines(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	var out bytes.Buffer
	p := &trainProgress{w: &out, every: 10 * time.Second, now: c.now}
	p.Fit(head.Fit{Index: 1, Count: 13, Lambda: 1})
	c.advance(11 * time.Second)
	p.Iteration(40, 200)
	p.Fit(head.Fit{Index: 1, Count: 1, Lambda: 0.01, Refit: true})
	want := "2001-09-09T01:46:40Z train: fit 1/13, reg_param 1\n" +
		"2001-09-09T01:46:51Z train: fit 1/13, reg_param 1, iteration 40/200\n" +
		"2001-09-09T01:46:51Z train: refit on train+validation, reg_param 0.01\n"
	if out.String() != want {
		t.Errorf("got\n%swant\n%s", out.String(), want)
	}
}

// On a terminal, a progressbar per fit (iteration i/max) drawn in place,
// and a note (one line per fit from head) first clears it.
func TestTrainProgressBar(t *testing.T) {
	var out bytes.Buffer
	p := &trainProgress{w: &out, bar: true, now: time.Now}
	p.Fit(head.Fit{Index: 2, Count: 13, Lambda: 0.316})
	p.Iteration(7, 200)
	note := p.wrap(func(s string) { out.WriteString(s + "\n") })
	note("lambda 0.316: validation loss 0.47")
	p.Fit(head.Fit{Index: 3, Count: 13, Lambda: 0.1})
	p.Iteration(200, 200)
	p.Finish()
	s := out.String()
	for _, want := range []string{"\x1b[2K\rlambda 0.316: validation loss 0.47\n", "\x1b[0K\n"} {
		if !strings.Contains(s, want) {
			t.Errorf("no %q in %q", want, s)
		}
	}
	fs := barFrames(s)
	wants := []string{
		`^. train: fit 2/13, reg_param 0.316 \(0/-, 0 it/hr\) \[\d+s\]$`,
		`^train: fit 2/13, reg_param 0.316   3% \[=*>?\.+\] \(7/200, \d+ it/s\) \[\d+s:\d+s\]$`,
		`^lambda 0.316: validation loss 0.47$`,
		`^. train: fit 3/13, reg_param 0.1 \(0/-, 0 it/hr\) \[\d+s\]$`,
		`^train: fit 3/13, reg_param 0.1 100% \[=+\] \(200/200, \d+ it/s\) \[\d+s\]$`,
	}
	// ChangeMax64 may draw 0/200 before the count.
	var got []string
	for _, f := range fs {
		if !strings.Contains(f, "(0/200,") {
			got = append(got, f)
		}
	}
	if len(got) != len(wants) {
		t.Fatalf("frames %q", fs)
	}
	for i, w := range wants {
		if !regexp.MustCompile(w).MatchString(got[i]) {
			t.Errorf("frame %d: %q, want %s", i, got[i], w)
		}
	}
	if strings.HasSuffix(s, "\n\n") {
		t.Errorf("an empty line at the end: %q", s)
	}
}

// Throttled, a fit's bar still draws its first iteration with the max, and
// where the fit is at the end; after a note, nothing is left to end.
func TestTrainProgressBarThrottled(t *testing.T) {
	var out bytes.Buffer
	p := &trainProgress{w: &out, bar: true, every: time.Hour, now: time.Now}
	p.Fit(head.Fit{Index: 1, Count: 2, Lambda: 1})
	for it := 1; it <= 45; it++ {
		p.Iteration(it, 200)
	}
	p.wrap(func(s string) { out.WriteString(s + "\n") })("lambda 1: validation loss 0.5")
	p.Fit(head.Fit{Index: 2, Count: 2, Lambda: 0.1})
	for it := 1; it <= 45; it++ {
		p.Iteration(it, 200)
	}
	p.Finish()
	var got []string
	for _, f := range barFrames(out.String()) {
		if !strings.Contains(f, "(0/200,") {
			f = regexp.MustCompile(` \[[=>.]*\] `).ReplaceAllString(f, " ")
			got = append(got, regexp.MustCompile(`\(([^,]+),.*`).ReplaceAllString(f, "$1"))
		}
	}
	want := []string{"| train: fit 1/2, reg_param 1 0/-", "train: fit 1/2, reg_param 1   0% 1/200",
		"lambda 1: validation loss 0.5", "| train: fit 2/2, reg_param 0.1 0/-", "train: fit 2/2, reg_param 0.1   0% 1/200",
		"train: fit 2/2, reg_param 0.1  22% 45/200"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") || !strings.HasSuffix(out.String(), "\x1b[0K\n") {
		t.Errorf("frames\n%s\nwant\n%s\nin %q", strings.Join(got, "\n"), strings.Join(want, "\n"), out.String())
	}
}
