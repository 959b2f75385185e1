package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// newProgress picks a progress bar on a terminal and timestamped lines in
// logs (Databricks, Kubernetes): progressbar never checks for a TTY itself.
func newProgress(w *os.File, mode string) progress {
	switch mode {
	case "none":
		return nopProgress{}
	case "log":
		return newLogProgress(w, 10*time.Second)
	case "bar":
		return newBarProgress(w)
	}
	if term.IsTerminal(int(w.Fd())) {
		return newBarProgress(w)
	}
	return newLogProgress(w, 10*time.Second)
}

type progress interface {
	Start()
	Total(n int64)
	Update(done, rejected int64)
	Finish()
}

type nopProgress struct{}

func (nopProgress) Start()              {}
func (nopProgress) Total(int64)         {}
func (nopProgress) Update(int64, int64) {}
func (nopProgress) Finish()             {}

type barProgress struct {
	mu  sync.Mutex
	w   io.Writer
	bar *progressbar.ProgressBar // created on first use, after the setup notes
	rej int64
}

func newBarProgress(w io.Writer) *barProgress { return &barProgress{w: w} }

func (p *barProgress) ensure() {
	if p.bar != nil {
		return
	}
	p.bar = progressbar.NewOptions64(-1,
		progressbar.OptionSetWriter(p.w),
		progressbar.OptionSetDescription("featurizing"),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString("img"),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionThrottle(200*time.Millisecond),
		progressbar.OptionFullWidth(),
	)
}

func (p *barProgress) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ensure()
}

func (p *barProgress) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ensure()
	p.bar.ChangeMax64(n)
}

func (p *barProgress) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.ensure()
	if rejected != p.rej {
		p.rej = rejected
		p.bar.Describe(fmt.Sprintf("featurizing (%d rejected)", rejected))
	}
	p.bar.Set64(done)
}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil {
		return
	}
	p.bar.Finish()
	p.bar.Exit()
	fmt.Fprintln(p.w)
}

// logProgress prints one timestamped line per interval.
type logProgress struct {
	mu       sync.Mutex
	w        io.Writer
	every    time.Duration
	start    time.Time
	last     time.Time
	total    int64
	done     int64
	rejected int64
}

func newLogProgress(w io.Writer, every time.Duration) *logProgress {
	now := time.Now()
	return &logProgress{w: w, every: every, start: now, last: now, total: -1}
}

func (p *logProgress) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start, p.last = time.Now(), time.Now()
}

func (p *logProgress) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
}

func (p *logProgress) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.rejected = done, rejected
	if time.Since(p.last) >= p.every {
		p.line()
	}
}

func (p *logProgress) line() {
	p.last = time.Now()
	el := p.last.Sub(p.start).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(p.done) / el
	}
	total, eta := "?", "?"
	if p.total >= 0 {
		total = fmt.Sprint(p.total)
		if rate > 0 {
			eta = time.Duration(float64(p.total-p.done) / rate * float64(time.Second)).Round(time.Second).String()
		}
	}
	fmt.Fprintf(p.w, "%s progress %d/%s images, %.1f img/s, %d rejected, eta %s\n",
		p.last.UTC().Format(time.RFC3339), p.done, total, rate, p.rejected, eta)
}

func (p *logProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done > 0 {
		p.line()
	}
}
