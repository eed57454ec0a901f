//! C functions of the runtime handle.

use std::ffi::{c_char, CString};
use std::sync::Arc;

use crate::error::{ocirt_result, Error, Result};
use crate::ffi::boundary::{check_not_null, guard, handle_ref, owned_c_string, str_arg, write_out};
use crate::oci_runtime::OciRuntime;
use crate::runtime::{ConmonRuntime, RuntimeConfig};

/// An OCI runtime driven through conmon: the runtime binary and conmon found at creation, the
/// state, exit and socket directories, and the runtime's settings.
///
/// Thread-safe: any function may use one handle from many threads at once. Containers keep
/// the runtime alive, so the handle may be freed before its containers.
pub struct ocirt_runtime {
    pub(crate) inner: Arc<ConmonRuntime>,
    name: CString,
    path: CString,
}

impl ocirt_runtime {
    pub(crate) fn new(inner: Arc<ConmonRuntime>) -> Result<ocirt_runtime> {
        let name = CString::new(inner.name())
            .map_err(|_| Error::invalid("runtime name contains a NUL byte"))?;
        let path = CString::new(inner.path().to_string_lossy().into_owned())
            .map_err(|_| Error::invalid("runtime path contains a NUL byte"))?;
        Ok(ocirt_runtime { inner, name, path })
    }
}

/// Creates a runtime handle from a JSON configuration.
///
/// `config_json` is an object; `"{}"` takes every default. Fields (all optional; unknown
/// fields are rejected):
/// - `name` (string, default `"runc"`): the runtime's name. It selects the default search
///   list and is looked up in the support lists.
/// - `path` (absolute path): the runtime binary, used without a search. `paths` (array of
///   paths): candidates tried in order, then a `$PATH` lookup of `name`.
/// - `conmon_path`, `conmon_paths`: the same for conmon (2.0.24 or later).
/// - `run_dir` (absolute path, default `/run/ocirt` for root, `$XDG_RUNTIME_DIR/ocirt`
///   otherwise): base of `state_dir` (`<run_dir>/containers`, one directory per container),
///   `exit_dir` (`<run_dir>/exits`, conmon's exit files) and `socket_dir`
///   (`<run_dir>/socket`, links to attach sockets). Each can be set on its own. Missing
///   directories are created with mode 0750.
/// - `runtime_root` (absolute path, default: the runtime's own, `/run/runc` for runc as
///   root): the runtime's `--root`. Runtimes key containers by id in their root, so ocirt
///   users that share a root share one id space. A create whose id is taken there fails
///   with `OCIRT_ERR_CONTAINER_EXISTS` and leaves the other container alone.
/// - `runtime_flags` (array of strings): global runtime arguments for every runtime command.
/// - `log_level` (string, default `"error"`): conmon's log level (`panic`, `fatal`,
///   `error`, `warning` or `warn`, `info`, `debug`, `trace`).
/// - `cgroup_manager` (`"cgroupfs"`, the default, or `"systemd"`).
/// - `conmon_env` (array of `KEY=value`, default a standard `PATH`): conmon's environment.
/// - `log_size_max` (bytes, default -1 for unlimited): default k8s-file log size limit.
/// - `no_pivot` (bool): run the runtime with `--no-pivot`.
/// - `supports_json_errors`, `supports_no_cgroups`, `supports_kvm` (arrays of runtime
///   names): the support lists, with podman's defaults.
/// - `create_timeout_ms` (milliseconds, default 240000): the maximum time that create, and
///   each step of an exec start, waits for conmon.
///
/// On success `*out` receives a handle owned by the caller, freed with
/// `ocirt_runtime_free`. Fails with `OCIRT_ERR_RUNTIME_UNAVAILABLE` or `OCIRT_ERR_CONMON`
/// (naming the paths tried) when a binary is missing, and with `OCIRT_ERR_CONMON_TOO_OLD`
/// when every conmon found is older than 2.0.24.
///
/// # Safety
/// `config_json` is a NUL-terminated string; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_new(
    config_json: *const c_char,
    out: *mut *mut ocirt_runtime,
) -> ocirt_result {
    guard(|| {
        let text = str_arg(config_json, "config_json")?;
        check_not_null(out, "out")?;
        let config = RuntimeConfig::from_json(text)?;
        let runtime = ocirt_runtime::new(Arc::new(ConmonRuntime::new(config)?))?;
        write_out(out, Box::into_raw(Box::new(runtime)));
        Ok(())
    })
}

