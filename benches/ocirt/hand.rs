//! A minimal driver of conmon, written for the benchmark as the baseline for ocirt's
//! conmon-backed runtime. It does the steps podman does and nothing more. It spawns conmon
//! with its sync and start pipes, reads the container's pid, starts the container, waits for
//! the exit file with one inotify watch kept for the whole run, and deletes the container.

use std::ffi::OsString;
use std::fs;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
use nix::sys::socket::{self, AddressFamily, MsgFlags, SockFlag, SockType, UnixAddr};

/// The driver's binaries, directories and the inotify watch on the exit directory, which
/// stays open for the driver's life.
pub struct HandDriver {
    conmon: PathBuf,
    runc: PathBuf,
    root: PathBuf,
    pub base: PathBuf,
    exits: PathBuf,
    sockets: PathBuf,
    inotify: Inotify,
}

/// Returns a close-on-exec SOCK_SEQPACKET socket pair, the kind of pipe conmon expects.
fn pair() -> (OwnedFd, OwnedFd) {
    socket::socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .expect("socketpair")
}

/// Reads one message from conmon and returns its `data` value.
fn read_data(fd: &OwnedFd) -> i64 {
    let mut buffer = vec![0u8; 65536];
    let n = loop {
        match socket::recv(fd.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
            Err(nix::errno::Errno::EINTR) => continue,
            other => break other.expect("read conmon message"),
        }
    };
    let text = String::from_utf8_lossy(&buffer[..n]);
    let value: serde_json::Value =
        serde_json::from_str(text.trim()).expect("conmon message is JSON");
    value["data"].as_i64().expect("conmon message has data")
}

