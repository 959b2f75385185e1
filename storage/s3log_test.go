package storage

import (
	"strings"
	"testing"

	"github.com/aws/smithy-go/logging"
)

type recordLogger struct{ lines []string }

func (r *recordLogger) Logf(c logging.Classification, format string, v ...any) {
	r.lines = append(r.lines, string(c)+" "+format)
}

// The SDK's warning after a dropped connection ("failed to discard
// remaining HTTP response body, this may affect connection reuse") is not
// printed: a job on a flaky network printed one per dropped connection
// (and the fault-proxy job test caught it as noise on stderr). Other
// messages pass through.
func TestQuietLogger(t *testing.T) {
	rec := &recordLogger{}
	l := quietLogger{rec}
	l.Logf(logging.Warn, "failed to discard remaining HTTP response body, this may affect connection reuse")
	l.Logf(logging.Warn, "failed to close HTTP response body, this may affect connection reuse")
	l.Logf(logging.Warn, "something else: %d", 1)
	if strings.Join(rec.lines, "|") != "WARN something else: %d" {
		t.Errorf("logged %q", rec.lines)
	}
	quietLogger{}.Logf(logging.Debug, "no logger: nothing, no panic")
}
