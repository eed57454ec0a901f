//! The OCI process spec of an exec session: a fresh copy of the container's process with the
//! session's command, terminal, environment, working directory and user. The container's own
//! spec is never changed.

use oci_spec::runtime::{BoxBuilder, Process, Spec, User};

use crate::container::Container;
use crate::error::{Error, Result};
use crate::exec::options::ExecOptions;
use crate::exec::user::AccountFiles;

/// Reads the container's spec copy.
pub fn container_spec(ctr: &Container) -> Result<Spec> {
    let path = ctr.file("config.json");
    let text = std::fs::read_to_string(&path)
        .map_err(|err| Error::io(format!("cannot read {}", path.display()), err))?;
    crate::json::parse(&text, &format!("OCI spec {}", path.display()))
}

/// Builds the process spec for `options` from the container's process.
pub fn build(ctr: &Container, options: &ExecOptions) -> Result<Process> {
    let spec = container_spec(ctr)?;
    let mut process = spec.process().clone().ok_or_else(|| {
        Error::invalid(format!(
            "container {}: its spec has no process to base the exec on",
            ctr.id()
        ))
    })?;

    process.set_args(Some(options.cmd.clone()));
    process.set_terminal(Some(options.terminal));
    let console_size = match options.size() {
        Some((width, height)) => Some(
            BoxBuilder::default()
                .width(u64::from(width))
                .height(u64::from(height))
                .build()
                .map_err(|err| {
                    Error::invalid(format!(
                        "invalid terminal size {}x{}: {}",
                        width, height, err
                    ))
                })?,
        ),
        None => None,
    };
    // runc sizes the terminal before it runs the command, so the command's first output
    // already uses this size.
    process.set_console_size(console_size);
    if let Some(cwd) = &options.cwd {
        process.set_cwd(cwd.into());
    }

    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    for (name, value) in options.env_pairs()? {
        env.push(format!("{}={}", name, value));
    }

    let mounts = spec.mounts().clone().unwrap_or_default();
    let accounts = AccountFiles::new(ctr.rootfs(), &mounts);
    let home = match &options.user {
        Some(user_spec) => {
            let resolved = accounts.resolve(user_spec)?;
            let mut user = User::default();
            user.set_uid(resolved.uid);
            user.set_gid(resolved.gid);
            if !resolved.additional_gids.is_empty() {
                user.set_additional_gids(Some(resolved.additional_gids));
            }
            process.set_user(user);
            resolved.home
        }
        None => accounts.home_of(process.user().uid()),
    };
    if !env.iter().any(|entry| entry.starts_with("HOME=")) {
        env.push(format!(
            "HOME={}",
            home.filter(|h| !h.is_empty())
                .unwrap_or_else(|| "/".to_string())
        ));
    }
    process.set_env(Some(env));
    Ok(process)
}
