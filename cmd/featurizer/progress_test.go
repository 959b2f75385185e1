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

// The bar shows a count without a total only until the total is known,
// then the share, done/total, the rate, the ETA and the rejects, fitted to
// the terminal's width.
func TestBarLine(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	var out bytes.Buffer
	p := newBarProgress(&out, "featurize", 100)
	p.m.now = c.now
	p.Start()
	c.advance(10 * time.Second)
	p.Update(2000, 1)
	if got := p.line(); got != "featurize 2000/? img, 200 img/s, 1 rejected [10s]" {
		t.Errorf("before the total: %q", got)
	}
	p.Total(20000)
	c.advance(10 * time.Second)
	p.Update(4000, 3)
	got := p.line()
	want := regexp.MustCompile(`^featurize  20% \[=+>\s+\] 4000/20000 img, 200 img/s, eta 1m20s, 3 rejected \[20s\]$`)
	if !want.MatchString(got) || len(got) > 100 {
		t.Errorf("with the total: %q (%d columns)", got, len(got))
	}
	// A narrow terminal drops the bar, not the numbers.
	p.width = 40
	if got := p.line(); got != "featurize  20% 4000/20000 img, 200 img/s, eta 1m20s, 3 rejected [20s]" {
		t.Errorf("narrow: %q", got)
	}
	p.Finish()
	if s := out.String(); !strings.HasSuffix(s, "\x1b[K\n") || !strings.HasPrefix(s, "\r") {
		t.Errorf("the terminal got %q", s)
	}
}

// Log lines: the first as soon as the total is known, then one per
// interval, and a last one at the end.
func TestLogLines(t *testing.T) {
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
	p := &trainProgress{w: &out, every: 10 * time.Second, now: c.now, start: c.t}
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

// On a terminal the training line is redrawn in place, and a note (one
// line per fit from head) first clears it.
func TestTrainProgressBar(t *testing.T) {
	c := &clock{t: time.Unix(1e9, 0)}
	var out bytes.Buffer
	p := &trainProgress{w: &out, bar: true, every: 200 * time.Millisecond, now: c.now, start: c.t}
	p.Fit(head.Fit{Index: 2, Count: 13, Lambda: 0.316})
	c.advance(time.Second)
	p.Iteration(7, 200)
	note := p.wrap(func(s string) { out.WriteString(s + "\n") })
	note("lambda 0.316: validation loss 0.47")
	p.Fit(head.Fit{Index: 3, Count: 13, Lambda: 0.1})
	p.Finish()
	want := "\rtrain: fit 2/13, reg_param 0.316 [0s]\x1b[K" +
		"\rtrain: fit 2/13, reg_param 0.316, iteration 7/200 [1s]\x1b[K" +
		"\r\x1b[Klambda 0.316: validation loss 0.47\n" +
		"\rtrain: fit 3/13, reg_param 0.1 [1s]\x1b[K" +
		"\rtrain: fit 3/13, reg_param 0.1 [1s]\x1b[K\n"
	if out.String() != want {
		t.Errorf("got  %q\nwant %q", out.String(), want)
	}
}
