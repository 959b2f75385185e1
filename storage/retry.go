package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"gocloud.dev/gcerrors"
)

// RetryOptions says how a store retries. The zero value is the default.
type RetryOptions struct {
	// Attempts per request, the first included; 0 means 4.
	Attempts int
	// Backoff is the wait before the second attempt, doubled before each
	// next one; 0 means 200ms (then 400ms, 800ms).
	Backoff time.Duration
}

func (o RetryOptions) attempts() int {
	if o.Attempts <= 0 {
		return 4
	}
	return o.Attempts
}

func (o RetryOptions) backoff() time.Duration {
	if o.Backoff <= 0 {
		return 200 * time.Millisecond
	}
	return o.Backoff
}

// WithRetry is s with every request it makes retried under o: a transient
// failure (throttling, timeouts, 5xx, a dropped connection, a body cut
// short) is tried again after a backoff, and one that lasts through every
// attempt fails with ErrUnavailable. The unit retried is one request, not
// one call: a listing retries the page it failed on, an upload the step
// (temporary key, copy, delete) it failed at, a stream reopens at the
// offset reached, so that a call of many requests survives a flaky
// network as well as a call of one.
func WithRetry(s Store, o RetryOptions) Store {
	if r, ok := s.(retrying); ok {
		s = r.s
	}
	return retrying{s: s, o: o}
}

// retrying hands its policy to the store's requests through the context:
// a backend marks each request it makes (request), and runs it once when
// no policy is there.
type retrying struct {
	s Store
	o RetryOptions
}

type retryKey struct{}

func (r retrying) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, retryKey{}, r.o)
}

func (r retrying) Location() string        { return r.s.Location() }
func (r retrying) Path(name string) string { return r.s.Path(name) }
func (r retrying) Close() error            { return r.s.Close() }
func (r retrying) CreateTemp(name string) (*os.File, error) {
	return r.s.CreateTemp(name)
}
func (r retrying) ReadFile(ctx context.Context, name string) ([]byte, error) {
	return r.s.ReadFile(r.ctx(ctx), name)
}
func (r retrying) ReadFileLimit(ctx context.Context, name string, limit int64) ([]byte, error) {
	return r.s.ReadFileLimit(r.ctx(ctx), name, limit)
}
func (r retrying) Open(ctx context.Context, name string) (File, error) {
	return r.s.Open(r.ctx(ctx), name)
}
func (r retrying) NewReader(ctx context.Context, name string) (io.ReadCloser, error) {
	return r.s.NewReader(r.ctx(ctx), name)
}
func (r retrying) List(ctx context.Context, sub string) ([]FileInfo, error) {
	return r.s.List(r.ctx(ctx), sub)
}
func (r retrying) Walk(ctx context.Context, sub string, fn func(Entry) error) error {
	return r.s.Walk(r.ctx(ctx), sub, fn)
}
func (r retrying) IsDir(ctx context.Context, name string) (bool, error) {
	return r.s.IsDir(r.ctx(ctx), name)
}
func (r retrying) WriteFile(ctx context.Context, name string, data []byte) error {
	return r.s.WriteFile(r.ctx(ctx), name, data)
}
func (r retrying) Put(ctx context.Context, name string, data []byte) error {
	return r.s.Put(r.ctx(ctx), name, data)
}
func (r retrying) CreateExclusive(ctx context.Context, name string, data []byte) error {
	return r.s.CreateExclusive(r.ctx(ctx), name, data)
}
func (r retrying) Commit(ctx context.Context, f *os.File, name string) error {
	return r.s.Commit(r.ctx(ctx), f, name)
}
func (r retrying) Remove(ctx context.Context, name string) error {
	return r.s.Remove(r.ctx(ctx), name)
}
func (r retrying) RemoveTemps(ctx context.Context, sub string) error {
	return r.s.RemoveTemps(r.ctx(ctx), sub)
}

// policy is the retry policy of the call ctx belongs to, if any.
func policy(ctx context.Context) (RetryOptions, bool) {
	o, ok := ctx.Value(retryKey{}).(RetryOptions)
	return o, ok
}

// request runs one request of a backend: once, or under the policy of a
// WithRetry store.
func request(ctx context.Context, op func() error) error {
	o, ok := policy(ctx)
	if !ok {
		return guard(op)
	}
	n := o.attempts()
	var err error
	for i := 0; i < n; i++ {
		if i > 0 {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(o.backoff() << (i - 1)):
			}
		}
		if err = guard(op); err == nil || !transient(err) {
			return err
		}
	}
	return fmt.Errorf("%w after %d attempts: %w", ErrUnavailable, n, err)
}

// reopens is how many times a stream broken mid-body is reopened.
func reopens(ctx context.Context) int {
	if o, ok := policy(ctx); ok {
		return o.attempts()
	}
	return 0
}

// guard turns a panic inside the driver into an error: gocloud v0.47's
// Azure driver dereferences a nil status when a copy's status poll fails.
func guard(op func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("storage driver panic: %v", r) // Unknown: retried
		}
	}()
	return op()
}

// transient errors are worth retrying: throttling, timeouts, 5xx, dropped
// connections and bodies cut short. The end of a listing, a missing
// object, a file over the limit and a stop are not.
func transient(err error) bool {
	// A bare io.EOF ends a listing or a body; an EOF inside a transport
	// error ("request send failed: EOF", a kept-alive connection the
	// server or a proxy closed under the request) is worth retrying.
	if err == io.EOF || errors.Is(err, ErrTooLarge) || errors.Is(err, context.Canceled) || errors.Is(err, fs.ErrNotExist) {
		return false
	}
	switch gcerrors.Code(err) {
	case gcerrors.DeadlineExceeded, gcerrors.ResourceExhausted, gcerrors.Internal, gcerrors.Unknown:
		return true
	}
	return false
}
