package ocirt

// #include "ocirt.h"
import "C"

import (
	"context"
	"errors"
	"runtime"
)

// canceler triggers a library cancel token when a context is done.
type canceler struct {
	token    *C.ocirt_cancel
	stop     chan struct{}
	finished chan struct{}
}

// newCanceler returns a canceler whose token fires when ctx is done. It returns nil when
// ctx can never be done (context.Background), and the library call then gets a NULL token.
func newCanceler(ctx context.Context) (*canceler, error) {
	if ctx.Done() == nil {
		return nil, nil
	}
	c := &canceler{stop: make(chan struct{}), finished: make(chan struct{})}
	err := call(func() C.ocirt_result { return C.ocirt_cancel_new(&c.token) })
	if err != nil {
		return nil, err
	}
	go func() {
		defer close(c.finished)
		select {
		case <-ctx.Done():
			// The token is not NULL, so only a failed eventfd write can make the trigger
			// fail. This goroutine has no caller to report that to, so the result is ignored.
			C.ocirt_cancel_trigger(c.token)
		case <-c.stop:
		}
	}()
	return c, nil
}

// tokenOf returns the token to pass to the library: NULL for a nil canceler.
func (c *canceler) tokenOf() *C.ocirt_cancel {
	if c == nil {
		return nil
	}
	return c.token
}

// close stops watching the context and frees the token. Call it only once no library call
// watches the token any more.
func (c *canceler) close() {
	if c == nil {
		return
	}
	close(c.stop)
	<-c.finished
	C.ocirt_cancel_free(c.token)
	c.token = nil
	runtime.KeepAlive(c)
}

// withContext returns err with the context's error as its cause when the library reported
// a cancellation and ctx is done, so that errors.Is matches both ErrCanceled and
// context.Canceled or context.DeadlineExceeded.
func withContext(ctx context.Context, err error) error {
	var e *Error
	if ctx.Err() == nil || !errors.As(err, &e) || e.Code != CodeCanceled {
		return err
	}
	return &Error{Code: CodeCanceled, Message: e.Message, cause: context.Cause(ctx)}
}
