package ocirt

// #include <stdlib.h>
// #include "ocirt.h"
import "C"

import (
	"bufio"
	"context"
	"net"
	"sort"
	"syscall"
	"unsafe"
)

// ExecOptions describe a command to run in a running container.
type ExecOptions struct {
	// Cmd is the command and its arguments. It is required.
	Cmd []string
	// CapAdd lists capabilities added to the process ("CAP_NET_ADMIN" or "NET_ADMIN").
	CapAdd []string
	// Env is added to the container's environment.
	Env map[string]string
	// Terminal runs the command on a terminal.
	Terminal bool
	// Cwd is the working directory, by default the container's.
	Cwd string
	// User is "uid", "uid:gid", "name" or "name:group", looked up in the container's
	// /etc/passwd and /etc/group. It defaults to the container's user.
	User string
	// PreserveFDs passes this process's descriptors 3 to 3+N-1 to the command. The library
	// checks that they are open.
	PreserveFDs uint
	// DetachKeys is the detach sequence. Nil means "ctrl-p,ctrl-q", and "" disables it.
	DetachKeys *string
	// ExitCommand is run by conmon after the command exits: an absolute program path, then
	// its arguments. ExitCommandDelay is the wait before it runs, in seconds.
	ExitCommand      []string
	ExitCommandDelay uint
	// BufferLimit is the maximum number of bytes of output buffered while the writers or
	// the HTTP client lag, 8 MiB when 0.
	BufferLimit int
	// HijackHeader makes ExecContainerHTTP write podman's "HTTP/1.1 101 UPGRADED" response
	// once the command runs.
	HijackHeader bool
}

// json builds the library's exec options. streams and size come from the call.
func (o *ExecOptions) json(streams *AttachStreams, size *TerminalSize) (map[string]any, error) {
	if o == nil || len(o.Cmd) == 0 {
		return nil, invalidArgument("exec options: Cmd is empty")
	}
	fields, err := sessionJSON(streams, o.DetachKeys, size, o.BufferLimit)
	if err != nil {
		return nil, err
	}
	fields["cmd"] = o.Cmd

	if len(o.CapAdd) > 0 {
		fields["cap_add"] = o.CapAdd
	}
	if len(o.Env) > 0 {
		// The library applies the list in order. Sorting the names makes the order, and so
		// the result, the same on every run, which map iteration would not.
		names := make([]string, 0, len(o.Env))
		for name := range o.Env {
			names = append(names, name)
		}
		sort.Strings(names)
		env := make([]string, 0, len(names))
		for _, name := range names {
			env = append(env, name+"="+o.Env[name])
		}
		fields["env"] = env
	}

	if o.Terminal {
		fields["terminal"] = true
	}
	if o.Cwd != "" {
		fields["cwd"] = o.Cwd
	}
	if o.User != "" {
		fields["user"] = o.User
	}
	if o.PreserveFDs > 0 {
		fields["preserve_fds"] = o.PreserveFDs
	}
	if len(o.ExitCommand) > 0 {
		fields["exit_command"] = o.ExitCommand
	}
	if o.ExitCommandDelay > 0 {
		fields["exit_command_delay"] = o.ExitCommandDelay
	}
	return fields, nil
}

// ExecContainer runs a command in the running container and returns its host pid once it
// runs. newSize sets a terminal's initial size.
//
// The returned channel receives the session's result once. The result is nil when the
// streams ended, and ExecUpdateStatus then returns the exit code. It matches ErrDetached
// after a detach. When ctx is done first, the session detaches, the command keeps running,
// and the result matches ErrCanceled and ctx's error. A panic in a writer is raised again
// on the goroutine that feeds the channel, which ends the program.
func (r *Runtime) ExecContainer(ctx context.Context, ctr *Container, sessionID string, options *ExecOptions, streams *AttachStreams, newSize *TerminalSize) (int, <-chan error, error) {
	if err := r.checkOwner(ctr); err != nil {
		return -1, nil, err
	}
	if streams == nil {
		streams = &AttachStreams{}
	}
	fields, err := options.json(streams, newSize)
	if err != nil {
		return -1, nil, err
	}
	cOptions := cJSON(fields)
	defer C.free(unsafe.Pointer(cOptions))
	cSession := C.CString(sessionID)
	defer C.free(unsafe.Pointer(cSession))

	sink := newOutputSink(streams.OutputStream, streams.ErrorStream)
	callbacks, handle := attachCallbacks(sink)
	var pid C.int32_t
	var ptr *C.ocirt_attach
	err = ctr.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result {
			return C.ocirt_exec_start(p, cSession, cOptions, &callbacks, &pid, &ptr)
		})
	})
	if err != nil {
		deleteHandle(handle)
		return -1, nil, err
	}

	s := newSession(ptr, sink)
	if streams.InputStream != nil {
		s.acquire()
		go s.copyInput(streams.InputStream)
	}
	return int(pid), follow(ctx, s, "exec session "+sessionID, nil), nil
}

