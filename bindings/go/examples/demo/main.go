// Command demo runs busybox containers through the Go binding of libocirt: a container
// whose output streams to this process while the demo writes to its stdin, an exec session
// in a running container, and a stop with a grace period.
//
// Usage (as root, from bindings/go, after `cargo build --release` in the repository root):
//
//	../../scripts/make-bundle.sh /tmp/demo-bundle
//	go run ./examples/demo /tmp/demo-bundle
//
// The runtime's state lives in a temporary directory that the demo removes at the end.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: demo BUNDLE (a directory from scripts/make-bundle.sh)")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	fmt.Println("== demo finished")
}

func run(bundle string) error {
	bundle, err := filepath.Abs(bundle)
	if err != nil {
		return err
	}
	base, err := loadSpec(filepath.Join(bundle, "config.json"))
	if err != nil {
		return err
	}
	// Ctrl-C cancels the blocking calls, so the deferred deletes still run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	dir, err := os.MkdirTemp("/tmp", "ocirt-go-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	rt, err := ocirt.NewRuntime(&ocirt.RuntimeConfig{
		RunDir:      filepath.Join(dir, "run"),
		RuntimeRoot: filepath.Join(dir, "runc"),
	})
	if err != nil {
		return err
	}
	defer rt.Close()
	conmon, runtimeInfo, err := rt.RuntimeInfo()
	if err != nil {
		return err
	}
	fmt.Printf("== libocirt %s with %s and %s\n", ocirt.Version(), firstLine(runtimeInfo.Version), firstLine(conmon.Version))

	newContainer := func(name string, stdin bool, args ...string) (*ocirt.Container, error) {
		return rt.NewContainer(&ocirt.ContainerConfig{
			ID:     fmt.Sprintf("go-demo-%s-%d", name, os.Getpid()),
			Spec:   withArgs(base, args),
			Rootfs: filepath.Join(bundle, "rootfs"),
			Stdin:  stdin,
		})
	}

	fmt.Println("== a container that reads its stdin and writes to stdout and stderr")
	ctr, err := newContainer("stream", true, "sh", "-c",
		"echo hello from $(hostname); read line; echo container read: $line; echo bye >&2; exit 3")
	if err != nil {
		return err
	}
	defer deleteAndClose(rt, ctr)
	if err := rt.CreateContainer(ctr, nil); err != nil {
		return err
	}
	// Start once attached, so no early output is lost. The Reader's end closes stdin.
	err = rt.Attach(ctx, ctr, &ocirt.AttachOptions{
		Streams: &ocirt.AttachStreams{
			OutputStream: prefixed("stdout"),
			ErrorStream:  prefixed("stderr"),
			InputStream:  strings.NewReader("a line from Go\n"),
		},
		Start: true,
	})
	if err != nil {
		return err
	}
	code, err := ctr.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   exit code %d\n", code)

	fmt.Println("== an exec session in a running container, then a stop")
	server, err := newContainer("server", false, "sh", "-c",
		"trap 'echo got SIGTERM; exit 0' TERM; while :; do sleep 1; done")
	if err != nil {
		return err
	}
	defer deleteAndClose(rt, server)
	if err := rt.CreateContainer(server, nil); err != nil {
		return err
	}
	if err := rt.StartContainer(server); err != nil {
		return err
	}
	session := fmt.Sprintf("go-demo-exec-%d", os.Getpid())
	pid, results, err := rt.ExecContainer(ctx, server, session,
		&ocirt.ExecOptions{Cmd: []string{"sh", "-c", "echo exec as uid $(id -u) in $(pwd); exit 4"}, Cwd: "/tmp"},
		&ocirt.AttachStreams{OutputStream: prefixed("exec")}, nil)
	if err != nil {
		return err
	}
	if err := <-results; err != nil {
		return err
	}
	_, execCode, err := rt.ExecUpdateStatus(server, session)
	if err != nil {
		return err
	}
	fmt.Printf("   exec pid %d exited with code %d\n", pid, execCode)
	if err := rt.ExecContainerCleanup(server, session); err != nil {
		return err
	}

	// A Wait that reaches its deadline shows that the container still runs.
	brief, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	_, err = server.Wait(brief)
	if err == nil {
		return fmt.Errorf("container %s exited before the stop", server.ID())
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	began := time.Now()
	if err := rt.StopContainer(server, 10, false); err != nil {
		return err
	}
	code, err = server.Wait(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("   stopped in %.2f s with exit code %d\n", time.Since(began).Seconds(), code)
	err = rt.KillContainer(server, syscall.SIGKILL, false)
	if !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		return fmt.Errorf("kill of the stopped container %s: %v, expected ErrContainerStateInvalid", server.ID(), err)
	}
	fmt.Printf("   a kill now fails, as it should: %v\n", err)
	return nil
}

// deleteAndClose deletes the container (killing it if it runs) and frees its handle.
func deleteAndClose(rt *ocirt.Runtime, ctr *ocirt.Container) {
	if err := rt.DeleteContainer(ctr); err != nil {
		fmt.Fprintf(os.Stderr, "demo: deleting %s: %v\n", ctr.ID(), err)
	}
	ctr.Close()
}

// loadSpec reads the bundle's config.json.
func loadSpec(path string) (map[string]any, error) {
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var spec map[string]any
	if err := json.Unmarshal(text, &spec); err != nil {
		return nil, fmt.Errorf("invalid JSON in %s: %w", path, err)
	}
	return spec, nil
}

// withArgs returns a copy of spec whose process runs args.
func withArgs(spec map[string]any, args []string) map[string]any {
	text, _ := json.Marshal(spec)
	var copied map[string]any
	json.Unmarshal(text, &copied)
	copied["process"].(map[string]any)["args"] = args
	return copied
}

// firstLine returns text up to its first newline.
func firstLine(text string) string {
	line, _, _ := strings.Cut(text, "\n")
	return line
}

// prefixed is a writer that prints each line of a chunk with a label. The library calls it
// from its own thread, one chunk at a time, so a line split across chunks shows as two.
type prefixed string

func (p prefixed) Write(chunk []byte) (int, error) {
	for _, line := range strings.SplitAfter(string(chunk), "\n") {
		if line != "" {
			fmt.Printf("   %s> %s\n", string(p), strings.TrimSuffix(line, "\n"))
		}
	}
	return len(chunk), nil
}
