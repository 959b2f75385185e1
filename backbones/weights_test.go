package backbones

import (
	"context"
	"errors"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/featurizer/featurizer/download"
)

// Offline, a catalog backbone with a class list fails with one error that
// names both files the user has to place, the weights and the class list,
// and the folder they go in.
func TestResolveOfflineNamesEveryFile(t *testing.T) {
	// No network: no name resolves.
	offline := &http.Client{Transport: &http.Transport{DialContext: func(_ context.Context, _, addr string) (net.Conn, error) {
		return nil, &net.DNSError{Err: "no such host", Name: addr, IsNotFound: true}
	}}}
	store := &download.Store{Dir: t.TempDir(), Client: offline}
	_, err := Resolve(context.Background(), ResolveOptions{Name: "mobilenetv2", Store: store, Classes: true})
	var de *download.Error
	if !errors.As(err, &de) || !de.Unreachable {
		t.Fatalf("got %v", err)
	}
	msg := err.Error()
	for _, part := range []string{"mobilenetv2-12-int8.onnx from https://github.com/", "imagenet-classes.txt from https://raw.githubusercontent.com/", "into " + store.Dir} {
		if !strings.Contains(msg, part) {
			t.Errorf("the error does not say %q: %s", part, msg)
		}
	}
	// Without the class list wanted (featurize), only the weights.
	_, err = Resolve(context.Background(), ResolveOptions{Name: "mobilenetv2", Store: store})
	if err == nil || strings.Contains(err.Error(), "imagenet-classes.txt") {
		t.Errorf("featurize names the class list: %v", err)
	}
	// With the class list in place, only the weights.
	if err := os.WriteFile(store.Dir+"/imagenet-classes.txt", []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = Resolve(context.Background(), ResolveOptions{Name: "mobilenetv2", Store: store, Classes: true})
	if err == nil || strings.Contains(err.Error(), "imagenet-classes.txt") || !strings.Contains(err.Error(), "mobilenetv2-12-int8.onnx") {
		t.Errorf("a class list in place is named: %v", err)
	}
}