impl HandDriver {
    pub fn new(base: &Path, root: &Path) -> HandDriver {
        let exits = base.join("exits");
        let sockets = base.join("socket");
        fs::create_dir_all(&exits).unwrap();
        fs::create_dir_all(&sockets).unwrap();
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC).expect("inotify");
        inotify
            .add_watch(
                &exits,
                AddWatchFlags::IN_MOVED_TO | AddWatchFlags::IN_CLOSE_WRITE,
            )
            .expect("watch exits");
        HandDriver {
            conmon: which("conmon"),
            runc: which("runc"),
            root: root.to_path_buf(),
            base: base.to_path_buf(),
            exits,
            sockets,
            inotify,
        }
    }

    fn runc(&self, args: &[&str]) {
        let status = Command::new(&self.runc)
            .arg("--root")
            .arg(&self.root)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .expect("runc runs");
        assert!(status.success(), "runc {:?} failed", args);
    }

    /// Spawns conmon with the child ends of `pipes` socket pairs as descriptors 3, 4 and 5:
    /// the sync pipe, the start pipe and, for an exec, the attach pipe. Then sends the start
    /// byte and waits for conmon's first process to exit. Returns the parent ends.
    fn spawn(&self, args: Vec<OsString>, cwd: &Path, pipes: usize) -> Vec<OwnedFd> {
        let pairs: Vec<(OwnedFd, OwnedFd)> = (0..pipes).map(|_| pair()).collect();
        let children: Vec<RawFd> = pairs.iter().map(|(_, child)| child.as_raw_fd()).collect();
        let mut cmd = Command::new(&self.conmon);
        cmd.args(&args)
            .current_dir(cwd)
            .env_clear()
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .env("XDG_RUNTIME_DIR", "")
            .env("_OCI_SYNCPIPE", "3")
            .env("_OCI_STARTPIPE", "4")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0);
        if pipes > 2 {
            cmd.env("_OCI_ATTACHPIPE", "5");
        }

        let mut moved = vec![-1; children.len()];
        // SAFETY: the closure only calls fcntl and dup2 and writes into a vector allocated
        // before the fork, all of which is safe between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                // Copy every child end to 10 or above before the dup2 calls, so none of them
                // overwrites another child end that sits at 3, 4 or 5. The copies are
                // close-on-exec, and dup2 clears that flag on the targets, so conmon gets
                // exactly the descriptors 3, 4, ...
                for (index, fd) in children.iter().enumerate() {
                    moved[index] = libc::fcntl(*fd, libc::F_DUPFD_CLOEXEC, 10);
                }
                for (index, fd) in moved.iter().enumerate() {
                    libc::dup2(*fd, 3 + index as RawFd);
                }
                Ok(())
            });
        }

        let mut child = cmd.spawn().expect("conmon spawns");
        let parents: Vec<OwnedFd> = pairs.into_iter().map(|(parent, _)| parent).collect();
        socket::send(parents[1].as_raw_fd(), &[0], MsgFlags::MSG_NOSIGNAL).expect("start byte");
        assert!(
            child.wait().expect("wait conmon").success(),
            "conmon failed"
        );
        parents
    }

    fn common_args(
        &self,
        ctr: &str,
        cuuid: &str,
        bundle: &Path,
        pidfile: &Path,
        exit_dir: &Path,
        log: &str,
    ) -> Vec<OsString> {
        let mut args: Vec<OsString> = ["--api-version", "1", "-c", ctr, "-u", cuuid, "-r"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(self.runc.clone().into());
        for (flag, value) in [("-b", bundle), ("-p", pidfile)] {
            args.push(flag.into());
            args.push(value.into());
        }
        args.extend(["-n", ctr].iter().map(OsString::from));
        args.push("--exit-dir".into());
        args.push(exit_dir.into());
        args.push("--socket-dir-path".into());
        args.push(self.sockets.clone().into());
        args.extend(
            ["-l", log, "--log-level", "error"]
                .iter()
                .map(OsString::from),
        );
        args.push("--runtime-arg=--root".into());
        args.push(format!("--runtime-arg={}", self.root.display()).into());
        args
    }

    /// Blocks until `<exits>/<id>` exists, reading events from the driver's inotify watch.
    /// Returns the exit code that the file contains.
    fn wait_exit_file(&self, id: &str) -> i32 {
        let path = self.exits.join(id);
        while !path.exists() {
            let events = self.inotify.read_events().expect("inotify events");
            if events
                .iter()
                .any(|e| e.name.as_deref() == Some(std::ffi::OsStr::new(id)))
            {
                break;
            }
        }
        fs::read_to_string(&path)
            .expect("exit file")
            .trim()
            .parse()
            .expect("exit code")
    }

    /// Creates container `id` from `spec`, starts it, waits for it to exit, deletes it.
    /// Returns the exit code.
    pub fn lifecycle(&self, id: &str, spec: &serde_json::Value) -> i32 {
        let dir = self.base.join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.json"), serde_json::to_vec(spec).unwrap()).unwrap();
        let log = format!("k8s-file:{}", dir.join("ctr.log").display());
        let mut args = self.common_args(id, id, &dir, &dir.join("pidfile"), &self.exits, &log);
        args.push("--conmon-pidfile".into());
        args.push(dir.join("conmon.pid").into());
        let pipes = self.spawn(args, &dir, 2);
        let pid = read_data(&pipes[0]);
        assert!(pid > 0, "create failed");
        drop(pipes);
        self.runc(&["start", id]);
        let code = self.wait_exit_file(id);
        self.runc(&["delete", "--force", id]);
        let _ = fs::remove_file(self.exits.join(id));
        let _ = fs::remove_file(self.sockets.join(id));
        let _ = fs::remove_dir_all(&dir);
        code
    }

    /// Creates and starts a long-running container for exec rows.
    pub fn start_container(&self, id: &str, spec: &serde_json::Value) {
        let dir = self.base.join(id);
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("config.json"), serde_json::to_vec(spec).unwrap()).unwrap();
        let mut args = self.common_args(id, id, &dir, &dir.join("pidfile"), &self.exits, "none");
        args.push("--conmon-pidfile".into());
        args.push(dir.join("conmon.pid").into());
        let pipes = self.spawn(args, &dir, 2);
        assert!(read_data(&pipes[0]) > 0);
        self.runc(&["start", id]);
    }

    /// Deletes a container started by [`HandDriver::start_container`].
    pub fn delete_container(&self, id: &str) {
        self.runc(&["delete", "--force", id]);
        let _ = fs::remove_file(self.sockets.join(id));
        let _ = fs::remove_dir_all(self.base.join(id));
        let _ = fs::remove_file(self.exits.join(id));
    }

    /// Runs `process` in container `id` through conmon's exec handshake with the output
    /// attached, reads the output to EOF and returns the exit code.
    pub fn exec(&self, id: &str, session: &str, process: &serde_json::Value) -> i32 {
        let dir = self.base.join(id).join(session);
        let exit_dir = dir.join("exit");
        fs::create_dir_all(&exit_dir).unwrap();
        let spec_path = dir.join("process.json");
        fs::write(&spec_path, serde_json::to_vec(process).unwrap()).unwrap();
        let mut args =
            self.common_args(id, session, &dir, &dir.join("exec_pid"), &exit_dir, "none");
        args.extend(
            ["-e", "--exec-attach", "--exec-process-spec"]
                .iter()
                .map(OsString::from),
        );
        args.push(spec_path.into());
        let pipes = self.spawn(args, &dir, 3);
        assert_eq!(read_data(&pipes[2]), 0, "attach pipe");
        let attach = connect(&dir.join("attach"));
        socket::send(pipes[1].as_raw_fd(), &[0], MsgFlags::MSG_NOSIGNAL)
            .expect("second start byte");
        assert!(read_data(&pipes[0]) > 0, "exec failed");
        let mut buffer = vec![0u8; 65536];
        loop {
            match socket::recv(attach.as_raw_fd(), &mut buffer, MsgFlags::empty()) {
                Ok(0) | Err(nix::errno::Errno::ECONNRESET) => break,
                Ok(_) | Err(nix::errno::Errno::EINTR) => {}
                Err(err) => panic!("attach read: {}", err),
            }
        }
        let code = read_data(&pipes[0]) as i32;
        let _ = fs::remove_file(self.sockets.join(session));
        let _ = fs::remove_dir_all(&dir);
        code
    }
}

/// Connects to an attach socket through `/proc/self/fd/N`, because a socket path can be
/// longer than the 108 bytes that `sun_path` takes.
pub fn connect(path: &Path) -> OwnedFd {
    let handle = nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .expect("open attach socket");
    let sock = socket::socket(
        AddressFamily::Unix,
        SockType::SeqPacket,
        SockFlag::SOCK_CLOEXEC,
        None,
    )
    .unwrap();
    let address = UnixAddr::new(format!("/proc/self/fd/{}", handle.as_raw_fd()).as_str()).unwrap();
    socket::connect(sock.as_raw_fd(), &address).expect("connect attach socket");
    sock
}

/// Returns the first `name` found in the usual sbin and bin directories, or `name` itself
/// for a lookup in PATH.
pub fn which(name: &str) -> PathBuf {
    for dir in [
        "/usr/local/sbin",
        "/usr/local/bin",
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
    ] {
        let candidate = Path::new(dir).join(name);
        if candidate.exists() {
            return candidate;
        }
    }
    PathBuf::from(name)
}