// follow waits for s in a goroutine and sends its result on the returned channel. Then it
// releases its reference to s and closes cancel, which may be nil.
func follow(ctx context.Context, s *session, description string, cancel *canceler) <-chan error {
	result := make(chan error, 1)
	go func() {
		defer cancel.close()
		defer s.release()
		ended, err := s.wait(ctx, description)
		switch {
		case err != nil:
			result <- withContext(ctx, err)
		case ended.detached:
			result <- detachedError(description)
		default:
			result <- nil
		}
	}()
	return result
}

// ExecContainerHTTP runs a command in the running container with its streams on a
// connection hijacked from an HTTP server, framed as in HTTPAttach. It returns the host pid
// once the command runs, and a channel as ExecContainer does. When ctx is done, the
// streaming ends early.
//
// ExecContainerHTTP takes ownership of conn, whatever the result. It closes conn before
// returning and hands a duplicate of its descriptor to the library, which closes the
// duplicate when the session is over. rw may be nil. Its buffered input goes to stdin
// first.
func (r *Runtime) ExecContainerHTTP(ctx context.Context, ctr *Container, sessionID string, options *ExecOptions, conn net.Conn, rw *bufio.ReadWriter, streams *HTTPAttachStreams, newSize *TerminalSize) (int, <-chan error, error) {
	if conn == nil {
		return -1, nil, invalidArgument("connection is nil")
	}
	fail := func(err error) (int, <-chan error, error) {
		conn.Close()
		return -1, nil, err
	}
	if err := r.checkOwner(ctr); err != nil {
		return fail(err)
	}
	fields, err := options.json(nil, newSize)
	if err != nil {
		return fail(err)
	}
	// The HTTP options select the streams, so the exec options leave them out.
	delete(fields, "stdin")
	delete(fields, "stdout")
	delete(fields, "stderr")
	// The HTTP options carry the detach keys too. The library prefers them to those of the
	// exec options.
	httpFields, err := httpJSON(streams, options.DetachKeys, options.HijackHeader, options.BufferLimit)
	if err != nil {
		return fail(err)
	}
	cOptions := cJSON(fields)
	defer C.free(unsafe.Pointer(cOptions))
	cHTTP := cJSON(httpFields)
	defer C.free(unsafe.Pointer(cHTTP))
	cSession := C.CString(sessionID)
	defer C.free(unsafe.Pointer(cSession))
	cancel, err := newCanceler(ctx)
	if err != nil {
		return fail(err)
	}
	fd, buffered, err := handOver(conn, rw)
	if err != nil {
		cancel.close()
		return -1, nil, err
	}

	var pid C.int32_t
	var ptr *C.ocirt_attach
	err = ctr.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result {
			return C.ocirt_exec_start_http(p, cSession, cOptions, fd, cHTTP, cBytes(buffered), C.size_t(len(buffered)), cancel.tokenOf(), &pid, &ptr)
		})
	})
	if err != nil {
		if err == ErrClosed {
			// The descriptor never reached the library.
			syscall.Close(int(fd))
		}
		cancel.close()
		return -1, nil, withContext(ctx, err)
	}
	// The token must outlive the session, so follow frees it at the end.
	return int(pid), follow(ctx, newSession(ptr, nil), "exec session "+sessionID, cancel), nil
}

