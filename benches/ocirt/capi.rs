//! Thin wrappers over ocirt's C functions for the benchmark. Each call is checked, and a
//! failure panics with the library's error message.

use std::ffi::{c_int, c_void, CStr, CString};
use std::ptr;

use ocirt::ffi::attach::*;
use ocirt::ffi::container::*;
use ocirt::ffi::exec::*;
use ocirt::ffi::runtime::ocirt_runtime;
use ocirt::ocirt_result;

/// Panics with the calling thread's last error message unless `rc` is `OCIRT_OK`.
pub fn check(rc: ocirt_result, function: &str) {
    if rc != ocirt_result::OCIRT_OK {
        // SAFETY: the library returns a valid string, never NULL.
        let message = unsafe { CStr::from_ptr(ocirt::ffi::ocirt_last_error_message()) };
        panic!(
            "{} failed: {:?}: {}",
            function,
            rc,
            message.to_string_lossy()
        );
    }
}

/// A container handle, deleted and freed on drop.
pub struct Ctr(pub *mut ocirt_container);

// SAFETY: container handles are thread-safe by the library's contract.
unsafe impl Send for Ctr {}
// SAFETY: as above.
unsafe impl Sync for Ctr {}

impl Ctr {
    pub fn new(runtime: *mut ocirt_runtime, config: &serde_json::Value) -> Ctr {
        let text = CString::new(config.to_string()).unwrap();
        let mut ctr = ptr::null_mut();
        // SAFETY: valid runtime, string and out pointer.
        check(
            unsafe { ocirt_container_new(runtime, text.as_ptr(), &mut ctr) },
            "ocirt_container_new",
        );
        Ctr(ctr)
    }

    pub fn create(&self) {
        // SAFETY: live handle.
        check(
            unsafe { ocirt_container_create(self.0, ptr::null()) },
            "ocirt_container_create",
        );
    }

    pub fn start(&self) {
        // SAFETY: live handle.
        check(
            unsafe { ocirt_container_start(self.0) },
            "ocirt_container_start",
        );
    }

    pub fn wait(&self) -> i32 {
        let mut code = 0;
        // SAFETY: live handle and out pointer.
        check(
            unsafe { ocirt_container_wait(self.0, -1, ptr::null(), &mut code) },
            "ocirt_container_wait",
        );
        code
    }

    pub fn stop(&self, timeout: u32) {
        // SAFETY: live handle.
        check(
            unsafe { ocirt_container_stop(self.0, timeout, false) },
            "ocirt_container_stop",
        );
    }

    pub fn state(&self) -> serde_json::Value {
        let mut text = ptr::null_mut();
        // SAFETY: live handle and out pointer. The string is freed below.
        unsafe {
            check(
                ocirt_container_state_json(self.0, &mut text),
                "ocirt_container_state_json",
            );
            let value = serde_json::from_str(CStr::from_ptr(text).to_str().unwrap()).unwrap();
            ocirt::ffi::ocirt_string_free(text);
            value
        }
    }

    /// Runs an attached exec of `cmd`, discards its output and removes the session's files.
    /// Returns the exit code.
    pub fn exec(&self, session: &str, cmd: &[&str]) -> i32 {
        let id = CString::new(session).unwrap();
        let options = CString::new(serde_json::json!({"cmd": cmd}).to_string()).unwrap();
        let callbacks = ocirt_attach_callbacks {
            userdata: ptr::null_mut(),
            on_stdout: Some(discard),
            on_stderr: Some(discard),
            on_done: None,
            userdata_free: None,
        };
        let mut pid = 0;
        let mut attach = ptr::null_mut();
        let mut outcome = ocirt_attach_outcome::OCIRT_ATTACH_ENDED;
        let mut code = -1;
        // SAFETY: live handles, valid strings and out pointers. The attach handle is freed
        // once, after the wait.
        unsafe {
            check(
                ocirt_exec_start(
                    self.0,
                    id.as_ptr(),
                    options.as_ptr(),
                    &callbacks,
                    &mut pid,
                    &mut attach,
                ),
                "ocirt_exec_start",
            );
            check(
                ocirt_attach_wait(attach, -1, &mut outcome, &mut code),
                "ocirt_attach_wait",
            );
            ocirt_attach_free(attach);
            check(
                ocirt_exec_cleanup(self.0, id.as_ptr()),
                "ocirt_exec_cleanup",
            );
        }
        code
    }
}

/// An output callback that drops the bytes.
unsafe extern "C" fn discard(_userdata: *mut c_void, _data: *const u8, _len: usize) -> c_int {
    0
}

impl Drop for Ctr {
    fn drop(&mut self) {
        // SAFETY: the handle is live, and drop runs once, so it is freed once.
        unsafe {
            check(ocirt_container_delete(self.0), "ocirt_container_delete");
            ocirt_container_free(self.0);
        }
    }
}
