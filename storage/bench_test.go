package storage

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/featurizer/featurizer/internal/testservers"
)

// BenchmarkMinIOGet measures how many objects per second a loopback MinIO
// serves to a store's ReadFileLimit with r reads in flight, and the client's CPU per
// read: the ceiling of a featurize job reading from that server.
//
//	FEATURIZER_BENCH_SERVER_CORES=12-15 taskset -c 0-11 go test -run '^$' -bench MinIOGet ./storage
func BenchmarkMinIOGet(b *testing.B) {
	srv := testservers.MinIO(b)
	if cores := os.Getenv("FEATURIZER_BENCH_SERVER_CORES"); cores != "" {
		if err := testservers.PinProcess("minio", cores); err != nil {
			b.Fatal(err)
		}
	}
	rng := rand.New(rand.NewSource(1))
	const objects = 1000
	data := make([]byte, 60<<10) // a typical 400x533 JPEG
	for i := 0; i < objects; i++ {
		rng.Read(data)
		if err := srv.Put(fmt.Sprintf("images/%04d.jpg", i), data); err != nil {
			b.Fatal(err)
		}
	}
	ctx := context.Background()
	s, root, err := Resolve(ctx, srv.URL("images"))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	for _, readers := range []int{8, 16, 48} {
		b.Run(fmt.Sprintf("readers=%d", readers), func(b *testing.B) {
			var next atomic.Int64
			total := int64(b.N) * objects
			var ru0, ru1 syscall.Rusage
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			t0 := time.Now()
			var wg sync.WaitGroup
			for r := 0; r < readers; r++ {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1) - 1
						if i >= total {
							return
						}
						if _, err := s.ReadFileLimit(ctx, fmt.Sprintf("%s/%04d.jpg", root, i%objects), 0); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			dt := time.Since(t0)
			syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) * time.Nanosecond
			b.ReportMetric(float64(total)/dt.Seconds(), "GET/s")
			b.ReportMetric(cpu.Seconds()*1000/float64(total), "client_cpu_ms/GET")
			b.Logf("%d reads in flight, client on %d cores: %.0f GET/s of 60 KiB, %.3f client CPU-ms per GET",
				readers, runtime.NumCPU(), float64(total)/dt.Seconds(), cpu.Seconds()*1000/float64(total))
		})
	}
}
