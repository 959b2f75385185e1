package main

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/featurizer/featurizer/head"
	"golang.org/x/term"
)

// newProgress picks a bar on a terminal and timestamped lines in logs
// (Databricks, Kubernetes). label names what is done ("featurize",
// "featurize validation"). Both show done/total, the rate, the ETA and the
// rejects as soon as the total is known (the pipeline counts the input
// ahead of the work).
func newProgress(w *os.File, mode, label string) progress {
	switch mode {
	case "none":
		return nopProgress{}
	case "log":
		return newLogProgress(w, label, 10*time.Second)
	case "bar":
		return newBarProgress(w, label, termWidth(w))
	}
	if term.IsTerminal(int(w.Fd())) {
		return newBarProgress(w, label, termWidth(w))
	}
	return newLogProgress(w, label, 10*time.Second)
}

func termWidth(w *os.File) int {
	if cols, _, err := term.GetSize(int(w.Fd())); err == nil && cols > 0 {
		return cols
	}
	return 80
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

// meter holds what both displays show.
type meter struct {
	label          string
	now            func() time.Time
	start          time.Time
	total          int64 // -1 until known
	done, rejected int64
}

func newMeter(label string) meter {
	return meter{label: label, now: time.Now, start: time.Now(), total: -1}
}

func (m *meter) elapsed() time.Duration { return m.now().Sub(m.start) }

// rate is images per second since the start.
func (m *meter) rate() float64 {
	if s := m.elapsed().Seconds(); s > 0 {
		return float64(m.done) / s
	}
	return 0
}

// eta is the time left at the rate so far; ok is false while the total or
// the rate is unknown.
func (m *meter) eta() (d time.Duration, ok bool) {
	r := m.rate()
	if m.total < 0 || r <= 0 {
		return 0, false
	}
	left := max(m.total-m.done, 0)
	return time.Duration(float64(left) / r * float64(time.Second)), true
}

func (m *meter) totalString() string {
	if m.total < 0 {
		return "?"
	}
	return fmt.Sprint(m.total)
}

func (m *meter) etaString() string {
	if d, ok := m.eta(); ok {
		return shortDuration(d)
	}
	return "?"
}

// rateString keeps two or three significant digits: 351, 12, 2.5.
func rateString(r float64) string {
	if r < 10 {
		return fmt.Sprintf("%.1f", r)
	}
	return fmt.Sprintf("%.0f", r)
}

// shortDuration rounds to the second, as a person reads a clock.
func shortDuration(d time.Duration) string {
	return d.Round(time.Second).String()
}

// barProgress redraws one line (carriage return, erase to the end) at
// most every 200 ms:
//
//	featurize  52% [==========>         ] 10400/20000 img, 351 img/s, eta 27s, 3 rejected [29s]
type barProgress struct {
	mu    sync.Mutex
	w     io.Writer
	width int
	m     meter
	drawn time.Time
	shown bool // a line is on the screen
}

func newBarProgress(w io.Writer, label string, width int) *barProgress {
	return &barProgress{w: w, width: width, m: newMeter(label)}
}

func (p *barProgress) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m.start = p.m.now()
	p.draw(true)
}

func (p *barProgress) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m.total = n
	p.draw(true)
}

func (p *barProgress) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m.done, p.m.rejected = done, rejected
	p.draw(false)
}

func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.shown {
		p.draw(true)
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

func (p *barProgress) draw(force bool) {
	now := p.m.now()
	if !force && now.Sub(p.drawn) < 200*time.Millisecond {
		return
	}
	p.drawn, p.shown = now, true
	fmt.Fprint(p.w, "\r"+p.line()+"\x1b[K")
}

// line is the bar's text, fitted to the width.
func (p *barProgress) line() string {
	m := &p.m
	stats := fmt.Sprintf(" %d/%s img, %s img/s", m.done, m.totalString(), rateString(m.rate()))
	if m.total >= 0 {
		stats += ", eta " + m.etaString()
	}
	stats += fmt.Sprintf(", %d rejected [%s]", m.rejected, shortDuration(m.elapsed()))
	if m.total < 0 {
		return m.label + stats
	}
	frac := 1.0
	if m.total > 0 {
		frac = min(float64(m.done)/float64(m.total), 1)
	}
	head := fmt.Sprintf("%s %3.0f%% ", m.label, 100*frac)
	n := min(p.width-len(head)-len(stats)-3, 40)
	if n < 10 {
		return head + stats[1:]
	}
	fill := int(frac * float64(n))
	bar := strings.Repeat("=", fill)
	if fill < n {
		bar += ">" + strings.Repeat(" ", n-fill-1)
	}
	return head + "[" + bar + "]" + stats
}

// logProgress prints one timestamped line per interval, the first as soon
// as the total is known:
//
//	2026-12-02T08:00:00Z featurize: 10400/20000 images (52%), 351.2 img/s, 3 rejected, eta 27s
type logProgress struct {
	mu    sync.Mutex
	w     io.Writer
	every time.Duration
	m     meter
	last  time.Time
	said  [2]int64 // done and rejected of the last line
}

func newLogProgress(w io.Writer, label string, every time.Duration) *logProgress {
	p := &logProgress{w: w, every: every, m: newMeter(label), said: [2]int64{-1, -1}}
	p.last = p.m.start
	return p
}

func (p *logProgress) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m.start = p.m.now()
	p.last = p.m.start
}

