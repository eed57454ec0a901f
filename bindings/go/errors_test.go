package ocirt_test

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

func TestSentinelsCoverEveryCode(t *testing.T) {
	sentinels := map[ocirt.Code]error{
		ocirt.CodeInvalidArgument:         ocirt.ErrInvalidArgument,
		ocirt.CodeNullArgument:            ocirt.ErrNullArgument,
		ocirt.CodeNoSuchContainer:         ocirt.ErrNoSuchContainer,
		ocirt.CodeNoSuchExecSession:       ocirt.ErrNoSuchExecSession,
		ocirt.CodeContainerStateInvalid:   ocirt.ErrContainerStateInvalid,
		ocirt.CodeExecStateInvalid:        ocirt.ErrExecStateInvalid,
		ocirt.CodeContainerStopped:        ocirt.ErrContainerStopped,
		ocirt.CodeOCIRuntime:              ocirt.ErrOCIRuntime,
		ocirt.CodeRuntimeNotFound:         ocirt.ErrRuntimeNotFound,
		ocirt.CodeRuntimePermissionDenied: ocirt.ErrRuntimePermissionDenied,
		ocirt.CodeRuntimeUnavailable:      ocirt.ErrRuntimeUnavailable,
		ocirt.CodeConmon:                  ocirt.ErrConmon,
		ocirt.CodeConmonTooOld:            ocirt.ErrConmonTooOld,
		ocirt.CodeDetached:                ocirt.ErrDetached,
		ocirt.CodeCanceled:                ocirt.ErrCanceled,
		ocirt.CodeTimedOut:                ocirt.ErrTimedOut,
		ocirt.CodeNotSupported:            ocirt.ErrNotSupported,
		ocirt.CodeIO:                      ocirt.ErrIO,
		ocirt.CodePanic:                   ocirt.ErrPanic,
		ocirt.CodeCallbackAborted:         ocirt.ErrCallbackAborted,
		ocirt.CodeContainerExists:         ocirt.ErrContainerExists,
		ocirt.CodeExecSessionExists:       ocirt.ErrExecSessionExists,
	}
	// Every code the library names has a sentinel. The first unnamed number ends the list.
	code := ocirt.Code(1)
	for ; code.String() != "OCIRT_UNKNOWN_RESULT"; code++ {
		sentinel, ok := sentinels[code]
		if !ok {
			t.Errorf("code %d (%s) has no sentinel", code, code)
			continue
		}
		failure := &ocirt.Error{Code: code, Message: "a failure"}
		if !errors.Is(failure, sentinel) {
			t.Errorf("an error with code %s does not match its sentinel", code)
		}
	}
	if int(code)-1 != len(sentinels) {
		t.Errorf("the library names %d codes, the test lists %d sentinels", code-1, len(sentinels))
	}
	if ocirt.CodeNoSuchContainer.String() != "OCIRT_ERR_NO_SUCH_CONTAINER" {
		t.Errorf("CodeNoSuchContainer is named %q, expected OCIRT_ERR_NO_SUCH_CONTAINER", ocirt.CodeNoSuchContainer.String())
	}
	if errors.Is(ocirt.ErrNoSuchContainer, ocirt.ErrInvalidArgument) {
		t.Error("sentinels of different codes match each other")
	}
}

// TestHeaderFunctionsAreBound checks that the package calls every function that
// include/ocirt.h declares. The package links against the library, so each one also
// resolves in libocirt.so.
func TestHeaderFunctionsAreBound(t *testing.T) {
	header, err := os.ReadFile(filepath.Join("..", "..", "include", "ocirt.h"))
	if err != nil {
		t.Fatal(err)
	}
	declared := regexp.MustCompile(`(?m)^[a-z_ *]+?\b(ocirt_[a-z_]+)\(`).FindAllSubmatch(header, -1)
	if len(declared) < 40 {
		t.Fatalf("found only %d function declarations in ocirt.h", len(declared))
	}
	sources, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	var code strings.Builder
	for _, source := range sources {
		if strings.HasSuffix(source, "_test.go") {
			continue
		}
		text, err := os.ReadFile(source)
		if err != nil {
			t.Fatal(err)
		}
		code.Write(text)
	}
	for _, match := range declared {
		name := string(match[1])
		if !strings.Contains(code.String(), "C."+name+"(") {
			t.Errorf("the Go package does not call %s", name)
		}
	}
}

