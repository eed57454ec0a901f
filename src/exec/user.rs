//! Resolving an exec user (`uid`, `uid:gid`, `name`, `name:group`) against the container's
//! `/etc/passwd` and `/etc/group`, as runc's `GetExecUser` does.
//!
//! The files are read from the container's root filesystem, or from the host file a bind
//! mount of `/etc/passwd`, `/etc/group` or `/etc` puts there. Paths inside the root
//! filesystem are resolved with `openat2(RESOLVE_IN_ROOT)`, so a symbolic link in the image
//! cannot make the library read a host file.

use std::ffi::CString;
use std::fs::File;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// A user resolved for a process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedUser {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
    /// Supplementary groups: those of `/etc/group` that list the user by name.
    pub additional_gids: Vec<u32>,
    /// Home directory from `/etc/passwd`, when the user has an entry.
    pub home: Option<String>,
}

/// One `/etc/passwd` entry.
#[derive(Clone, Debug)]
struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

/// One `/etc/group` entry.
#[derive(Clone, Debug)]
struct GroupEntry {
    name: String,
    gid: u32,
    members: Vec<String>,
}

/// Locations of the container's account files.
#[derive(Clone, Debug)]
pub struct AccountFiles {
    rootfs: PathBuf,
    passwd_override: Option<PathBuf>,
    group_override: Option<PathBuf>,
}

impl AccountFiles {
    /// Finds the account files of a container: bind mounts of `/etc/passwd`, `/etc/group` or
    /// `/etc` in `mounts` win over the root filesystem.
    pub fn new(rootfs: &Path, mounts: &[oci_spec::runtime::Mount]) -> AccountFiles {
        let mut passwd_override = None;
        let mut group_override = None;
        for mount in mounts {
            let is_bind = mount.typ().as_deref() == Some("bind")
                || mount
                    .options()
                    .as_ref()
                    .is_some_and(|opts| opts.iter().any(|o| o == "bind" || o == "rbind"));
            let Some(source) = mount.source() else {
                continue;
            };
            if !is_bind {
                continue;
            }
            match mount.destination().to_str() {
                Some("/etc/passwd") => passwd_override = Some(source.clone()),
                Some("/etc/group") => group_override = Some(source.clone()),
                Some("/etc") | Some("/etc/") => {
                    passwd_override = Some(source.join("passwd"));
                    group_override = Some(source.join("group"));
                }
                _ => {}
            }
        }
        AccountFiles {
            rootfs: rootfs.to_path_buf(),
            passwd_override,
            group_override,
        }
    }

    fn read(&self, override_path: &Option<PathBuf>, inside: &str) -> Option<String> {
        match override_path {
            Some(path) => std::fs::read_to_string(path).ok(),
            None => read_in_root(&self.rootfs, inside).ok(),
        }
    }

