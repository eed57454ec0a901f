// Command ocirt-stream-bench measures how fast container output reaches an io.Writer
// through the Go binding. It runs one busybox container that prints N MiB with
// `dd if=/dev/zero bs=65536`, attaches a byte-counting writer with Start, and prints one
// JSON line: {"mib_per_second": X, "bytes": B}. The time runs from the attach call to the
// end of the session. It needs root, runc and conmon.
//
// Usage: ocirt-stream-bench -rootfs DIR -run-dir DIR -runtime-root DIR -mib N
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

// counter is an io.Writer that only counts bytes, so the binding sets the pace.
type counter struct {
	bytes atomic.Int64
}

func (c *counter) Write(p []byte) (int, error) {
	c.bytes.Add(int64(len(p)))
	return len(p), nil
}

func main() {
	rootfs := flag.String("rootfs", "", "busybox root filesystem (scripts/make-bundle.sh DIR builds DIR/rootfs)")
	runDir := flag.String("run-dir", "", "absolute directory for the runtime's state, exit and socket directories")
	runtimeRoot := flag.String("runtime-root", "", "absolute directory for runc's --root")
	mib := flag.Int("mib", 64, "output size in MiB, at least 1")
	flag.Parse()
	if *rootfs == "" || *runDir == "" || *runtimeRoot == "" || *mib <= 0 {
		fmt.Fprintln(os.Stderr, "usage: ocirt-stream-bench -rootfs DIR -run-dir DIR -runtime-root DIR -mib N")
		os.Exit(2)
	}
	if err := run(*rootfs, *runDir, *runtimeRoot, *mib); err != nil {
		fmt.Fprintln(os.Stderr, "ocirt-stream-bench:", err)
		os.Exit(1)
	}
}

func run(rootfs, runDir, runtimeRoot string, mib int) error {
	rootfs, err := filepath.Abs(rootfs)
	if err != nil {
		return err
	}
	rt, err := ocirt.NewRuntime(&ocirt.RuntimeConfig{RunDir: runDir, RuntimeRoot: runtimeRoot})
	if err != nil {
		return err
	}
	defer rt.Close()

	size := int64(mib) << 20
	ctr, err := rt.NewContainer(&ocirt.ContainerConfig{
		ID:        fmt.Sprintf("go-stream-bench-%d", os.Getpid()),
		Spec:      spec(fmt.Sprintf("dd if=/dev/zero bs=65536 count=%d 2>/dev/null", size/65536)),
		Rootfs:    rootfs,
		LogDriver: "none",
	})
	if err != nil {
		return err
	}
	defer ctr.Close()
	defer func() {
		if err := rt.DeleteContainer(ctr); err != nil {
			fmt.Fprintf(os.Stderr, "ocirt-stream-bench: deleting container %s: %v\n", ctr.ID(), err)
		}
	}()
	if err := rt.CreateContainer(ctr, nil); err != nil {
		return err
	}

	output := &counter{}
	began := time.Now()
	err = rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{
		Streams: &ocirt.AttachStreams{OutputStream: output, ErrorStream: output},
		Start:   true,
	})
	seconds := time.Since(began).Seconds()
	if err != nil {
		return err
	}
	if got := output.bytes.Load(); got != size {
		return fmt.Errorf("the writer received %d bytes, expected %d", got, size)
	}
	return json.NewEncoder(os.Stdout).Encode(map[string]any{
		"mib_per_second": float64(size) / (1 << 20) / seconds,
		"bytes":          size,
	})
}

// spec returns an OCI spec that runs script with busybox sh on a read-only root, in private
// pid, mount, ipc and uts namespaces.
func spec(script string) map[string]any {
	return map[string]any{
		"ociVersion": "1.0.2",
		"process": map[string]any{
			"args": []string{"sh", "-c", script},
			"env":  []string{"PATH=/bin"},
			"cwd":  "/",
			"user": map[string]any{"uid": 0, "gid": 0},
		},
		"root": map[string]any{"path": "rootfs", "readonly": true},
		"mounts": []map[string]any{
			{"destination": "/proc", "type": "proc", "source": "proc"},
			{"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": []string{"nosuid", "mode=755"}},
		},
		"linux": map[string]any{
			"namespaces": []map[string]any{{"type": "pid"}, {"type": "ipc"}, {"type": "uts"}, {"type": "mount"}},
		},
	}
}
