//! Preparing the container's copy of the OCI spec.
//!
//! Each container's state directory serves as the bundle conmon and the runtime use, so it
//! holds its own `config.json`. The copy has an absolute `root.path` and absolute bind-mount
//! sources, so one user bundle can serve many containers at once and the copy does not depend
//! on the directory it sits in. The spec is kept as JSON and only those fields are changed,
//! so fields this library does not know pass through untouched; it is also parsed with the
//! oci-spec crate to reject invalid specs before any process starts.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::container::config::ContainerConfig;
use crate::error::{Error, Result};

/// The spec copy and the facts the library needs from it.
#[derive(Clone, Debug)]
pub struct PreparedSpec {
    /// The spec to write as the container's `config.json`.
    pub json: Value,
    /// `process.terminal`.
    pub terminal: bool,
    /// Whether the container has its own PID namespace (a `pid` namespace without `path`).
    pub private_pid_namespace: bool,
    /// The absolute root filesystem path.
    pub rootfs: PathBuf,
}

/// Loads the spec from the config's bundle or inline `spec` and prepares the copy.
pub fn prepare(config: &ContainerConfig) -> Result<PreparedSpec> {
    let (mut json, bundle) = match (&config.bundle, &config.spec) {
        (Some(bundle), _) => {
            let path = bundle.join("config.json");
            let text = fs::read_to_string(&path).map_err(|err| {
                Error::invalid(format!("cannot read OCI spec {}: {}", path.display(), err))
            })?;
            let json: Value = crate::json::parse(&text, &format!("OCI spec {}", path.display()))?;
            (json, Some(bundle.clone()))
        }
        (None, Some(spec)) => (spec.clone(), None),
        (None, None) => {
            return Err(Error::invalid(
                "container config: one of \"bundle\" or \"spec\" is required",
            ))
        }
    };
    let source = match &bundle {
        Some(bundle) => format!("OCI spec {}", bundle.join("config.json").display()),
        None => "inline OCI spec".to_string(),
    };

    let spec: oci_spec::runtime::Spec = crate::json::from_value(json.clone(), &source)?;
    if spec.process().is_none() {
        return Err(Error::invalid(format!(
            "{} has no \"process\"; a container needs a process to run",
            source
        )));
    }

    let object = json
        .as_object_mut()
        .ok_or_else(|| Error::invalid(format!("{} is not a JSON object", source)))?;

    let rootfs = resolve_rootfs(config, object, bundle.as_deref(), &source)?;
    let root = object
        .entry("root")
        .or_insert_with(|| Value::Object(Default::default()));
    let root = root
        .as_object_mut()
        .ok_or_else(|| Error::invalid(format!("{}: \"root\" is not an object", source)))?;
    root.insert(
        "path".to_string(),
        Value::String(rootfs.to_string_lossy().into_owned()),
    );

    if let Some(bundle) = &bundle {
        absolutize_bind_sources(object, bundle);
    }

    let terminal = spec
        .process()
        .as_ref()
        .and_then(|p| p.terminal())
        .unwrap_or(false);
    let private_pid_namespace = spec
        .linux()
        .as_ref()
        .and_then(|linux| linux.namespaces().as_ref())
        .is_some_and(|namespaces| {
            namespaces.iter().any(|ns| {
                ns.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && ns.path().is_none()
            })
        });

    Ok(PreparedSpec {
        json,
        terminal,
        private_pid_namespace,
        rootfs,
    })
}

fn resolve_rootfs(
    config: &ContainerConfig,
    object: &serde_json::Map<String, Value>,
    bundle: Option<&Path>,
    source: &str,
) -> Result<PathBuf> {
    if let Some(rootfs) = &config.rootfs {
        return Ok(rootfs.clone());
    }
    let spec_root = object
        .get("root")
        .and_then(|root| root.get("path"))
        .and_then(Value::as_str)
        .map(PathBuf::from);
    match (spec_root, bundle) {
        (Some(path), _) if path.is_absolute() => Ok(path),
        (Some(path), Some(bundle)) => Ok(bundle.join(path)),
        (Some(path), None) => Err(Error::invalid(format!(
            "{}: \"root.path\" {:?} is relative and there is no bundle to resolve it against; set \"rootfs\" in the container config",
            source, path
        ))),
        (None, _) => Err(Error::invalid(format!(
            "{} has no \"root.path\"; set \"rootfs\" in the container config",
            source
        ))),
    }
}

/// Makes relative sources of bind mounts absolute against the bundle, as the runtime would
/// resolve them from the bundle directory.
fn absolutize_bind_sources(object: &mut serde_json::Map<String, Value>, bundle: &Path) {
    let Some(Value::Array(mounts)) = object.get_mut("mounts") else {
        return;
    };
    for mount in mounts.iter_mut() {
        let Some(mount) = mount.as_object_mut() else {
            continue;
        };
        let is_bind = mount.get("type").and_then(Value::as_str) == Some("bind")
            || mount
                .get("options")
                .and_then(Value::as_array)
                .is_some_and(|opts| {
                    opts.iter()
                        .any(|o| matches!(o.as_str(), Some("bind") | Some("rbind")))
                });
        if !is_bind {
            continue;
        }
        if let Some(Value::String(source)) = mount.get_mut("source") {
            if !source.starts_with('/') {
                *source = bundle.join(&*source).to_string_lossy().into_owned();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn minimal_spec() -> Value {
        json!({
            "ociVersion": "1.0.2",
            "process": {"args": ["true"], "cwd": "/", "user": {"uid": 0, "gid": 0}, "terminal": true},
            "root": {"path": "rootfs"},
            "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}]},
            "mounts": [
                {"destination": "/data", "type": "bind", "source": "data", "options": ["rbind"]},
                {"destination": "/proc", "type": "proc", "source": "proc"}
            ]
        })
    }

    #[test]
    fn bundle_spec_gets_absolute_paths() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("config.json"), minimal_spec().to_string()).unwrap();
        let config = ContainerConfig::from_json(&format!(
            r#"{{"id": "c1", "bundle": "{}"}}"#,
            dir.path().display()
        ))
        .unwrap();
        let prepared = prepare(&config).unwrap();
        assert_eq!(prepared.rootfs, dir.path().join("rootfs"));
        assert!(prepared.terminal);
        assert!(prepared.private_pid_namespace);
        assert_eq!(
            prepared.json["mounts"][0]["source"],
            Value::String(dir.path().join("data").to_string_lossy().into_owned())
        );
        assert_eq!(prepared.json["mounts"][1]["source"], "proc");
    }

    #[test]
    fn inline_spec_needs_absolute_root() {
        let config = ContainerConfig {
            spec: Some(minimal_spec()),
            ..ContainerConfig::from_json(r#"{"id": "c1", "spec": {}}"#).unwrap()
        };
        let err = prepare(&config).unwrap_err();
        assert!(err.message().contains("rootfs"), "{}", err.message());

        let config = ContainerConfig {
            rootfs: Some(PathBuf::from("/srv/rootfs")),
            ..config
        };
        let prepared = prepare(&config).unwrap();
        assert_eq!(prepared.json["root"]["path"], "/srv/rootfs");
    }

    #[test]
    fn rejects_spec_without_process() {
        let config = ContainerConfig::from_json(
            r#"{"id": "c1", "spec": {"ociVersion": "1.0.2", "root": {"path": "/r"}}}"#,
        )
        .unwrap();
        let err = prepare(&config).unwrap_err();
        assert!(err.message().contains("process"), "{}", err.message());
    }
}