    fn passwd(&self) -> Vec<PasswdEntry> {
        let text = self
            .read(&self.passwd_override, "etc/passwd")
            .unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                if fields.len() < 6 || line.starts_with('#') {
                    return None;
                }
                Some(PasswdEntry {
                    name: fields[0].to_string(),
                    uid: fields[2].parse().ok()?,
                    gid: fields[3].parse().ok()?,
                    home: fields[5].to_string(),
                })
            })
            .collect()
    }

    fn groups(&self) -> Vec<GroupEntry> {
        let text = self
            .read(&self.group_override, "etc/group")
            .unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let fields: Vec<&str> = line.split(':').collect();
                if fields.len() < 3 || line.starts_with('#') {
                    return None;
                }
                Some(GroupEntry {
                    name: fields[0].to_string(),
                    gid: fields[2].parse().ok()?,
                    members: fields
                        .get(3)
                        .map(|m| {
                            m.split(',')
                                .filter(|s| !s.is_empty())
                                .map(str::to_string)
                                .collect()
                        })
                        .unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Resolves `spec` (`user[:group]`, each numeric or a name).
    pub fn resolve(&self, spec: &str) -> Result<ResolvedUser> {
        let (user_part, group_part) = match spec.split_once(':') {
            Some((user, group)) => (user, Some(group)),
            None => (spec, None),
        };
        if user_part.is_empty() || group_part == Some("") {
            return Err(Error::invalid(format!(
                "exec user {:?} is invalid; use uid, uid:gid, name or name:group",
                spec
            )));
        }
        let passwd = self.passwd();
        let (uid, mut gid, name, home) = match user_part.parse::<u32>() {
            Ok(uid) => match passwd.iter().find(|e| e.uid == uid) {
                Some(entry) => (
                    uid,
                    entry.gid,
                    Some(entry.name.clone()),
                    Some(entry.home.clone()),
                ),
                // A numeric uid without an entry is allowed, as in runc.
                None => (uid, 0, None, None),
            },
            Err(_) => match passwd.iter().find(|e| e.name == user_part) {
                Some(entry) => (
                    entry.uid,
                    entry.gid,
                    Some(entry.name.clone()),
                    Some(entry.home.clone()),
                ),
                None => {
                    return Err(Error::invalid(format!(
                        "unable to find user {:?} in the container's /etc/passwd",
                        user_part
                    )))
                }
            },
        };
        let groups = self.groups();
        if let Some(group) = group_part {
            gid = match group.parse::<u32>() {
                Ok(gid) => gid,
                Err(_) => match groups.iter().find(|g| g.name == group) {
                    Some(entry) => entry.gid,
                    None => {
                        return Err(Error::invalid(format!(
                            "unable to find group {:?} in the container's /etc/group",
                            group
                        )))
                    }
                },
            };
        }
        let mut additional_gids = Vec::new();
        if group_part.is_none() {
            if let Some(name) = &name {
                for group in &groups {
                    if group.members.iter().any(|m| m == name)
                        && !additional_gids.contains(&group.gid)
                    {
                        additional_gids.push(group.gid);
                    }
                }
            }
        }
        Ok(ResolvedUser {
            uid,
            gid,
            additional_gids,
            home,
        })
    }

    /// Returns the home directory of `uid`, if it has an entry.
    pub fn home_of(&self, uid: u32) -> Option<String> {
        self.passwd()
            .into_iter()
            .find(|e| e.uid == uid)
            .map(|e| e.home)
    }
}

/// Reads `relative` inside `root`, resolving every path component (symbolic links included)
/// as if `root` were `/`.
fn read_in_root(root: &Path, relative: &str) -> std::io::Result<String> {
    let root_dir = File::open(root)?;
    let c_path =
        CString::new(relative).map_err(|_| std::io::Error::from_raw_os_error(libc::EINVAL))?;

    // SAFETY: open_how is a plain struct for which all-zero bytes are valid.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT;
    // SAFETY: openat2 reads the path and the open_how struct, both valid for the call.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            std::os::fd::AsRawFd::as_raw_fd(&root_dir),
            c_path.as_ptr(),
            &how as *const libc::open_how,
            std::mem::size_of::<libc::open_how>(),
        )
    };
    let file = if fd >= 0 {
        // SAFETY: openat2 returned a new descriptor.
        File::from(unsafe { OwnedFd::from_raw_fd(fd as i32) })
    } else {
        let err = std::io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::ENOSYS) {
            return Err(err);
        }
        // Kernels before 5.6 lack openat2. O_NOFOLLOW rejects a symbolic link in the last
        // component. NOTE: a link in an earlier component (such as `etc`) is still followed,
        // so on these kernels an image can make the library read a host file.
        let path = root.join(relative);
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&path)?
    };

    let mut text = String::new();
    (&file).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rootfs() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        std::fs::write(
            dir.path().join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("etc/group"),
            "root:x:0:\nalice:x:1000:\nwheel:x:10:alice,bob\naudio:x:29:alice\n",
        )
        .unwrap();
        dir
    }

    #[test]
    fn resolves_names_numbers_and_groups() {
        let dir = rootfs();
        let files = AccountFiles::new(dir.path(), &[]);
        let alice = files.resolve("alice").unwrap();
        assert_eq!((alice.uid, alice.gid), (1000, 1000));
        assert_eq!(alice.additional_gids, vec![10, 29]);
        assert_eq!(alice.home.as_deref(), Some("/home/alice"));
        let numeric = files.resolve("1000:10").unwrap();
        assert_eq!((numeric.uid, numeric.gid), (1000, 10));
        assert!(numeric.additional_gids.is_empty());
        let unknown = files.resolve("4242").unwrap();
        assert_eq!((unknown.uid, unknown.gid, unknown.home), (4242, 0, None));
        let named_group = files.resolve("0:wheel").unwrap();
        assert_eq!(named_group.gid, 10);
    }

    #[test]
    fn rejects_unknown_names() {
        let dir = rootfs();
        let files = AccountFiles::new(dir.path(), &[]);
        assert!(files
            .resolve("mallory")
            .unwrap_err()
            .message()
            .contains("mallory"));
        assert!(files
            .resolve("alice:nogroup")
            .unwrap_err()
            .message()
            .contains("nogroup"));
        assert!(files.resolve(":1").is_err());
    }

    #[test]
    fn symlink_cannot_escape_the_rootfs() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("etc")).unwrap();
        let outside = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(outside.path(), "evil:x:7:7::/:/bin/sh\n").unwrap();
        std::os::unix::fs::symlink(outside.path(), dir.path().join("etc/passwd")).unwrap();
        let files = AccountFiles::new(dir.path(), &[]);
        assert!(files.resolve("evil").is_err());
    }
}
