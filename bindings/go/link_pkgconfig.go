//go:build ocirt_pkgconfig

package ocirt

// With the ocirt_pkgconfig build tag, the compiler and linker flags come from the ocirt.pc
// that `make install` writes (PKG_CONFIG_PATH selects a prefix other than the default).

// #cgo pkg-config: ocirt
import "C"
