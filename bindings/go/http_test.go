package ocirt_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	ocirt "github.com/ocirt/ocirt/bindings/go"
)

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	accepted := make(chan net.Conn, 1)
	acceptErr := make(chan error, 1)
	go func() {
		conn, err := listener.Accept()
		accepted <- conn
		acceptErr <- err
	}()
	client, err = net.Dial("tcp", listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if err := <-acceptErr; err != nil {
		client.Close()
		t.Fatalf("accepting the loopback connection: %v", err)
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

// unixPair returns both ends of a unix stream socket pair.
func unixPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ends := make([]net.Conn, 2)
	for i, fd := range fds {
		file := os.NewFile(uintptr(fd), fmt.Sprintf("socketpair-%d", i))
		ends[i], err = net.FileConn(file)
		file.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { ends[0].Close(); ends[1].Close() })
	return ends[0], ends[1]
}

// frames is a demultiplexed HTTP attach stream.
type frames struct {
	stdout  []byte
	stderr  []byte
	streams map[byte]int
}

// demux splits Docker's multiplexed stream, checking every header.
func demux(t *testing.T, data []byte) frames {
	t.Helper()
	result := frames{streams: map[byte]int{}}
	for len(data) > 0 {
		if len(data) < 8 {
			t.Fatalf("%d bytes left, too few for a frame header", len(data))
		}
		header := data[:8]
		if !bytes.Equal(header[1:4], []byte{0, 0, 0}) {
			t.Fatalf("frame header % x has non-zero padding in bytes 1-3", header)
		}
		size := int(binary.BigEndian.Uint32(header[4:]))
		if 8+size > len(data) {
			t.Fatalf("frame of %d bytes, only %d left", size, len(data)-8)
		}
		payload := data[8 : 8+size]
		switch header[0] {
		case 1:
			result.stdout = append(result.stdout, payload...)
		case 2:
			result.stderr = append(result.stderr, payload...)
		default:
			t.Fatalf("frame header % x names stream %d, expected 1 or 2", header, header[0])
		}
		result.streams[header[0]]++
		data = data[8+size:]
	}
	return result
}

// readAll reads the client end until the library closes the connection, at most 30 s.
func readAll(t *testing.T, client net.Conn) []byte {
	t.Helper()
	client.SetReadDeadline(time.Now().Add(30 * time.Second))
	data, err := io.ReadAll(client)
	if err != nil {
		t.Fatalf("reading the HTTP attach stream: %v", err)
	}
	return data
}

func TestHTTPAttachFrames(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("frames", "sh", "-c", "echo out; echo err >&2; echo out2")

	client, server := tcpPair(t)
	got := demux(t, e.httpAttachOutput(ctr, client, server, &ocirt.HTTPAttachStreams{Stdout: true, Stderr: true}))
	expectOutput(t, "stdout", string(got.stdout), "out\nout2\n")
	expectOutput(t, "stderr", string(got.stderr), "err\n")
	e.expectExitCode(ctr, 0)
}

func TestHTTPAttachStdoutOnly(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.created("stdoutonly", "sh", "-c", "echo out; echo err >&2; echo out2")

	client, server := unixPair(t)
	got := demux(t, e.httpAttachOutput(ctr, client, server, &ocirt.HTTPAttachStreams{Stdout: true}))
	expectOutput(t, "stdout", string(got.stdout), "out\nout2\n")
	if got.streams[2] != 0 {
		t.Errorf("%d stderr frames, expected none", got.streams[2])
	}
}

func TestHTTPAttachTerminalIsRaw(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("rawtty", terminalSpec("echo", "tty"), nil)

	client, server := tcpPair(t)
	got := e.httpAttachOutput(ctr, client, server, nil)
	if string(got) != "tty\r\n" {
		t.Errorf("output %q, expected raw \"tty\\r\\n\"", got)
	}
}

// attachServer is an HTTP server on loopback whose handler hijacks the connection and
// runs serve with it.
func attachServer(t *testing.T, serve func(conn net.Conn, rw *bufio.ReadWriter)) string {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, rw, err := w.(http.Hijacker).Hijack()
		if err != nil {
			t.Errorf("hijack: %v", err)
			return
		}
		serve(conn, rw)
	})}
	go server.Serve(listener)
	t.Cleanup(func() { server.Close() })
	return listener.Addr().String()
}

// request sends an attach request with body bytes in the same write, so the server's
// reader has buffered some of them when the handler hijacks the connection, and returns
// the client's connection and reader.
func request(t *testing.T, address string, body string) (*net.TCPConn, *bufio.Reader) {
	t.Helper()
	conn, err := net.Dial("tcp", address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	text := "POST /attach HTTP/1.1\r\nHost: ocirt\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + body
	if _, err := conn.Write([]byte(text)); err != nil {
		t.Fatal(err)
	}
	conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	return conn.(*net.TCPConn), bufio.NewReader(conn)
}

// readUpgrade reads the 101 response that the library writes with HijackHeader.
func readUpgrade(t *testing.T, reader *bufio.Reader) {
	t.Helper()
	response, err := http.ReadResponse(reader, nil)
	if err != nil {
		t.Fatalf("reading the upgrade response: %v", err)
	}
	if response.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %q, expected 101", response.Status)
	}
}

