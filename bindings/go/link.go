//go:build !ocirt_pkgconfig

package ocirt

// By default the package builds against this repository's header and the library that
// `cargo build --release` puts in target/release. The rpath lets programs built here find
// libocirt.so without LD_LIBRARY_PATH. Build with `-tags ocirt_pkgconfig` to use an
// installed library (`make install`) through pkg-config instead.

// #cgo CFLAGS: -I${SRCDIR}/../../include
// #cgo LDFLAGS: -L${SRCDIR}/../../target/release -locirt -Wl,-rpath,${SRCDIR}/../../target/release
import "C"
