//! A server under test: where it listens and how to sign for it.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::Path;

use anyhow::{bail, Context};

/// An access key and the region requests are scoped to.
#[derive(Clone)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub region: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("region", &self.region)
            .finish()
    }
}

impl Credentials {
    /// Reads profile `default` of an AWS shared-credentials file, the format of
    /// keyward's `<data-dir>/admin-credentials`. `region` overrides the file's.
    pub fn from_file(path: &Path, region: Option<&str>) -> anyhow::Result<Credentials> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading credentials file {}", path.display()))?;
        let mut in_default = false;
        let (mut access_key_id, mut secret_access_key, mut file_region) = (None, None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                in_default = line == "[default]";
                continue;
            }
            let Some((name, value)) = line.split_once('=') else {
                continue;
            };
            if !in_default {
                continue;
            }
            let value = Some(value.trim().to_string());
            match name.trim() {
                "aws_access_key_id" => access_key_id = value,
                "aws_secret_access_key" => secret_access_key = value,
                "region" => file_region = value,
                _ => {}
            }
        }
        let (Some(access_key_id), Some(secret_access_key)) = (access_key_id, secret_access_key)
        else {
            bail!(
                "{}: profile [default] lacks aws_access_key_id or aws_secret_access_key",
                path.display()
            );
        };
        Ok(Credentials {
            access_key_id,
            secret_access_key,
            region: region
                .map(str::to_string)
                .or(file_region)
                .unwrap_or_else(|| "us-east-1".into()),
        })
    }
}

/// A reachable server: its socket address, the `Host` header clients send
/// (SigV4 signs it), the credentials, and its process id when we can see it.
#[derive(Debug, Clone)]
pub struct Target {
    /// `keyward` or `moto`, used in the report.
    pub name: String,
    pub addr: SocketAddr,
    pub host: String,
    pub credentials: Credentials,
    /// Set when the server was started here, to report its CPU use.
    pub pid: Option<u32>,
    /// How the benchmark key is set up on this target.
    pub key_setup: crate::workload::KeySetup,
}

impl Target {
    /// A target at `url` (`http://host:port`; plain HTTP only, as the load is
    /// meant to measure the service, not TLS).
    pub fn from_url(name: &str, url: &str, credentials: Credentials) -> anyhow::Result<Target> {
        let Some(rest) = url.strip_prefix("http://") else {
            bail!("{url}: only http:// endpoints are supported");
        };
        let host = rest.trim_end_matches('/');
        if host.contains('/') {
            bail!("{url}: the endpoint must not have a path");
        }
        let addr = host
            .to_socket_addrs()
            .with_context(|| format!("resolving {host}"))?
            .next()
            .with_context(|| format!("{host} resolves to no address"))?;
        Ok(Target {
            name: name.to_string(),
            addr,
            host: host.to_string(),
            credentials,
            pid: None,
            key_setup: crate::workload::KeySetup::DefaultPolicy,
        })
    }
}
