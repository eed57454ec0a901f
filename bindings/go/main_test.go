package ocirt_test

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

// bundleDir is the busybox bundle that scripts/make-bundle.sh builds for the whole run.
var bundleDir string

// bundleSpec is the bundle's config.json, the base of every test's inline spec.
var bundleSpec map[string]any

// TestMain runs the tests as root with a shared busybox bundle, then checks that every
// session's cgo handle was deleted.
func TestMain(m *testing.M) {
	os.Exit(run(m))
}

// run is TestMain's body, so that its deferred removal of the bundle runs before os.Exit.
func run(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "ocirt tests run real containers, so run them as root (with sudo)")
		return 1
	}
	dir, err := os.MkdirTemp("/tmp", "ocirt-go-bundle-")
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot create the bundle directory in /tmp: %v\n", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bundleDir = filepath.Join(dir, "bundle")
	script := filepath.Join("..", "..", "scripts", "make-bundle.sh")
	if output, err := exec.Command(script, bundleDir).CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "%s %s failed: %v\n%s", script, bundleDir, err, output)
		return 1
	}
	text, err := os.ReadFile(filepath.Join(bundleDir, "config.json"))
	if err == nil {
		err = json.Unmarshal(text, &bundleSpec)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "cannot read the bundle's config.json in %s: %v\n", bundleDir, err)
		return 1
	}

	status := m.Run()

	// The library's userdata_free callback deletes each session's handle when the session
	// ends, and sessions that the last tests ended may need a moment to get there.
	eventually(5*time.Second, func() bool { return ocirt.LiveHandles() == 0 })
	if live := ocirt.LiveHandles(); live != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d cgo handles are still registered after the tests\n", live)
		return 1
	}
	return status
}