/// Frees a runtime handle. NULL is ignored. Containers created from it stay usable.
///
/// # Safety
/// `runtime` is NULL or a handle from `ocirt_runtime_new` that was not freed yet, and no other
/// thread uses it during or after this call.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_free(runtime: *mut ocirt_runtime) {
    crate::ffi::boundary::guard_value((), || {
        if !runtime.is_null() {
            // SAFETY: the pointer came from Box::into_raw in ocirt_runtime_new.
            drop(unsafe { Box::from_raw(runtime) });
        }
    })
}

/// Writes the runtime's name (`Name()`) to `*out`: a string borrowed from the handle, valid
/// until the handle is freed.
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_name(
    runtime: *const ocirt_runtime,
    out: *mut *const c_char,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.name.as_ptr());
        Ok(())
    })
}

/// Writes the runtime binary's path (`Path()`) to `*out`: a string borrowed from the handle,
/// valid until the handle is freed.
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_path(
    runtime: *const ocirt_runtime,
    out: *mut *const c_char,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.path.as_ptr());
        Ok(())
    })
}

/// Runs `--version` of conmon and the runtime (`RuntimeInfo()`) and writes a JSON object to
/// `*out`: `{"conmon": {"package", "path", "version"}, "runtime": {"name", "package", "path",
/// "version"}}`. The string is owned by the caller; free it with `ocirt_string_free`.
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_info(
    runtime: *const ocirt_runtime,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        let (conmon, oci) = runtime.inner.runtime_info()?;
        let document = serde_json::json!({ "conmon": conmon, "runtime": oci });
        let text = owned_c_string(&document.to_string(), "runtime info")?;
        write_out(out, text);
        Ok(())
    })
}

/// Writes to `*out` whether the runtime's name is in the JSON-errors support list
/// (`SupportsJSONErrors()`).
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_supports_json_errors(
    runtime: *const ocirt_runtime,
    out: *mut bool,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.inner.supports_json_errors());
        Ok(())
    })
}

/// Writes to `*out` whether the runtime's name is in the no-cgroups support list
/// (`SupportsNoCgroups()`).
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_supports_no_cgroups(
    runtime: *const ocirt_runtime,
    out: *mut bool,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.inner.supports_no_cgroups());
        Ok(())
    })
}

/// Writes to `*out` whether the runtime's name is in the KVM support list (`SupportsKVM()`).
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_supports_kvm(
    runtime: *const ocirt_runtime,
    out: *mut bool,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.inner.supports_kvm());
        Ok(())
    })
}

/// Writes to `*out` whether the runtime can checkpoint (`SupportsCheckpoint()`): true when
/// `<runtime> checkpoint --help` exits 0 and `criu` is on `$PATH`. True does not promise
/// that CRIU works on this kernel.
///
/// # Safety
/// `runtime` is a live handle; `out` is a writable pointer.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_supports_checkpoint(
    runtime: *const ocirt_runtime,
    out: *mut bool,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        write_out(out, runtime.inner.supports_checkpoint());
        Ok(())
    })
}

/// Writes a JSON array with the state of every container in the runtime's state directory
/// to `*out`, sorted by id. Each element has the fields of `ocirt_container_state_json`.
/// Containers deleted while the list is made are left out. The string is owned by the
/// caller; free it with `ocirt_string_free`.
///
/// # Safety
/// `runtime` is a live handle; `out` is writable.
#[no_mangle]
pub unsafe extern "C" fn ocirt_runtime_list_containers(
    runtime: *const ocirt_runtime,
    out: *mut *mut c_char,
) -> ocirt_result {
    guard(|| {
        let runtime = handle_ref(runtime, "runtime")?;
        check_not_null(out, "out")?;
        let mut states = Vec::new();
        for id in runtime.inner.container_ids()? {
            let container = match crate::container::Container::open(Arc::clone(&runtime.inner), &id)
            {
                Ok(container) => container,
                Err(err) if err.kind() == ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER => continue,
                Err(err) => return Err(err),
            };
            match container.state_json() {
                Ok(text) => states.push(serde_json::from_str::<serde_json::Value>(&text).map_err(
                    |err| Error::invalid(format!("state of container {} is not JSON: {}", id, err)),
                )?),
                Err(err) if err.kind() == ocirt_result::OCIRT_ERR_NO_SUCH_CONTAINER => continue,
                Err(err) => return Err(err),
            }
        }
        let text = serde_json::Value::Array(states).to_string();
        write_out(out, owned_c_string(&text, "container list")?);
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn handle_is_thread_safe() {
        fn check<T: Send + Sync>() {}
        check::<super::ocirt_runtime>();
    }
}