// ExecContainerDetached runs a command in the running container without attaching to it
// and returns its host pid once it runs. ExecUpdateStatus returns whether it still runs
// and its exit code.
func (r *Runtime) ExecContainerDetached(ctr *Container, sessionID string, options *ExecOptions) (int, error) {
	if err := r.checkOwner(ctr); err != nil {
		return -1, err
	}
	fields, err := options.json(nil, nil)
	if err != nil {
		return -1, err
	}
	// Detached sessions have no streams to select.
	delete(fields, "stdout")
	delete(fields, "stderr")
	cOptions := cJSON(fields)
	defer C.free(unsafe.Pointer(cOptions))
	cSession := C.CString(sessionID)
	defer C.free(unsafe.Pointer(cSession))

	var pid C.int32_t
	err = ctr.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result { return C.ocirt_exec_start(p, cSession, cOptions, nil, &pid, nil) })
	})
	if err != nil {
		return -1, err
	}
	return int(pid), nil
}

// onSession checks ctr and runs an exec session function that only returns a result.
func (r *Runtime) onSession(ctr *Container, sessionID string, fn func(p *C.ocirt_container, session *C.char) C.ocirt_result) error {
	if err := r.checkOwner(ctr); err != nil {
		return err
	}
	cSession := C.CString(sessionID)
	defer C.free(unsafe.Pointer(cSession))
	return ctr.simple(func(p *C.ocirt_container) C.ocirt_result { return fn(p, cSession) })
}

// ExecAttachResize sets the terminal size of a running terminal exec session. It fails
// with ErrExecStateInvalid for a session without a terminal or one that exited.
func (r *Runtime) ExecAttachResize(ctr *Container, sessionID string, size TerminalSize) error {
	return r.onSession(ctr, sessionID, func(p *C.ocirt_container, session *C.char) C.ocirt_result {
		return C.ocirt_exec_resize(p, session, C.uint16_t(size.Width), C.uint16_t(size.Height))
	})
}

// ExecStopContainer stops an exec session's command with SIGTERM, then SIGKILL after
// timeout seconds (at once for 0). It returns as soon as the command is gone. For a
// session that already exited it succeeds at once.
func (r *Runtime) ExecStopContainer(ctr *Container, sessionID string, timeout uint) error {
	return r.onSession(ctr, sessionID, func(p *C.ocirt_container, session *C.char) C.ocirt_result {
		return C.ocirt_exec_stop(p, session, clampSeconds(timeout))
	})
}

// ExecUpdateStatus reports whether an exec session's command still runs, and its exit
// code: -1 while it runs, then 0-255, or 128+N after signal N. The library reads the code
// from the session's files. libpod's version returns no code because libpod keeps exit
// codes in its database.
func (r *Runtime) ExecUpdateStatus(ctr *Container, sessionID string) (running bool, exitCode int, err error) {
	var cRunning C.bool
	var cCode C.int32_t
	err = r.onSession(ctr, sessionID, func(p *C.ocirt_container, session *C.char) C.ocirt_result {
		return C.ocirt_exec_update_status(p, session, &cRunning, &cCode)
	})
	if err != nil {
		return false, -1, err
	}
	return bool(cRunning), int(cCode), nil
}

// ExecContainerCleanup removes the files of an exited exec session. It fails with
// ErrExecStateInvalid while the command runs.
func (r *Runtime) ExecContainerCleanup(ctr *Container, sessionID string) error {
	return r.onSession(ctr, sessionID, func(p *C.ocirt_container, session *C.char) C.ocirt_result {
		return C.ocirt_exec_cleanup(p, session)
	})
}

// ExecAttachSocketPath returns the path of an exec session's attach socket.
func (r *Runtime) ExecAttachSocketPath(ctr *Container, sessionID string) (string, error) {
	if err := r.checkOwner(ctr); err != nil {
		return "", err
	}
	cSession := C.CString(sessionID)
	defer C.free(unsafe.Pointer(cSession))
	return ctr.ownedString(func(p *C.ocirt_container, out **C.char) C.ocirt_result {
		return C.ocirt_exec_attach_socket_path(p, cSession, out)
	})
}
