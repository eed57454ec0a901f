//! ocirt: the OCI runtime layer of a container engine (podman's libpod `OCIRuntime`
//! interface) as a library with a C ABI.
//!
//! The library drives a real OCI runtime binary (runc, crun, ...) through conmon, so containers
//! keep running after the host process exits. [`oci_runtime::OciRuntime`] mirrors the
//! interface; [`runtime::ConmonRuntime`] implements it; [`ffi`] is the C ABI on top.

#![deny(unsafe_op_in_unsafe_fn)]

pub mod attach;
pub mod cancel;
pub mod conmon;
pub mod container;
pub mod error;
pub mod exec;
pub mod exit_watch;
pub mod ffi;
pub mod ids;
pub mod json;
pub mod logging;
pub mod oci_runtime;
pub mod process;
pub mod runtime;
pub mod runtime_cli;
pub mod state;

pub use container::{Container, ContainerConfig, ContainerState, Status};
pub use error::{ocirt_result, Error, ErrorKind, Result};
pub use oci_runtime::{CheckpointOptions, OciRuntime, RestoreOptions};
pub use runtime::{ConmonRuntime, RuntimeConfig};
