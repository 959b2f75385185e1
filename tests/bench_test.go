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

// BenchmarkStorageMinIOvsLocal featurizes the same images from local disk
// to local disk and from MinIO to MinIO (a real server on loopback),
// alternately; minio/local is the ratio of their throughputs (goal: at
// least 0.95).
func BenchmarkStorageMinIOvsLocal(b *testing.B) {
	split := "test" // 372 photos; FEATURIZER_BENCH_SPLIT=train for 3,068
	if v := os.Getenv("FEATURIZER_BENCH_SPLIT"); v != "" {
		split = v
	}
	models, images := benchImages(b, split)
	srv := testservers.MinIO(b)
	ctx := context.Background()
	d, err := storage.Open(ctx, srv.URL("images"))
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
	cpu := func(ps *os.ProcessState) time.Duration { return ps.UserTime() + ps.SystemTime() }
	// Two setups, alternated in the same run: the server sharing the cores
	// with featurizer (as here, on one machine), and the server on a core
	// of its own with featurizer on the others (taskset), which is what a
	// remote object store is to the job: its CPU is not the job's.
	cores := runtime.NumCPU()
	pinned := cores >= 2 && testservers.PinProcess("minio", fmt.Sprint(cores-1)) == nil
	type setup struct {
		name                                       string
		prefix                                     []string
		local, remote, localCPU, remoteCPU, server time.Duration
	}
	setups := []*setup{{name: "shared cores"}}
	if pinned {
		setups = append(setups, &setup{name: "server on its own core", prefix: []string{"taskset", "-c", fmt.Sprintf("0-%d", cores-2)}})
	} else {
		b.Log("taskset unavailable: only the shared-cores setup is measured")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for _, su := range setups {
			if su.prefix == nil {
				testservers.PinProcess("minio", fmt.Sprintf("0-%d", cores-1))
			} else {
				testservers.PinProcess("minio", fmt.Sprint(cores-1))
			}
			t, ps := featurizeCmd(b, su.prefix, args(images, filepath.Join(dir, "local"))...)
			su.local += t
			su.localCPU += cpu(ps)
			s0 := testservers.ProcessCPU("minio")
			t, ps = featurizeCmd(b, su.prefix, args(srv.URL("images"), srv.URL(fmt.Sprintf("features-%d", i)))...)
			su.remote += t
			su.remoteCPU += cpu(ps)
			su.server += testservers.ProcessCPU("minio") - s0
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(n*b.N) }
	for k, su := range setups {
		l := float64(n*b.N) / su.local.Seconds()
		r := float64(n*b.N) / su.remote.Seconds()
		if k == len(setups)-1 {
			b.ReportMetric(l, "local_img/s")
			b.ReportMetric(r, "minio_img/s")
			b.ReportMetric(r/l, "minio/local")
			b.ReportMetric(per(su.remoteCPU)/per(su.localCPU), "cpu_minio/local")
		}
		b.Logf("%s, %d images x %d, %d cores: local disk %.1f img/s, MinIO %.1f img/s (process wall time, start-up included): %.3fx; "+
			"featurizer CPU per image %.2f ms local, %.2f ms MinIO (%.3fx); MinIO server %.2f CPU-ms per image",
			su.name, n, b.N, cores, l, r, r/l, per(su.localCPU), per(su.remoteCPU), per(su.remoteCPU)/per(su.localCPU), per(su.server))
	}
}

// featurizeCmd runs the CLI under a command prefix (taskset), if any.
func featurizeCmd(b *testing.B, prefix []string, args ...string) (time.Duration, *os.ProcessState) {
	b.Helper()
	name, all := binary, args
	if len(prefix) > 0 {
		name, all = prefix[0], append(append(append([]string{}, prefix[1:]...), binary), args...)
	}
	cmd := exec.Command(name, all...)
	t0 := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		b.Fatalf("%v: %s", err, out)
	}
	return time.Since(t0), cmd.ProcessState
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
						_, ps := featurizeCmd(b, nil, "featurize", "--backbone", "mobilenetv2", "--models-dir", models, "--offline",
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
