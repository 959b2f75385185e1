package table

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/compress/snappy"
)

// benchRows are feature rows shaped like a real table's: 2,048 pooled
// ReLU activations (non-negative, about one in six exactly 0), ten labels,
// photo paths.
func benchRows(n, dim int) []FeatureRow {
	rng := rand.New(rand.NewSource(1))
	labels := []string{"dress", "hat", "longsleeve", "outwear", "pants", "shirt", "shoes", "shorts", "skirt", "t-shirt"}
	rows := make([]FeatureRow, n)
	for i := range rows {
		k := int32(rng.Intn(len(labels)))
		f := make([]float32, dim)
		for j := range f {
			if rng.Intn(6) != 0 {
				f[j] = float32(rng.ExpFloat64() * 0.4)
			}
		}
		rows[i] = FeatureRow{Path: fmt.Sprintf("/data/clothing/train/%s/%08x-%04d.jpg", labels[k], rng.Uint32(), i), Label: &labels[k], LabelIndex: &k, Features: f}
	}
	return rows
}

// BenchmarkPartWriter writes 2,048 rows of 2,048 features (two row groups)
// with the table's writer settings and, side by side, with parquet-go's
// defaults that tables were written with before (data page v2,
// DELTA_LENGTH_BYTE_ARRAY strings): bytes per row and rows per second.
//
//	go test -run '^$' -bench PartWriter -benchtime 20x ./table
func BenchmarkPartWriter(b *testing.B) {
	rows := benchRows(2048, 2048)
	for _, c := range []struct {
		name string
		opts []parquet.WriterOption
	}{
		{"table", writerOptions()},
		{"v1-dict-strings", append(writerOptions(), parquet.DefaultEncodingFor(parquet.ByteArray, &parquet.RLEDictionary))},
		{"parquet-go-defaults", []parquet.WriterOption{parquet.Compression(&snappy.Codec{}), parquet.MaxRowsPerRowGroup(rowGroupRows)}},
	} {
		b.Run(c.name, func(b *testing.B) {
			var buf bytes.Buffer
			b.SetBytes(int64(len(rows) * 2048 * 4))
			for i := 0; i < b.N; i++ {
				buf.Reset()
				w := parquet.NewGenericWriter[FeatureRow](&buf, c.opts...)
				for j := 0; j < len(rows); j += 256 {
					if _, err := w.Write(rows[j : j+256]); err != nil {
						b.Fatal(err)
					}
				}
				if err := w.Close(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(buf.Len())/float64(len(rows)), "B/row")
			b.ReportMetric(float64(len(rows)*b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
