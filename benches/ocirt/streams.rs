//! Stream throughput: container output read raw from conmon's attach socket, and through
//! ocirt's C callbacks, interleaved on the same machine.

use std::ffi::{c_int, c_void, CString};
use std::os::fd::AsRawFd;
use std::ptr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use nix::sys::socket::{self, MsgFlags};
use ocirt::ffi::attach::*;
use ocirt::ffi::container::*;
use ocirt::{Container, ContainerConfig, OciRuntime};

use crate::report::Row;
use crate::Env;

pub const RAW: &str = "raw SEQPACKET reader";
pub const C_CALLBACKS: &str = "ocirt, C callbacks";

/// Returns this process's CPU time (user plus system) in seconds.
pub fn cpu_seconds() -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::uninit();
    // SAFETY: getrusage fills the struct. It fails only for an invalid `who` or pointer, and
    // neither occurs here.
    let usage = unsafe {
        libc::getrusage(libc::RUSAGE_SELF, usage.as_mut_ptr());
        usage.assume_init()
    };
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// Returns a command that prints `bytes` bytes (a multiple of 64 KiB) with as little CPU as
/// possible, so that conmon and the reader, not the producer, set the pace.
pub fn producer(bytes: usize) -> String {
    format!(
        "dd if=/dev/zero bs=65536 count={} 2>/dev/null",
        bytes / 65536
    )
}

fn configure(env: &Env, bytes: usize) -> Arc<Container> {
    let config = serde_json::json!({
        "id": env.unique_id("stream"),
        "spec": env.spec(&["sh", "-c", &producer(bytes)]),
        "rootfs": env.rootfs(),
        "log_driver": "none",
    });
    let config = ContainerConfig::from_json(&config.to_string()).expect("container config");
    Container::new(Arc::clone(&env.runtime), config).expect("container configured")
}

/// Reads the container's output the way a minimal client does, with one recv per packet into
/// a buffer large enough for conmon's packets (at most 8193 bytes: a stream byte and 8 KiB of
/// output). Returns the rate from start to EOF and the CPU time used.
fn raw_round(env: &Env, bytes: usize) -> Sample {
    let ctr = configure(env, bytes);
    env.runtime.create_container(&ctr, None).expect("create");
    let began = Instant::now();
    let cpu = cpu_seconds();
    let socket = ocirt::attach::connect(&ctr.file("attach")).expect("connect");
    env.runtime.start_container(&ctr).expect("start");
    let mut buffer = vec![0u8; 65536];
    let mut received = 0usize;
    loop {
        match socket::recv(socket.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
            Ok(0) => break,
            // The first byte of each packet names the stream.
            Ok(n) => received += n - 1,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(nix::errno::Errno::ECONNRESET) => break,
            Err(err) => panic!("raw reader: {}", err),
        }
    }
    let seconds = began.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu;
    assert_eq!(received, bytes, "raw reader lost bytes");
    env.runtime.delete_container(&ctr).expect("delete");
    Sample::new(bytes, seconds, cpu)
}

/// One stream sample: throughput and the reading process's CPU time per GiB.
pub struct Sample {
    pub mib_per_second: f64,
    pub cpu_ms_per_gib: f64,
}

impl Sample {
    pub fn new(bytes: usize, seconds: f64, cpu_seconds: f64) -> Sample {
        let gib = bytes as f64 / (1024.0 * 1024.0 * 1024.0);
        Sample {
            mib_per_second: bytes as f64 / (1024.0 * 1024.0) / seconds,
            cpu_ms_per_gib: cpu_seconds * 1000.0 / gib,
        }
    }
}

unsafe extern "C" fn count_bytes(userdata: *mut c_void, _data: *const u8, len: usize) -> c_int {
    (*(userdata as *const AtomicUsize)).fetch_add(len, Ordering::Relaxed);
    0
}

