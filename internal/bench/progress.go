package bench

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// progress reports each finished step; implementations write to stderr.
type progress interface {
	// step records that one more of the total steps is about to run.
	step(desc string)
	// done ends the progress display.
	done()
}

// newProgress picks a progress bar when w is a terminal, plain lines when it
// is anything else, and nothing when w is nil.
func newProgress(w io.Writer, total int) progress {
	if w == nil {
		return discardProgress{}
	}
	if f, ok := w.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		bar := progressbar.NewOptions(total,
			progressbar.OptionSetWriter(w),
			progressbar.OptionSetDescription("bench"),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionSetPredictTime(true),
		)
		return &barProgress{bar: bar}
	}
	return &lineProgress{w: w, total: total, start: time.Now()}
}

type discardProgress struct{}

func (discardProgress) step(string) {}
func (discardProgress) done()       {}

// barProgress drives a progressbar; it is used from one goroutine.
type barProgress struct {
	bar     *progressbar.ProgressBar
	started bool
}

func (p *barProgress) step(desc string) {
	if p.started {
		// Add fails only on a closed bar; the display is best effort.
		_ = p.bar.Add(1)
	}
	p.started = true
	p.bar.Describe(desc)
}

func (p *barProgress) done() {
	if p.started {
		_ = p.bar.Add(1)
	}
	_ = p.bar.Finish()
}

// lineProgress writes one line per step, for logs and pipes.
type lineProgress struct {
	w     io.Writer
	total int
	n     int
	start time.Time
}

func (p *lineProgress) step(desc string) {
	p.n++
	fmt.Fprintf(p.w, "bench: [%d/%d %5.1fs] %s\n", p.n, p.total, time.Since(p.start).Seconds(), desc)
}

func (p *lineProgress) done() {
	fmt.Fprintf(p.w, "bench: done in %.1fs\n", time.Since(p.start).Seconds())
}