func TestHTTPAttachServerStdin(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("httpcat", spec("cat"), func(c *ocirt.ContainerConfig) { c.Stdin = true })

	result := make(chan error, 1)
	address := attachServer(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		result <- e.rt.HTTPAttach(context.Background(), ctr, conn, rw, nil,
			&ocirt.HTTPAttachOptions{Start: true, HijackHeader: true})
	})
	conn, reader := request(t, address, "buffered\n")
	readUpgrade(t, reader)
	if _, err := conn.Write([]byte("later\n")); err != nil {
		t.Fatal(err)
	}
	conn.CloseWrite()
	data, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := receive(t, result); err != nil {
		t.Fatal(err)
	}
	got := demux(t, data)
	expectOutput(t, "stdout", string(got.stdout), "buffered\nlater\n")
	e.expectExitCode(ctr, 0)
}

func TestHTTPAttachDetachAndCancel(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.createdWith("httpdetach", terminalSpec("sleep", "1000"), nil)
	if err := e.rt.StartContainer(ctr); err != nil {
		t.Fatal(err)
	}

	client, server := tcpPair(t)
	result := make(chan error, 1)
	go func() {
		result <- e.rt.HTTPAttach(context.Background(), ctr, server, nil, nil, nil)
	}()
	if _, err := client.Write([]byte("\x10\x11")); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, result); !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("HTTP attach with ctrl-p,ctrl-q typed: %v, expected ErrDetached", err)
	}
	readAll(t, client)

	client, server = tcpPair(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	err := e.rt.HTTPAttach(ctx, ctr, server, nil, nil, nil)
	if !errors.Is(err, ocirt.ErrCanceled) {
		t.Errorf("HTTP attach past its deadline: %v, expected ErrCanceled", err)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("HTTP attach past its deadline: %v, expected context.DeadlineExceeded", err)
	}
	readAll(t, client)
	e.expectStatus(ctr, ocirt.StatusRunning, "after the detach and the canceled HTTP attach")
}

func TestExecHTTP(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("exechttp", "sleep", "1000")

	session := uniqueID("http")
	client, server := tcpPair(t)
	pid, results, err := e.rt.ExecContainerHTTP(context.Background(), ctr, session,
		&ocirt.ExecOptions{Cmd: []string{"sh", "-c", "read x; echo out:$x; echo err >&2; exit 3"}},
		server, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if pid <= 0 {
		t.Errorf("pid %d, expected a host pid above 0", pid)
	}
	if _, err := client.Write([]byte("hi\n")); err != nil {
		t.Fatal(err)
	}
	got := demux(t, readAll(t, client))
	if err := receive(t, results); err != nil {
		t.Fatal(err)
	}
	expectOutput(t, "stdout", string(got.stdout), "out:hi\n")
	expectOutput(t, "stderr", string(got.stderr), "err\n")
	e.expectExecExitCode(ctr, session, 3)
}

func TestExecHTTPServerTerminal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("exechttptty", "sleep", "1000")

	session := uniqueID("httptty")
	results := make(chan (<-chan error), 1)
	address := attachServer(t, func(conn net.Conn, rw *bufio.ReadWriter) {
		_, sessionResults, err := e.rt.ExecContainerHTTP(context.Background(), ctr, session,
			&ocirt.ExecOptions{Cmd: []string{"sh", "-c", "read x; echo got:$x; stty size"}, Terminal: true, HijackHeader: true},
			conn, rw, nil, &ocirt.TerminalSize{Width: 70, Height: 20})
		if err != nil {
			t.Errorf("ExecContainerHTTP: %v", err)
			failed := make(chan error, 1)
			failed <- err
			sessionResults = failed
		}
		results <- sessionResults
	})
	_, reader := request(t, address, "typed\n")
	readUpgrade(t, reader)
	data, err := io.ReadAll(reader)
	if err != nil {
		t.Fatal(err)
	}
	if err := receive(t, <-results); err != nil {
		t.Fatal(err)
	}
	// The terminal echoes the input, then the command prints.
	if !bytes.HasSuffix(data, []byte("got:typed\r\n20 70\r\n")) {
		t.Errorf("raw output %q does not end in \"got:typed\\r\\n20 70\\r\\n\"", data)
	}
	if strings.Contains(string(data), "\x01\x00\x00\x00") {
		t.Errorf("terminal output %q contains frame headers", data)
	}
}

func TestExecHTTPDetachKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctr := e.running("exechttpkeys", "sleep", "1000")

	session := uniqueID("keys")
	keys := "ctrl-x"
	client, server := tcpPair(t)
	_, results, err := e.rt.ExecContainerHTTP(context.Background(), ctr, session,
		&ocirt.ExecOptions{Cmd: []string{"sleep", "1000"}, DetachKeys: &keys}, server, nil, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := client.Write([]byte("\x18")); err != nil {
		t.Fatal(err)
	}
	if err := receive(t, results); !errors.Is(err, ocirt.ErrDetached) {
		t.Fatalf("exec over HTTP with ctrl-x typed: %v, expected ErrDetached", err)
	}
	if !e.execRunning(ctr, session) {
		t.Error("the command stopped at the detach, expected it to keep running")
	}
}
