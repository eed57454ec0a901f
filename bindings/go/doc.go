// Package ocirt is the Go binding of libocirt, a C library that implements the OCI
// runtime layer of podman (libpod's OCIRuntime). It drives runc or crun through conmon to
// create, start, attach to, exec into, stop and delete containers. conmon supervises each
// container, so containers keep running after the Go process exits.
//
// A Runtime mirrors libpod's OCIRuntime: its methods take the *Container they act on
// (CreateContainer, StartContainer, KillContainer, ExecContainer, HTTPAttach, ...).
// Output streams go to io.Writers and stdin comes from an io.Reader. Blocking calls take a
// context.Context for cancellation and deadlines. Failures are *Error values that match
// the Err sentinels with errors.Is.
//
// The package builds with cgo against the repository's include/ and target/release/ (run
// `cargo build --release` first), or with the ocirt_pkgconfig build tag against an
// installed library found through pkg-config. Running containers needs root.
package ocirt