func (p *logProgress) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	first := p.m.total < 0
	p.m.total = n
	if first {
		p.line()
	}
}

func (p *logProgress) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.m.done, p.m.rejected = done, rejected
	if p.m.now().Sub(p.last) >= p.every {
		p.line()
	}
}

func (p *logProgress) line() {
	m := &p.m
	p.last, p.said = m.now(), [2]int64{m.done, m.rejected}
	pct := ""
	if m.total > 0 {
		pct = fmt.Sprintf(" (%.0f%%)", 100*float64(m.done)/float64(m.total))
	}
	fmt.Fprintf(p.w, "%s %s: %d/%s images%s, %.1f img/s, %d rejected, eta %s\n",
		p.last.UTC().Format(time.RFC3339), m.label, m.done, m.totalString(), pct, m.rate(), m.rejected, m.etaString())
}

func (p *logProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m.done > 0 && p.said != [2]int64{p.m.done, p.m.rejected} {
		p.line()
	}
}

// trainProgress shows the penalty path of 'train' and of a job's train
// stage: which fit of how many, and the current fit's iterations.
//
//	train: fit 3/13, reg_param 0.01, iteration 45/200 [12s]
type trainProgress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     bool          // redraw one line; else timestamped lines
	every   time.Duration // bar: between redraws; log: between iteration lines
	now     func() time.Time
	start   time.Time
	drawn   time.Time
	shown   bool
	fit     head.Fit
	it, max int
}

// newTrainProgress picks the display as newProgress does; nil for none.
func newTrainProgress(w *os.File, mode string) *trainProgress {
	bar := mode == "bar" || (mode == "auto" && term.IsTerminal(int(w.Fd())))
	if mode == "none" {
		return nil
	}
	p := &trainProgress{w: w, bar: bar, every: 10 * time.Second, now: time.Now}
	if bar {
		p.every = 200 * time.Millisecond
	}
	p.start = p.now()
	return p
}

func (p *trainProgress) Fit(f head.Fit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fit, p.it, p.max = f, 0, 0
	p.draw(true)
}

func (p *trainProgress) Iteration(it, max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.it, p.max = it, max
	p.draw(false)
}

// wrap makes note clear the bar's line before it prints (the next fit or
// iteration draws the bar again below the note).
func (p *trainProgress) wrap(note func(string)) func(string) {
	return func(s string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.bar && p.shown {
			fmt.Fprint(p.w, "\r\x1b[K")
			p.shown = false
		}
		note(s)
	}
}

// Finish ends the bar's line.
func (p *trainProgress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar && p.shown {
		p.draw(true)
		fmt.Fprintln(p.w)
		p.shown = false
	}
}

func (p *trainProgress) draw(force bool) {
	now := p.now()
	if !force && now.Sub(p.drawn) < p.every {
		return
	}
	p.drawn = now
	if p.bar {
		p.shown = true
		fmt.Fprint(p.w, "\r"+p.line()+fmt.Sprintf(" [%s]", shortDuration(now.Sub(p.start)))+"\x1b[K")
		return
	}
	fmt.Fprintf(p.w, "%s %s\n", now.UTC().Format(time.RFC3339), p.line())
}

func (p *trainProgress) line() string {
	f := p.fit
	s := fmt.Sprintf("train: fit %d/%d, reg_param %.3g", f.Index, f.Count, f.Lambda)
	if f.Refit {
		s = fmt.Sprintf("train: refit on train+validation, reg_param %.3g", f.Lambda)
	}
	if p.max > 0 {
		s += fmt.Sprintf(", iteration %d/%d", p.it, p.max)
	}
	return s
}

// progressMode checks --progress; --quiet turns progress off.
func progressMode(mode string, quiet bool) (string, error) {
	switch mode {
	case "auto", "bar", "log", "none":
	default:
		return "", &usageError{fmt.Sprintf("--progress: expected auto, bar, log or none, got %q", mode)}
	}
	if quiet {
		return "none", nil
	}
	return mode, nil
}
