package corrupt

import (
	"bufio"
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
)

//go:embed pillow_verdict.py
var pillowVerdictPy string

// PillowPython is the Python that holds the reference Pillow: Debian's
// python3-pil, or $FEATURIZER_PILLOW_PYTHON (to hold us to another
// Pillow, e.g. a PyPI release in a virtual environment).
func PillowPython() string {
	if p := os.Getenv("FEATURIZER_PILLOW_PYTHON"); p != "" {
		return p
	}
	return "/usr/bin/python3"
}

// Verdict is Pillow's judgement of one file.
type Verdict struct {
	Path   string `json:"path"`
	OK     bool   `json:"ok"`
	Error  string `json:"error"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	SHA256 string `json:"sha256"` // of the RGB pixels, EXIF orientation applied
	// PixelsError says why Pillow opens the file but cannot make the
	// pixels featurizer's policy asks for (alpha on white); SHA256 is
	// empty then.
	PixelsError string `json:"pixels_error"`
}

// PillowAvailable reports why Pillow cannot be run, or nil.
func PillowAvailable() error {
	out, err := exec.Command(PillowPython(), "-c", "import PIL").CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s with Pillow: %v %s (apt-get install python3-pil)", PillowPython(), err, strings.TrimSpace(string(out)))
	}
	return nil
}

// PinnedPillow is the judge the tests pin: Debian bookworm's python3-pil
// (9.4.0-1.1+deb12u1), built against the same libjpeg-turbo, libtiff,
// libwebp and zlib that featurizer links.
const PinnedPillow = "9.4.0"

// PillowVersion is the judge's version.
func PillowVersion() string {
	out, _ := exec.Command(PillowPython(), "-c", "import PIL; print(PIL.__version__)").Output()
	return strings.TrimSpace(string(out))
}

// PillowVerdicts asks Pillow about each file (absolute or relative paths):
// does Image.open(p).convert("RGB") succeed, and with which pixels.
func PillowVerdicts(paths []string) (map[string]Verdict, error) {
	cmd := exec.Command(PillowPython(), "-c", pillowVerdictPy)
	cmd.Stdin = strings.NewReader(strings.Join(paths, "\n") + "\n")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("pillow_verdict.py: %v\n%s", err, stderr.String())
	}
	res := map[string]Verdict{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var v Verdict
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			return nil, fmt.Errorf("pillow_verdict.py: %v: %q", err, sc.Text())
		}
		res[v.Path] = v
	}
	if len(res) != len(paths) {
		return nil, fmt.Errorf("pillow_verdict.py answered for %d of %d files", len(res), len(paths))
	}
	return res, nil
}
