package ocirt

// #include <stdlib.h>
// #include "ocirt.h"
import "C"

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"unsafe"
)

// AttachStreams selects and carries the streams of an attach or exec session. A nil field
// leaves that stream unattached. A terminal merges stderr into OutputStream.
type AttachStreams struct {
	// OutputStream receives stdout. Its Write runs on a library thread, one call at a time,
	// and must not keep the slice. Returning an error stops the session with
	// ErrCallbackAborted, and a slow Write holds the container's output back once the
	// session's buffer (BufferLimit) is full.
	OutputStream io.Writer
	// ErrorStream receives stderr, as OutputStream does stdout.
	ErrorStream io.Writer
	// InputStream is copied to the process's stdin. Its end (io.EOF or any other error)
	// closes the process's stdin, except on a terminal, which has no end of input: send
	// the terminal's EOF character (ctrl-d, 0x04) instead. For Attach, the container needs
	// Stdin or a terminal.
	InputStream io.Reader
}

// AttachOptions are the options of Attach.
type AttachOptions struct {
	// Streams are the streams to attach. Nil attaches none.
	Streams *AttachStreams
	// DetachKeys is the detach sequence, such as "ctrl-p,ctrl-q" (the default when nil).
	// "" disables detaching. Invalid keys fail with ErrInvalidArgument before anything
	// connects.
	DetachKeys *string
	// InitialSize sets a terminal container's size once attached.
	InitialSize *TerminalSize
	// Start starts the created container once attached, so no early output is lost.
	Start bool
	// BufferLimit is the maximum number of bytes buffered while the writers lag, 8 MiB
	// when 0. Past it the library stops reading, which pauses the container's output.
	BufferLimit int
	// AttachReady, when not nil, receives true once the session is connected (and the
	// container started, with Start). The send blocks until it is received or ctx is done.
	AttachReady chan<- bool
}

// sessionJSON builds the streams and terminal fields that attach and exec options share.
func sessionJSON(streams *AttachStreams, detachKeys *string, size *TerminalSize, bufferLimit int) (map[string]any, error) {
	fields := map[string]any{"stdout": false, "stderr": false, "stdin": false}
	if streams != nil {
		fields["stdout"] = streams.OutputStream != nil
		fields["stderr"] = streams.ErrorStream != nil
		fields["stdin"] = streams.InputStream != nil
	}
	if detachKeys != nil {
		fields["detach_keys"] = *detachKeys
	}
	if size != nil {
		fields["width"] = size.Width
		fields["height"] = size.Height
	}
	if bufferLimit < 0 {
		return nil, invalidArgument(fmt.Sprintf("BufferLimit %d is negative", bufferLimit))
	}
	if bufferLimit > 0 {
		fields["buffer_limit"] = bufferLimit
	}
	return fields, nil
}

// cJSON marshals fields into a C string, which the caller frees with C.free.
func cJSON(fields map[string]any) *C.char {
	// The error is ignored because a map of strings, bools, numbers and string slices
	// always marshals.
	text, _ := json.Marshal(fields)
	return C.CString(string(text))
}

// Attach attaches to a created or running container and streams its output to the
// options' writers until the process ends its streams. It returns nil when the streams
// ended, and an error matching ErrDetached when the detach keys were read from
// InputStream. When ctx is done first, the session detaches, the container keeps running,
// and the error matches ErrCanceled and ctx's error. A panic in a writer is raised again
// on the goroutine that called Attach.
func (r *Runtime) Attach(ctx context.Context, ctr *Container, options *AttachOptions) error {
	if err := r.checkOwner(ctr); err != nil {
		return err
	}
	if options == nil {
		options = &AttachOptions{}
	}
	fields, err := sessionJSON(options.Streams, options.DetachKeys, options.InitialSize, options.BufferLimit)
	if err != nil {
		return err
	}
	if options.Start {
		fields["start"] = true
	}
	cOptions := cJSON(fields)
	defer C.free(unsafe.Pointer(cOptions))

	streams := options.Streams
	if streams == nil {
		streams = &AttachStreams{}
	}
	sink := newOutputSink(streams.OutputStream, streams.ErrorStream)
	callbacks, handle := attachCallbacks(sink)
	var ptr *C.ocirt_attach
	err = ctr.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result { return C.ocirt_container_attach(p, cOptions, &callbacks, &ptr) })
	})
	if err != nil {
		deleteHandle(handle)
		return err
	}

	s := newSession(ptr, sink)
	defer s.release()
	if streams.InputStream != nil {
		s.acquire()
		go s.copyInput(streams.InputStream)
	}
	if options.AttachReady != nil {
		select {
		case options.AttachReady <- true:
		case <-ctx.Done():
		}
	}
	description := "attach to container " + ctr.id
	ended, err := s.wait(ctx, description)
	if err != nil {
		return err
	}
	if ended.detached {
		return detachedError(description)
	}
	return nil
}
