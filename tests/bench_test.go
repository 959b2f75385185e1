package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
	"github.com/featurizer/featurizer/jobs"
	"github.com/featurizer/featurizer/storage"
)

// Benchmarks of the CLI on the real clothing photos of ../shared with
// MobileNetV2 (decode-bound, so the most sensitive to I/O):
//
//	go test -run '^$' -bench 'Storage|Shards' -benchtime 3x ./tests
//
// (make bench runs them). Each reports its comparison as a ratio measured
// in the same run.

func benchImages(b *testing.B, split string) (models, images string) {
	sh := shared(b)
	return filepath.Join(sh, "models"), filepath.Join(sh, "data", "clothing-small", split)
}

func featurizeOnce(b *testing.B, env []string, args ...string) (time.Duration, *os.ProcessState) {
	b.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	return time.Since(t0), cmd.ProcessState
}

// BenchmarkStorageMinIOvsLocal featurizes the same images from local disk
// to local disk and from MinIO to MinIO (a real server on loopback),
// alternately; minio/local is the ratio of their throughputs (goal: at
// least 0.95).
func BenchmarkStorageMinIOvsLocal(b *testing.B) {
	models, images := benchImages(b, "test")
	srv := testservers.MinIO(b)
	ctx := context.Background()
	d, err := storage.OpenDir(ctx, srv.URL("images"))
	if err != nil {
		b.Fatal(err)
	}
	n := 0
	filepath.Walk(images, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(images, p)
			data, _ := os.ReadFile(p)
			if err := d.WriteFile(ctx, filepath.ToSlash(rel), data); err != nil {
				b.Fatal(err)
			}
			n++
		}
		return nil
	})
	d.Close()
	dir := b.TempDir()
	args := func(in, out string) []string {
		return []string{"featurize", "--backbone", "mobilenetv2", "--models-dir", models, "--offline",
			"--input", in, "--output", out, "--overwrite", "--quiet"}
	}
	var local, remote time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t, _ := featurizeOnce(b, nil, args(images, filepath.Join(dir, "local"))...)
		local += t
		t, _ = featurizeOnce(b, nil, args(srv.URL("images"), srv.URL(fmt.Sprintf("features-%d", i)))...)
		remote += t
	}
	b.StopTimer()
	l := float64(n*b.N) / local.Seconds()
	r := float64(n*b.N) / remote.Seconds()
	b.ReportMetric(l, "local_img/s")
	b.ReportMetric(r, "minio_img/s")
	b.ReportMetric(r/l, "minio/local")
	b.Logf("%d images x %d: local disk %.1f img/s, MinIO %.1f img/s (process wall time, start-up included): %.3fx", n, b.N, l, r, r/l)
}

// BenchmarkShards runs 1, 2 and 4 shard processes in parallel on the same
// images, the cores split between them (threads and workers per process:
// cores/n, at least 1), and reports throughput and CPU time per image
// (user + system of the processes); cpu/img relative to one process
// should stay flat.
func BenchmarkShards(b *testing.B) {
	models, images := benchImages(b, "train")
	cores := runtime.NumCPU()
	var base float64
	for _, n := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("n=%d", n), func(b *testing.B) {
			per := max(1, cores/n)
			var wall time.Duration
			var cpu time.Duration
			var rows int64
			for i := 0; i < b.N; i++ {
				out := filepath.Join(b.TempDir(), "t")
				var wg sync.WaitGroup
				var mu sync.Mutex
				t0 := time.Now()
				for s := 0; s < n; s++ {
					wg.Add(1)
					go func(s int) {
						defer wg.Done()
						_, ps := featurizeOnce(b, nil, "featurize", "--backbone", "mobilenetv2", "--models-dir", models, "--offline",
							"--input", images, "--output", out, "--shard", fmt.Sprintf("%d/%d", s, n),
							"--threads", fmt.Sprint(per), "--workers", fmt.Sprint(per), "--quiet")
						mu.Lock()
						cpu += ps.UserTime() + ps.SystemTime()
						mu.Unlock()
					}(s)
				}
				wg.Wait()
				wall += time.Since(t0)
				var m jobs.Summary
				for s := 0; s < n; s++ {
					name := "_summary.json"
					if n > 1 {
						name = fmt.Sprintf("_summary-s%03d.json", s)
					}
					data, err := os.ReadFile(filepath.Join(out, name))
					if err != nil {
						b.Fatal(err)
					}
					json.Unmarshal(data, &m)
					rows += m.Inputs
				}
			}
			imgs := float64(rows) / wall.Seconds()
			cpuMs := cpu.Seconds() * 1000 / float64(rows)
			if n == 1 {
				base = cpuMs
			}
			b.ReportMetric(imgs, "img/s")
			b.ReportMetric(cpuMs, "cpu_ms/img")
			if base > 0 {
				b.ReportMetric(cpuMs/base, "cpu/img_vs_1")
			}
			b.Logf("%d shard processes x %d threads on %d cores: %.1f img/s, %.2f CPU-ms per image (%s)", n, per, cores, imgs, cpuMs,
				strings.TrimSpace(fmt.Sprintf("%.3fx the CPU per image of one process", cpuMs/base)))
		})
	}
}
