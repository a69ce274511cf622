package web

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// The unit tests of the browser code (test/*.test.ts: the SDK's masking,
// what it leaves on the host page, the close-code table) run under Node, so
// that `go test ./...` runs every test of the project. They need Node.js and
// the web packages; the packages are installed from package-lock.json when
// missing.
func TestBrowserCodeUnitTests(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatal("Node.js is needed for the browser code's unit tests: install Debian's nodejs and npm packages")
	}
	if _, err := os.Stat("node_modules/jsdom"); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			t.Fatal("npm is needed to install the web packages: install Debian's npm package")
		}
		out, err := exec.Command(npm, "ci", "--no-audit", "--no-fund", "--loglevel=error").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	out, err := exec.Command(node, "test.mjs").CombinedOutput()
	if err != nil {
		t.Fatalf("browser code unit tests failed: %v\n%s", err, out)
	}
	// A run that found no test must not pass as a green one.
	if !strings.Contains(string(out), "# fail 0") || strings.Contains(string(out), "# pass 0\n") {
		t.Fatalf("unexpected test runner output:\n%s", out)
	}
	t.Logf("%s", lastLines(string(out), 8))
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
