package main

import (
	"fmt"
	"io"
	"math"
	"os"
	"sync"
	"time"

	"github.com/featurizer/featurizer/head"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// newProgress picks a bar on a terminal and timestamped lines in logs
// (Databricks, Kubernetes). label names what is done ("featurize",
// "featurize validation"). Both show done/total, the rate, the ETA and the
// rejects as soon as the total is known (the pipeline counts the input
// ahead of the work). progressbar never checks for a terminal itself: the
// check is ours.
func newProgress(w *os.File, mode, label string) progress {
	switch mode {
	case "none":
		return nopProgress{}
	case "log":
		return newLogProgress(w, label, 10*time.Second)
	case "bar":
		return newBarProgress(w, label, barThrottle)
	}
	if term.IsTerminal(int(w.Fd())) {
		return newBarProgress(w, label, barThrottle)
	}
	return newLogProgress(w, label, 10*time.Second)
}

// barThrottle is the least time between two redraws of a bar.
const barThrottle = 200 * time.Millisecond

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

// meter holds what the log lines show.
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

// shortDuration rounds to the second, as a person reads a clock.
func shortDuration(d time.Duration) string {
	return d.Round(time.Second).String()
}

// newBar is a progressbar in its unknown-max mode (a spinner with the
// count) until ChangeMax64 gives it the total; then a bar across the
// terminal with done/total, the rate, elapsed:ETA, and elapsed on the
// final frame:
//
//	featurize: 3 rejected  52% [=====>.....] (10400/20000, 351 img/s) [29s:27s]
//
// It draws at once (the blank state), at most every throttle after
// (always the frame that reaches the total), and with ANSI codes: each
// frame is "\r", the line, erase to its end.
func newBar(w io.Writer, desc, unit string, throttle time.Duration, done func()) *progressbar.ProgressBar {
	opts := []progressbar.Option{
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(desc),
		// Unknown-max mode counts modulo the width, which would leave the
		// count wrong after ChangeMax64: a width no count reaches keeps it
		// exact. OptionFullWidth sizes the drawn bar to the terminal
		// (80 columns when w is not one) whatever this says.
		progressbar.OptionSetWidth(math.MaxInt32),
		progressbar.OptionFullWidth(),
		progressbar.OptionSetTheme(progressbar.ThemeASCII),
		progressbar.OptionShowCount(),
		progressbar.OptionShowIts(),
		progressbar.OptionSetItsString(unit),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetElapsedTime(true),
		progressbar.OptionShowElapsedTimeOnFinish(),
		progressbar.OptionThrottle(throttle),
		// The spinner turns on each redraw, not from a goroutine of its
		// own that would write while a note is printed (and outlive a
		// bar that never completes).
		progressbar.OptionSetSpinnerChangeInterval(0),
		progressbar.OptionUseANSICodes(true),
		progressbar.OptionSetRenderBlankState(true),
	}
	if done != nil {
		opts = append(opts, progressbar.OptionOnCompletion(done))
	}
	return progressbar.NewOptions64(-1, opts...)
}

// redraw runs draw (a call that draws) with the bar's throttle off, so
// that it draws now, then puts the throttle back. An Option is a func on
// the bar: applied to a made bar, it changes that setting. (No goroutine
// of progressbar's touches the bar: see OptionSetSpinnerChangeInterval.)
func redraw(bar *progressbar.ProgressBar, throttle time.Duration, draw func()) {
	progressbar.OptionThrottle(0)(bar)
	draw()
	progressbar.OptionThrottle(throttle)(bar)
}

// barProgress is the featurize display on a terminal: a progressbar whose
// description carries the label and the rejects.
type barProgress struct {
	mu       sync.Mutex
	w        io.Writer
	label    string
	throttle time.Duration
	bar      *progressbar.ProgressBar // from Start
	total    int64                    // -1 until known
	rejected int64
	ended    bool // the line is ended (the completion's newline)
}

func newBarProgress(w io.Writer, label string, throttle time.Duration) *barProgress {
	return &barProgress{w: w, label: label, throttle: throttle, total: -1}
}

func (p *barProgress) describe() string {
	return fmt.Sprintf("%s: %d rejected", p.label, p.rejected)
}

// start makes the bar (which starts its clock and draws) once.
func (p *barProgress) start() {
	if p.bar != nil {
		return
	}
	p.bar = newBar(p.w, p.describe(), "img", p.throttle, func() {
		fmt.Fprintln(p.w)
		p.ended = true
	})
	if p.total > 0 {
		redraw(p.bar, p.throttle, func() { p.bar.ChangeMax64(p.total) })
	}
}

func (p *barProgress) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start()
}

// Total switches the spinner to a bar (or moves its end when the listing
// ends with another number). An empty input keeps the spinner: a bar
// needs a max above zero.
func (p *barProgress) Total(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.total = n
	if p.bar == nil {
		return // Start makes the bar with it
	}
	if n <= 0 || p.ended {
		return
	}
	// Drawn at once, as the count was before it.
	redraw(p.bar, p.throttle, func() { p.bar.ChangeMax64(n) })
}

