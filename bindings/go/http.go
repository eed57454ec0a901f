package ocirt

// #include <stdlib.h>
// #include "ocirt.h"
import "C"

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"syscall"
	"unsafe"
)

// HTTPAttachStreams selects the streams of an HTTP attach. A nil *HTTPAttachStreams selects
// all three.
type HTTPAttachStreams struct {
	Stdin  bool
	Stdout bool
	Stderr bool
}

// HTTPAttachOptions are the options of HTTPAttach beyond the streams.
type HTTPAttachOptions struct {
	// DetachKeys is the detach sequence read from the client. Nil means "ctrl-p,ctrl-q",
	// and "" disables detaching.
	DetachKeys *string
	// HijackHeader writes podman's "HTTP/1.1 101 UPGRADED" response before streaming.
	HijackHeader bool
	// Start starts the created container once attached.
	Start bool
	// BufferLimit is the maximum number of bytes buffered while the client reads slowly,
	// 8 MiB when 0.
	BufferLimit int
}

// httpJSON builds the library's HTTP attach options.
func httpJSON(streams *HTTPAttachStreams, detachKeys *string, hijackHeader bool, bufferLimit int) (map[string]any, error) {
	if streams == nil {
		streams = &HTTPAttachStreams{Stdin: true, Stdout: true, Stderr: true}
	}
	fields := map[string]any{"stdin": streams.Stdin, "stdout": streams.Stdout, "stderr": streams.Stderr}
	if detachKeys != nil {
		fields["detach_keys"] = *detachKeys
	}
	if hijackHeader {
		fields["hijack_header"] = true
	}
	if bufferLimit < 0 {
		return nil, invalidArgument(fmt.Sprintf("BufferLimit %d is negative", bufferLimit))
	}
	if bufferLimit > 0 {
		fields["buffer_limit"] = bufferLimit
	}
	return fields, nil
}

// handOver prepares a hijacked connection for the library: it flushes rw's writer, takes
// the bytes rw's reader already buffered, and returns a duplicate of conn's descriptor,
// which the library then owns. It closes conn in every case, so that the library's close
// of the duplicate is what ends the connection for the client.
func handOver(conn net.Conn, rw *bufio.ReadWriter) (C.int, []byte, error) {
	defer conn.Close()

	var buffered []byte
	if rw != nil && rw.Writer != nil {
		if err := rw.Flush(); err != nil {
			return -1, nil, fmt.Errorf("ocirt: cannot flush the hijacked connection's writer: %w", err)
		}
	}
	if rw != nil && rw.Reader != nil {
		if n := rw.Reader.Buffered(); n > 0 {
			peeked, _ := rw.Reader.Peek(n)
			buffered = append([]byte(nil), peeked...)
			rw.Reader.Discard(n)
		}
	}

	withFD, ok := conn.(syscall.Conn)
	if !ok {
		return -1, nil, invalidArgument(fmt.Sprintf("connection type %T has no file descriptor (use a *net.TCPConn or *net.UnixConn)", conn))
	}
	raw, err := withFD.SyscallConn()
	if err != nil {
		return -1, nil, fmt.Errorf("ocirt: cannot get the connection's file descriptor: %w", err)
	}

	dup := -1
	var dupErr error
	err = raw.Control(func(fd uintptr) {
		// F_DUPFD_CLOEXEC keeps the duplicate out of processes this one starts. The
		// duplicate shares the O_NONBLOCK flag Go set, which the library handles.
		r, _, errno := syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_DUPFD_CLOEXEC, 0)
		if errno != 0 {
			dupErr = errno
			return
		}
		dup = int(r)
	})
	if err == nil {
		err = dupErr
	}
	if err != nil {
		return -1, nil, fmt.Errorf("ocirt: cannot duplicate the connection's descriptor: %w", err)
	}
	return C.int(dup), buffered, nil
}

// cBytes returns a pointer to data for the library, or NULL when data is empty.
func cBytes(data []byte) *C.uint8_t {
	if len(data) == 0 {
		return nil
	}
	return (*C.uint8_t)(unsafe.Pointer(&data[0]))
}

// HTTPAttach attaches to a container over a connection hijacked from an HTTP server
// (http.Hijacker's conn and rw) and blocks until the container's streams end, the client
// types the detach keys, or ctx is done. HTTPAttach takes ownership of conn and closes it
// before returning, whatever the result. rw may be nil. Its buffered input is sent to
// stdin first.
//
// Output without a terminal is framed as Docker's multiplexed stream: an 8-byte header
// (stream 1 or 2, three zero bytes, the big-endian payload length) before each payload.
// With a terminal it is raw. HTTPAttach returns nil when the streams ended, and an error
// matching ErrDetached on detach. When ctx is done first, the container keeps running and
// the error matches ErrCanceled and ctx's error.
func (r *Runtime) HTTPAttach(ctx context.Context, ctr *Container, conn net.Conn, rw *bufio.ReadWriter, streams *HTTPAttachStreams, options *HTTPAttachOptions) error {
	if conn == nil {
		return invalidArgument("connection is nil")
	}
	if err := r.checkOwner(ctr); err != nil {
		conn.Close()
		return err
	}
	if options == nil {
		options = &HTTPAttachOptions{}
	}
	fields, err := httpJSON(streams, options.DetachKeys, options.HijackHeader, options.BufferLimit)
	if err != nil {
		conn.Close()
		return err
	}
	if options.Start {
		fields["start"] = true
	}
	cOptions := cJSON(fields)
	defer C.free(unsafe.Pointer(cOptions))
	cancel, err := newCanceler(ctx)
	if err != nil {
		conn.Close()
		return err
	}
	defer cancel.close()
	fd, buffered, err := handOver(conn, rw)
	if err != nil {
		return err
	}

	err = ctr.use(func(p *C.ocirt_container) error {
		return call(func() C.ocirt_result {
			return C.ocirt_container_http_attach(p, fd, cOptions, cBytes(buffered), C.size_t(len(buffered)), cancel.tokenOf())
		})
	})
	if err == ErrClosed {
		syscall.Close(int(fd))
		return err
	}
	// A detach comes back as an *Error with CodeDetached, which matches ErrDetached.
	return withContext(ctx, err)
}