func TestBadInput(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	_, err := ocirt.NewRuntime(&ocirt.RuntimeConfig{LogLevel: "loud"})
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("runtime with log level \"loud\": %v, expected ErrInvalidArgument", err)
	}
	expectMessageContains(t, err, "loud", "runtime with log level \"loud\"")
	_, err = ocirt.NewRuntime(&ocirt.RuntimeConfig{Path: "/no/such/runc"})
	if !errors.Is(err, ocirt.ErrRuntimeUnavailable) {
		t.Errorf("runtime with a missing binary: %v, expected ErrRuntimeUnavailable", err)
	}
	_, err = e.rt.NewContainer(&ocirt.ContainerConfig{ID: "../up", Bundle: "/x"})
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("container id ../up: %v, expected ErrInvalidArgument", err)
	}
	expectMessageContains(t, err, "../up", "container id ../up")
	if _, err = e.rt.NewContainer(nil); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("nil container config: %v, expected ErrInvalidArgument", err)
	}
	if _, err = e.rt.OpenContainer(strings.Repeat("a", 400)); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("400-byte id: %v, expected ErrInvalidArgument", err)
	}
	if _, err = e.rt.OpenContainer("absent"); !errors.Is(err, ocirt.ErrNoSuchContainer) {
		t.Errorf("absent container: %v, expected ErrNoSuchContainer", err)
	}
	var failure *ocirt.Error
	if !errors.As(err, &failure) {
		t.Errorf("absent container: %#v, expected an *ocirt.Error", err)
	} else {
		if failure.Code != ocirt.CodeNoSuchContainer {
			t.Errorf("absent container: code %v, expected CodeNoSuchContainer", failure.Code)
		}
		if failure.Message == "" {
			t.Errorf("absent container: %#v has an empty message", failure)
		}
	}

	ctr := e.running("bad", "sleep", "1000")
	other, err := ocirt.NewRuntime(e.config())
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	if err := other.StartContainer(ctr); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("container of another Runtime: %v, expected ErrInvalidArgument", err)
	}
	if err := e.rt.StartContainer(nil); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("nil container: %v, expected ErrInvalidArgument", err)
	}
	if err := e.rt.StartContainer(ctr); !errors.Is(err, ocirt.ErrContainerStateInvalid) {
		t.Errorf("start of a running container: %v, expected ErrContainerStateInvalid", err)
	}
	if err := e.rt.KillContainer(ctr, 0, false); !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("signal 0: %v, expected ErrInvalidArgument", err)
	}

	badKeys := "ctrl-C"
	err = e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{DetachKeys: &badKeys})
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("detach keys ctrl-C: %v, expected ErrInvalidArgument", err)
	}
	expectMessageContains(t, err, "ctrl-C", "detach keys ctrl-C")
	err = e.rt.Attach(context.Background(), ctr, &ocirt.AttachOptions{BufferLimit: -1})
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("negative buffer limit: %v, expected ErrInvalidArgument", err)
	}
	_, _, err = e.rt.ExecContainer(context.Background(), ctr, "empty", &ocirt.ExecOptions{}, nil, nil)
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("exec without a command: %v, expected ErrInvalidArgument", err)
	}
	_, _, err = e.rt.ExecContainer(context.Background(), ctr, "bad/id", &ocirt.ExecOptions{Cmd: []string{"true"}}, nil, nil)
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("exec session id bad/id: %v, expected ErrInvalidArgument", err)
	}
	if _, _, err = e.rt.ExecUpdateStatus(ctr, "absent"); !errors.Is(err, ocirt.ErrNoSuchExecSession) {
		t.Errorf("status of an absent exec session: %v, expected ErrNoSuchExecSession", err)
	}

	// net.Pipe has no file descriptor to hand over, but the failed call closes it all the
	// same.
	client, server := net.Pipe()
	defer client.Close()
	err = e.rt.HTTPAttach(context.Background(), ctr, server, nil, nil, nil)
	if !errors.Is(err, ocirt.ErrInvalidArgument) {
		t.Errorf("HTTP attach over net.Pipe: %v, expected ErrInvalidArgument", err)
	}
	if _, err := client.Write([]byte("x")); err == nil {
		t.Error("HTTPAttach left the connection open after a failure")
	}
	e.expectStatus(ctr, ocirt.StatusRunning, "after the bad calls")
}

func TestContainerExists(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("exists", "true")

	_, err := e.rt.NewContainer(&ocirt.ContainerConfig{ID: ctr.ID(), Spec: spec("true"), Rootfs: filepath.Join(bundleDir, "rootfs")})
	if !errors.Is(err, ocirt.ErrContainerExists) {
		t.Errorf("second container %s: %v, expected ErrContainerExists", ctr.ID(), err)
	}
}
