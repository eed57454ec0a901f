package ocirt

// #include "ocirt.h"
// #include "callbacks.h"
import "C"

import (
	"context"
	"fmt"
	"io"
	"runtime/cgo"
	"sync"
)

// outputSink is the Go side of a session's callbacks. It writes the output to the
// caller's writers and records the writer's error or panic that stopped the session.
type outputSink struct {
	stdout io.Writer
	stderr io.Writer
	// done is closed by the on_done callback, after the last output. Waiting for it makes
	// every Write on the library thread happen before the caller's next step. Without it
	// the race detector would report a race, because it cannot see the library's locks.
	done chan struct{}

	mu         sync.Mutex
	writeErr   error
	panicValue any
	panicked   bool
}

// newOutputSink returns a sink for the given writers. A nil writer discards its stream.
func newOutputSink(stdout, stderr io.Writer) *outputSink {
	return &outputSink{stdout: stdout, stderr: stderr, done: make(chan struct{})}
}

// write delivers one chunk of stream 1 (stdout) or 2 (stderr). It returns false to stop
// the session when the writer fails or panics. A panic is recovered here because it cannot
// unwind through the library's C frames. The goroutine that waits for the session raises
// it again.
func (s *outputSink) write(stream int, chunk []byte) (ok bool) {
	writer := s.stdout
	if stream == 2 {
		writer = s.stderr
	}
	if writer == nil {
		return true
	}
	defer func() {
		if value := recover(); value != nil {
			s.mu.Lock()
			s.panicValue, s.panicked = value, true
			s.mu.Unlock()
			ok = false
		}
	}()
	if _, err := writer.Write(chunk); err != nil {
		s.mu.Lock()
		s.writeErr = err
		s.mu.Unlock()
		return false
	}
	return true
}

// finish marks the end of the output.
func (s *outputSink) finish() {
	close(s.done)
}

// failure returns the writer's error, the panic value, and whether a writer panicked.
func (s *outputSink) failure() (error, any, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.writeErr, s.panicValue, s.panicked
}

// session owns one ocirt_attach handle. The goroutine that waits for the session and the
// one that copies stdin into it each hold a reference, and the last one to let go frees
// the handle. So stdin writes never use a freed handle, however long its Read blocks.
type session struct {
	ptr  *C.ocirt_attach
	sink *outputSink // nil for a session without callbacks

	mu   sync.Mutex
	refs int
}

// newSession wraps ptr with one reference, which belongs to the caller.
func newSession(ptr *C.ocirt_attach, sink *outputSink) *session {
	return &session{ptr: ptr, sink: sink, refs: 1}
}

func (s *session) acquire() {
	s.mu.Lock()
	s.refs++
	s.mu.Unlock()
}

// release drops a reference. ocirt_attach_free stops a session that is still going and
// returns once its callbacks have finished.
func (s *session) release() {
	s.mu.Lock()
	s.refs--
	last := s.refs == 0
	s.mu.Unlock()
	if last {
		C.ocirt_attach_free(s.ptr)
	}
}

// attachCallbacks registers sink and returns the callbacks that feed it, with the handle to
// delete when the library call that takes them fails.
func attachCallbacks(sink *outputSink) (C.ocirt_attach_callbacks, cgo.Handle) {
	handle := newHandle(sink)
	return C.ocirtgo_callbacks(C.uintptr_t(handle)), handle
}

// copyInput copies input into the session's stdin until input ends, the session detaches
// or ends, or a write fails. At the end of input it half-closes the container's stdin.
// NOTE: a Read that blocks (on os.Stdin, say) keeps this goroutine and the session handle
// alive until it returns. The bytes of that last Read are then dropped.
func (s *session) copyInput(input io.Reader) {
	defer s.release()
	buffer := make([]byte, 32*1024)
	for {
		if s.sink != nil && isClosed(s.sink.done) {
			return
		}
		n, err := input.Read(buffer)
		if n > 0 {
			rc := C.ocirt_attach_write(s.ptr, (*C.uint8_t)(&buffer[0]), C.size_t(n))
			if rc != C.OCIRT_OK {
				// OCIRT_DETACHED means that the detach keys ended the session, which the
				// waiting goroutine reports. Any other code means that the session is
				// over or has no stdin.
				return
			}
		}
		if err != nil {
			C.ocirt_attach_close_stdin(s.ptr)
			return
		}
	}
}

// isClosed reports whether ch is closed, without blocking.
func isClosed(ch chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

// outcome is the end of a session that did not fail: detached or ended, and the exit code.
type outcome struct {
	detached bool
	exitCode int32
}

// wait waits for the session to end and returns its outcome. When ctx is done first, it
// detaches the session (the process keeps running) and returns an error that matches
// ErrCanceled and ctx's error. description names the session in messages.
func (s *session) wait(ctx context.Context, description string) (outcome, error) {
	if s.sink != nil {
		select {
		case <-s.sink.done:
		case <-ctx.Done():
			C.ocirt_attach_detach(s.ptr)
			<-s.sink.done
		}
	}

	var result C.ocirt_attach_outcome
	var exitCode C.int32_t
	err := call(func() C.ocirt_result { return C.ocirt_attach_wait(s.ptr, -1, &result, &exitCode) })
	if err != nil {
		return outcome{exitCode: -1}, s.sinkError(err)
	}
	ended := outcome{detached: result == C.OCIRT_ATTACH_DETACHED, exitCode: int32(exitCode)}
	if ended.detached && ctx.Err() != nil {
		return ended, &Error{
			Code:    CodeCanceled,
			Message: fmt.Sprintf("%s: detached because the context is done", description),
			cause:   context.Cause(ctx),
		}
	}
	return ended, nil
}

// sinkError adds the writer's error as the cause of a session stopped by its writer, and
// raises a writer's panic again on the waiting goroutine.
func (s *session) sinkError(err error) error {
	if s.sink == nil {
		return err
	}
	writeErr, panicValue, panicked := s.sink.failure()
	if panicked {
		panic(panicValue)
	}
	if e, ok := err.(*Error); ok && e.Code == CodeCallbackAborted && writeErr != nil {
		return &Error{Code: e.Code, Message: e.Message + ": " + writeErr.Error(), cause: writeErr}
	}
	return err
}

// detachedError returns the error that reports a session ended by the detach keys.
func detachedError(description string) error {
	return &Error{Code: CodeDetached, Message: description + ": detached, the process keeps running"}
}
