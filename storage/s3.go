package storage

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/logging"
	gcaws "gocloud.dev/aws"
	"gocloud.dev/blob"
	"gocloud.dev/blob/s3blob"
)

// openS3 opens an s3:// bucket as gocloud.dev's URL opener does (the same
// query parameters: region, endpoint, profile, use_path_style,
// disable_https, accelerate, ssetype, kmskeyid, ...), with two changes that
// matter to a job reading millions of small objects:
//
//   - the HTTP client keeps as many idle connections per host as there are
//     reads in flight (the SDK's default keeps 10, so with more readers
//     every request beyond them opens and closes a TCP connection);
//   - objects stored without a checksum are read without the SDK's warning
//     on stderr for each of them (those with one are still validated);
//   - a connection dropped in the middle of a response is not reported on
//     stderr by the SDK as well (the request is retried, or fails with its
//     own error).
func openS3(ctx context.Context, u *url.URL) (*blob.Bucket, error) {
	q := u.Query()
	var bo s3blob.Options
	var opts []func(*s3.Options)
	boolParam := func(key string, set func(bool)) error {
		v := q.Get(key)
		if v == "" {
			return nil
		}
		q.Del(key)
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("invalid value for %q: %w", key, err)
		}
		set(b)
		return nil
	}
	if v := q.Get("ssetype"); v != "" {
		q.Del("ssetype")
		found := false
		for _, t := range types.ServerSideEncryptionAes256.Values() {
			if strings.EqualFold(string(t), v) {
				bo.EncryptionType, found = t, true
			}
		}
		if !found {
			return nil, fmt.Errorf("%q is not a valid value for %q", v, "ssetype")
		}
	}
	if v := q.Get("kmskeyid"); v != "" {
		q.Del("kmskeyid")
		bo.KMSEncryptionID = v
	}
	for key, set := range map[string]func(bool){
		"accelerate":       func(b bool) { opts = append(opts, func(o *s3.Options) { o.UseAccelerate = b }) },
		"disable_https":    func(b bool) { opts = append(opts, func(o *s3.Options) { o.EndpointOptions.DisableHTTPS = b }) },
		"use_path_style":   func(b bool) { opts = append(opts, func(o *s3.Options) { o.UsePathStyle = b }) },
		"s3ForcePathStyle": func(b bool) { opts = append(opts, func(o *s3.Options) { o.UsePathStyle = b }) },
	} {
		if err := boolParam(key, set); err != nil {
			return nil, err
		}
	}
	cfg, err := gcaws.V2ConfigFromURLParams(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("open bucket %s: %w", u.Redacted(), err)
	}
	cfg.HTTPClient = awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = 1024
		t.MaxIdleConnsPerHost = 1024
	})
	opts = append(opts, func(o *s3.Options) { o.DisableLogOutputChecksumValidationSkipped = true })
	cfg.Logger = quietLogger{cfg.Logger}
	client := s3.NewFromConfig(cfg, opts...)
	bo.RequestChecksumCalculation = cfg.RequestChecksumCalculation
	return s3blob.OpenBucket(ctx, client, u.Host, &bo)
}

// quietLogger drops the SDK's warnings that a response body could not be
// drained or closed ("this may affect connection reuse"): on a flaky
// network there is one per dropped connection, and the request itself is
// retried or fails with its own error. Everything else passes through.
type quietLogger struct{ next logging.Logger }

func (l quietLogger) Logf(c logging.Classification, format string, v ...any) {
	if strings.Contains(format, "may affect connection reuse") || l.next == nil {
		return
	}
	l.next.Logf(c, format, v...)
}
