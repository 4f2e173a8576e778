// Row 6's bootstraps: the two functions and the hello-world baseline, built
// as the Makefile builds them.

package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/zoho-bridge/leadconvert/internal/awstest"
	"github.com/zoho-bridge/leadconvert/internal/rie"
)

// The bootstraps row 6 starts: the two functions and the baseline, a
// hello-world aws-lambda-go function built the same way.
const (
	bootHello   = "hello"
	bootConvert = "convert"
	bootStatus  = "status"
)

// helloMain is the baseline function. It is written into a module of its
// own, next to nothing else, which requires the aws-lambda-go version this
// module requires.
const helloMain = `package main

import "github.com/aws/aws-lambda-go/lambda"

func main() { lambda.Start(func() (string, error) { return "ok", nil }) }
`

// bootstraps are the binaries, built once per bench run: path[arch][name].
type bootstraps struct {
	dir  string
	path map[string]map[string]string
	size map[string]map[string]int64
}

var built struct {
	mu sync.Mutex
	b  *bootstraps
}

// buildBootstraps builds the three bootstraps as the Makefile builds the
// functions (static, stripped, -tags lambda.norpc) for the host's
// architecture and, when arm64 is set, for arm64 (what Lambda runs).
func buildBootstraps(arm64 bool) (*bootstraps, error) {
	built.mu.Lock()
	defer built.mu.Unlock()
	archs := []string{runtime.GOARCH}
	if arm64 && runtime.GOARCH != "arm64" {
		archs = append(archs, "arm64")
	}
	if b := built.b; b != nil && len(b.path) == len(archs) {
		return b, nil
	}
	root, err := awstest.RepoRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "leadconvert-bench-")
	if err != nil {
		return nil, err
	}
	b := &bootstraps{dir: dir, path: map[string]map[string]string{}, size: map[string]map[string]int64{}}
	hello, err := writeHello(root, filepath.Join(dir, "hello-src"))
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	for _, arch := range archs {
		b.path[arch], b.size[arch] = map[string]string{}, map[string]int64{}
		for _, name := range []string{bootHello, bootConvert, bootStatus} {
			out := filepath.Join(dir, arch, name)
			if err := os.MkdirAll(out, 0o755); err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			var bin string
			if name == bootHello {
				bin, err = rie.BuildIn(hello, ".", out, arch, "GOFLAGS=-mod=mod", "GOWORK=off")
			} else {
				bin, err = rie.BuildIn(root, "./functions/"+name, out, arch)
			}
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			fi, err := os.Stat(bin)
			if err != nil {
				os.RemoveAll(dir)
				return nil, err
			}
			b.path[arch][name], b.size[arch][name] = bin, fi.Size()
		}
	}
	if built.b != nil {
		os.RemoveAll(built.b.dir)
	}
	built.b = b
	return b, nil
}

// removeBootstraps deletes what buildBootstraps built.
func removeBootstraps() {
	built.mu.Lock()
	defer built.mu.Unlock()
	if built.b != nil {
		os.RemoveAll(built.b.dir)
		built.b = nil
	}
}

// writeHello writes the hello-world module into dir: main.go, a go.mod
// requiring this module's aws-lambda-go version, and its go.sum lines, so
// that the build needs nothing but the module cache.
func writeHello(root, dir string) (string, error) {
	const mod = "github.com/aws/aws-lambda-go"
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Version}}", mod)
	cmd.Dir = root
	v, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("go list -m %s: %w", mod, err)
	}
	version := strings.TrimSpace(string(v))
	sums, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", err
	}
	var sum strings.Builder
	for line := range strings.Lines(string(sums)) {
		if strings.HasPrefix(line, mod+" "+version) {
			sum.WriteString(line)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	goVersion, err := moduleGoVersion(root)
	if err != nil {
		return "", err
	}
	files := map[string]string{
		"main.go": helloMain,
		"go.mod":  fmt.Sprintf("module hello\n\ngo %s\n\nrequire %s %s\n", goVersion, mod, version),
		"go.sum":  sum.String(),
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// moduleGoVersion is the go directive of this module's go.mod.
func moduleGoVersion(root string) (string, error) {
	f, err := os.Open(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "go "); ok {
			return strings.TrimSpace(v), nil
		}
	}
	return "", errors.New("go.mod has no go directive")
}