/// Reads the container's output through `ocirt_container_attach` and C callbacks.
fn callback_round(env: &Env, bytes: usize) -> Sample {
    let ctr = configure(env, bytes);
    let id = CString::new(ctr.id()).unwrap();
    drop(ctr);
    let counter = AtomicUsize::new(0);
    let callbacks = ocirt_attach_callbacks {
        userdata: &counter as *const AtomicUsize as *mut c_void,
        on_stdout: Some(count_bytes),
        on_stderr: Some(count_bytes),
        on_done: None,
        userdata_free: None,
    };
    let options = CString::new(r#"{"start": true}"#).unwrap();
    let seconds;
    let cpu_used;
    unsafe {
        let mut ctr = ptr::null_mut();
        assert_eq!(
            ocirt_container_open(env.c_runtime, id.as_ptr(), &mut ctr),
            ocirt::ocirt_result::OCIRT_OK
        );
        assert_eq!(
            ocirt_container_create(ctr, ptr::null()),
            ocirt::ocirt_result::OCIRT_OK
        );
        let began = Instant::now();
        let cpu = cpu_seconds();
        let mut attach = ptr::null_mut();
        assert_eq!(
            ocirt_container_attach(ctr, options.as_ptr(), &callbacks, &mut attach),
            ocirt::ocirt_result::OCIRT_OK
        );
        let mut outcome = ocirt_attach_outcome::OCIRT_ATTACH_ENDED;
        let mut code = 0;
        assert_eq!(
            ocirt_attach_wait(attach, -1, &mut outcome, &mut code),
            ocirt::ocirt_result::OCIRT_OK
        );
        seconds = began.elapsed().as_secs_f64();
        cpu_used = cpu_seconds() - cpu;
        ocirt_attach_free(attach);
        assert_eq!(ocirt_container_delete(ctr), ocirt::ocirt_result::OCIRT_OK);
        ocirt_container_free(ctr);
    }
    assert_eq!(
        counter.load(Ordering::Relaxed),
        bytes,
        "callbacks lost bytes"
    );
    Sample::new(bytes, seconds, cpu_used)
}

/// A binding's stream reader, measured next to the raw reader and the C callbacks: its row
/// name and a function that returns one sample for a given number of bytes.
pub type ExtraReader = (String, Box<dyn FnMut(&Env, usize) -> Option<Sample>>);

/// Runs `rounds` interleaved rounds of each reader over `bytes` bytes of output.
pub fn run(env: &Env, rounds: usize, bytes: usize, extra: &mut [ExtraReader]) -> Vec<Row> {
    let section = "Stream throughput";
    let cpu_section = "Reader CPU time";
    let mut raw = Row::new(section, RAW, "MiB/s", true);
    let mut callbacks = Row::new(section, C_CALLBACKS, "MiB/s", true);
    callbacks.reference = Some(RAW.to_string());
    callbacks.note = Some("target: ratio at least 0.95".to_string());
    let mut raw_cpu = Row::new(cpu_section, RAW, "ms/GiB", false);
    let mut callbacks_cpu = Row::new(cpu_section, C_CALLBACKS, "ms/GiB", false);
    callbacks_cpu.reference = Some(RAW.to_string());
    let mut extra_rows: Vec<Row> = extra
        .iter()
        .map(|(name, _)| {
            let mut row = Row::new(section, name, "MiB/s", true);
            row.reference = Some(C_CALLBACKS.to_string());
            row.note = match name.as_str() {
                crate::bindings::GO => Some("target: ratio at least 0.85".to_string()),
                crate::bindings::PYTHON => Some("target: ratio at least 0.6".to_string()),
                _ => None,
            };
            row
        })
        .collect();
    for round in 0..rounds {
        // Alternate the order so neither reader always runs on a warmer machine.
        let (first, second) = if round % 2 == 0 {
            let raw_sample = raw_round(env, bytes);
            (raw_sample, callback_round(env, bytes))
        } else {
            let callback_sample = callback_round(env, bytes);
            (raw_round(env, bytes), callback_sample)
        };
        raw.samples.push(first.mib_per_second);
        raw_cpu.samples.push(first.cpu_ms_per_gib);
        callbacks.samples.push(second.mib_per_second);
        callbacks_cpu.samples.push(second.cpu_ms_per_gib);
        for ((_, measure), row) in extra.iter_mut().zip(extra_rows.iter_mut()) {
            match measure(env, bytes) {
                Some(sample) => row.samples.push(sample.mib_per_second),
                None => eprintln!("streams: no sample from {}", row.name),
            }
        }
        eprintln!("streams: round {} of {} done", round + 1, rounds);
    }
    let mut rows = vec![raw, callbacks];
    rows.extend(extra_rows);
    rows.push(raw_cpu);
    rows.push(callbacks_cpu);
    rows
}
