package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/featurizer/featurizer/internal/fatbin"
)

func main() {
	archs := flag.String("arch", "90", "comma-separated SM architectures to keep (90 = sm_90: H100, H200)")
	out := flag.String("o", "", "output file (required)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: cudaslim -arch 90[,80] -o OUT LIBRARY.so")
		flag.PrintDefaults()
	}
	flag.Parse()
	if flag.NArg() != 1 || *out == "" {
		flag.Usage()
		os.Exit(2)
	}
	keep := map[uint32]bool{}
	for _, a := range strings.Split(*archs, ",") {
		n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(a), "sm_"), 10, 32)
		if err != nil {
			fmt.Fprintf(os.Stderr, "cudaslim: -arch: expected numbers such as 90 or sm_90, got %q\n", a)
			os.Exit(2)
		}
		keep[uint32(n)] = true
	}
	data, err := os.ReadFile(flag.Arg(0))
	if err != nil {
		fmt.Fprintln(os.Stderr, "cudaslim:", err)
		os.Exit(1)
	}
	st, err := fatbin.Slim(data, keep)
	if err != nil {
		fmt.Fprintf(os.Stderr, "cudaslim: %s: %v\n", flag.Arg(0), err)
		os.Exit(1)
	}
	if err := os.WriteFile(*out, data, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "cudaslim:", err)
		os.Exit(1)
	}
	var parts []string
	for _, a := range st.Archs() {
		parts = append(parts, fmt.Sprintf("sm_%d %.1f MB", a, float64(st.ByArch[a])/1e6))
	}
	fmt.Printf("%s: %d containers (%s); kept %.1f MB, zeroed %.1f MB, %d containers for other GPUs only left as they were -> %s\n",
		flag.Arg(0), st.Containers, strings.Join(parts, ", "), float64(st.Kept)/1e6, float64(st.Zeroed)/1e6, st.Untouched, *out)
}