func (p *barProgress) Update(done, rejected int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.start()
	if p.ended {
		return
	}
	newRejects := rejected != p.rejected
	p.rejected = rejected
	// Describe draws too (throttled). Before the frame that reaches the
	// total, so that it has the final rejects (a completed bar draws no
	// more); otherwise after the count, so that a frame it draws has the
	// latest count.
	last := p.total > 0 && done >= p.total
	if newRejects && last {
		p.bar.Describe(p.describe())
	}
	p.bar.Set64(done)
	if newRejects && !last {
		p.bar.Describe(p.describe())
	}
}

// Finish ends the line. A bar that reached its total has drawn its final
// frame and ended it; one that did not (an error, a stop) draws where it
// stopped rather than claim 100%.
func (p *barProgress) Finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar == nil || p.ended {
		return
	}
	redraw(p.bar, p.throttle, func() { p.bar.Add64(0) })
	p.bar.Exit() // calls the completion: the newline
	p.ended = true
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
// stage: which fit of how many, and the current fit's iterations. On a
// terminal, a progressbar per fit, in place of the last:
//
//	train: fit 3/13, reg_param 0.01  22% [==>.......] (45/200, 12 it/s) [3s:10s]
//
// in logs, timestamped lines:
//
//	2026-12-02T08:00:00Z train: fit 3/13, reg_param 0.01, iteration 45/200
type trainProgress struct {
	mu      sync.Mutex
	w       io.Writer
	bar     bool          // a progressbar per fit; else timestamped lines
	every   time.Duration // bar: between redraws; log: between iteration lines
	now     func() time.Time
	drawn   time.Time
	fit     head.Fit
	it, max int
	pb      *progressbar.ProgressBar // bar: the current fit's
	shown   bool                     // bar: pb's line is on the screen
}

// newTrainProgress picks the display as newProgress does; nil for none.
func newTrainProgress(w *os.File, mode string) *trainProgress {
	bar := mode == "bar" || (mode == "auto" && term.IsTerminal(int(w.Fd())))
	if mode == "none" {
		return nil
	}
	p := &trainProgress{w: w, bar: bar, every: 10 * time.Second, now: time.Now}
	if bar {
		p.every = barThrottle
	}
	return p
}

func (p *trainProgress) Fit(f head.Fit) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fit, p.it, p.max = f, 0, 0
	if !p.bar {
		p.logLine(true)
		return
	}
	p.clear()
	// The iterations' max comes with the first iteration: a spinner until
	// then. The blank state draws at once.
	p.pb = newBar(p.w, p.describe(), "it", p.every, nil)
	p.shown = true
}

func (p *trainProgress) Iteration(it, max int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.bar {
		p.it, p.max = it, max
		p.logLine(false)
		return
	}
	if p.pb == nil {
		p.pb = newBar(p.w, p.describe(), "it", p.every, nil)
	}
	before := p.pb.String()
	newMax := max > 0 && max != p.max
	if newMax {
		p.pb.ChangeMax64(int64(max))
	}
	p.it, p.max = it, max
	if max > 0 {
		it = min(it, max) // past its max a progressbar stops drawing
	}
	if newMax {
		// The first iteration with its max is drawn at once.
		redraw(p.pb, p.every, func() { p.pb.Set(it) })
	} else {
		p.pb.Set(it)
	}
	if p.pb.String() != before {
		p.shown = true
	}
}

// clear erases the bar's line (bar mode, with the lock held).
func (p *trainProgress) clear() {
	if p.pb != nil && p.shown {
		p.pb.Clear()
	}
	p.shown = false
}

// wrap makes note clear the bar's line before it prints (the next fit or
// iteration draws the bar again below the note).
func (p *trainProgress) wrap(note func(string)) func(string) {
	return func(s string) {
		p.mu.Lock()
		defer p.mu.Unlock()
		if p.bar {
			p.clear()
		}
		note(s)
	}
}

// Finish ends the bar's line, on where the fit is.
func (p *trainProgress) Finish() {
	if p == nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.bar && p.shown {
		if p.pb != nil && !p.pb.IsFinished() {
			redraw(p.pb, p.every, func() { p.pb.Add(0) })
		}
		fmt.Fprintln(p.w)
		p.shown = false
	}
	p.pb = nil
}

// logLine prints the line at most every interval, or now when forced.
func (p *trainProgress) logLine(force bool) {
	now := p.now()
	if !force && now.Sub(p.drawn) < p.every {
		return
	}
	p.drawn = now
	s := p.describe()
	if p.max > 0 {
		s += fmt.Sprintf(", iteration %d/%d", p.it, p.max)
	}
	fmt.Fprintf(p.w, "%s %s\n", now.UTC().Format(time.RFC3339), s)
}

// describe names the fit: the bar's description, the log line's start.
func (p *trainProgress) describe() string {
	f := p.fit
	if f.Refit {
		return fmt.Sprintf("train: refit on train+validation, reg_param %.3g", f.Lambda)
	}
	return fmt.Sprintf("train: fit %d/%d, reg_param %.3g", f.Index, f.Count, f.Lambda)
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
