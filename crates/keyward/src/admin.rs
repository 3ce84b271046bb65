//! `keyward admin`: operator commands against a *running* server.
//!
//! The data directory is locked while the server runs, so these commands do
//! not open it: they make a SigV4-signed call to the server as the default
//! account's root user (the credentials `serve` wrote to
//! `<data-dir>/admin-credentials`). The server refuses the call for anyone
//! else with AccessDenied.
//!
//! `create-account` calls the keyward-specific Query action `CreateAccount`
//! on the IAM endpoint (signed for `iam` in `us-east-1`, as IAM requests
//! are), and writes the new account's root credentials as an AWS CLI
//! credentials file (profile `default`, mode 0600).
//!
//! The HTTP client is deliberately minimal — one HTTP/1.1 request, over TCP
//! or over TLS (rustls with AWS-LC, as the server) trusting only the
//! certificates of `--ca-bundle` (or `AWS_CA_BUNDLE`, as the AWS CLI): a
//! self-hosted keyward usually has its own certificate authority.

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use keyward_sigv4::{format_amz_date, sign, RequestParts};
use keyward_store::write_secret_file;
use zeroize::Zeroizing;

use crate::bootstrap::{CREDENTIALS_FILE, DEFAULT_REGION};
use crate::cli::{AdminArgs, AdminCommand, CreateAccountArgs};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read back; a CreateAccount response is under 1 KiB.
const MAX_RESPONSE_BYTES: u64 = 1024 * 1024;

pub fn run(args: AdminArgs) -> anyhow::Result<()> {
    match args.command {
        AdminCommand::CreateAccount(args) => create_account(&args),
    }
}

/// An access key pair (and region) from a credentials file profile.
struct Profile {
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
    region: Option<String>,
}

fn read_profile(path: &Path, profile: &str) -> anyhow::Result<Profile> {
    let text = Zeroizing::new(
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
    );
    let mut in_profile = false;
    let (mut access_key_id, mut secret, mut region) = (None, None, None);
    for line in text.lines() {
        let line = line.trim();
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            in_profile = name.trim() == profile;
            continue;
        }
        if !in_profile {
            continue;
        }
        if let Some((key, value)) = line.split_once('=') {
            let value = value.trim().to_string();
            match key.trim() {
                "aws_access_key_id" => access_key_id = Some(value),
                "aws_secret_access_key" => secret = Some(Zeroizing::new(value)),
                "region" => region = Some(value),
                _ => {}
            }
        }
    }
    match (access_key_id, secret) {
        (Some(access_key_id), Some(secret_access_key)) => Ok(Profile {
            access_key_id,
            secret_access_key,
            region,
        }),
        _ => bail!(
            "{} has no profile [{profile}] with aws_access_key_id and aws_secret_access_key",
            path.display()
        ),
    }
}

fn form_component(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The text of `<tag>…</tag>` in `xml` (unescaped for the few entities AWS uses).
fn element(xml: &str, tag: &str) -> Option<String> {
    let start = xml.find(&format!("<{tag}>"))? + tag.len() + 2;
    let end = start + xml.get(start..)?.find(&format!("</{tag}>"))?;
    Some(
        xml.get(start..end)?
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&amp;", "&"),
    )
}

fn create_account(args: &CreateAccountArgs) -> anyhow::Result<()> {
    let credentials_file = args
        .credentials_file
        .clone()
        .unwrap_or_else(|| args.data_dir.join(CREDENTIALS_FILE));
    let admin = read_profile(&credentials_file, &args.profile)?;
    // The secret is shown once: make sure it can be written before asking for it.
    if let Some(parent) = args.output.as_deref().and_then(Path::parent) {
        if !parent.as_os_str().is_empty() && !parent.is_dir() {
            bail!("{} is not a directory", parent.display());
        }
    }
    let mut body = "Action=CreateAccount&Version=2010-05-08".to_string();
    if let Some(account_id) = &args.account_id {
        body.push_str(&format!("&AccountId={}", form_component(account_id)));
    }
    let answer = signed_post(&args.endpoint_url, args.ca_bundle.as_deref(), &admin, &body)?;
    if answer.status != 200 {
        let code = element(&answer.body, "Code").unwrap_or_else(|| "error".into());
        let message = element(&answer.body, "Message").unwrap_or_else(|| answer.body.clone());
        bail!(
            "the server refused CreateAccount (HTTP {}): {code}: {message}",
            answer.status
        );
    }
    let (Some(account_id), Some(access_key_id), Some(secret)) = (
        element(&answer.body, "AccountId"),
        element(&answer.body, "AccessKeyId"),
        element(&answer.body, "SecretAccessKey").map(Zeroizing::new),
    ) else {
        bail!("unexpected CreateAccount answer from the server");
    };
    let region = args
        .region
        .clone()
        .or(admin.region)
        .unwrap_or_else(|| DEFAULT_REGION.to_string());
    let output = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("account-{account_id}-credentials")));
    // `write_secret_file` syncs the parent directory, which a bare file name lacks.
    let output = if output.is_absolute() {
        output
    } else {
        std::env::current_dir()
            .context("finding the current directory")?
            .join(output)
    };
    let text = Zeroizing::new(format!(
        "[default]\naws_access_key_id = {access_key_id}\naws_secret_access_key = {}\nregion = {region}\n",
        secret.as_str()
    ));
    write_secret_file(&output, text.as_bytes())
        .with_context(|| format!("writing {}", output.display()))?;
    println!(
        "created account {account_id} (root access key {access_key_id}); credentials written to {}",
        output.display()
    );
    Ok(())
}

struct Answer {
    status: u16,
    body: String,
}

/// POSTs a form body to `endpoint`, signed as `profile` for IAM.
fn signed_post(
    endpoint: &str,
    ca_bundle: Option<&Path>,
    profile: &Profile,
    body: &str,
) -> anyhow::Result<Answer> {
    let (tls, authority) = if let Some(rest) = endpoint.strip_prefix("http://") {
        (false, rest.trim_end_matches('/'))
    } else if let Some(rest) = endpoint.strip_prefix("https://") {
        (true, rest.trim_end_matches('/'))
    } else {
        bail!("--endpoint-url must be http://HOST:PORT or https://HOST:PORT, not {endpoint}");
    };
    if authority.contains('/') {
        bail!("--endpoint-url must have no path: {endpoint}");
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    let amz_date = format_amz_date(now);
    let content_type = "application/x-www-form-urlencoded; charset=utf-8";
    let headers = [
        ("content-type", content_type),
        ("host", authority),
        ("x-amz-date", amz_date.as_str()),
    ];
    let parts = RequestParts {
        method: "POST",
        path: "/",
        query: "",
        headers: &headers,
        body: body.as_bytes(),
    };
    let authorization = sign(
        &parts,
        &profile.access_key_id,
        &profile.secret_access_key,
        "us-east-1",
        "iam",
        &amz_date,
    );
    let address = authority
        .to_socket_addrs()
        .with_context(|| format!("resolving {authority}"))?
        .next()
        .with_context(|| format!("{authority} has no address"))?;
    let tcp = TcpStream::connect_timeout(&address, TIMEOUT)
        .with_context(|| format!("connecting to {endpoint}"))?;
    tcp.set_read_timeout(Some(TIMEOUT)).context("socket")?;
    tcp.set_write_timeout(Some(TIMEOUT)).context("socket")?;
    let mut stream: Box<dyn ReadWrite> = if tls {
        Box::new(tls_stream(tcp, authority, ca_bundle)?)
    } else {
        Box::new(tcp)
    };
    let request = format!(
        "POST / HTTP/1.1\r\nhost: {authority}\r\ncontent-type: {content_type}\r\nx-amz-date: {amz_date}\r\nauthorization: {authorization}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .with_context(|| format!("sending to {endpoint}"))?;
    let mut raw = Vec::new();
    let read = stream
        .as_mut()
        .take(MAX_RESPONSE_BYTES)
        .read_to_end(&mut raw);
    // A server may close a TLS connection without close_notify once it has
    // answered `Connection: close`; what arrived is still the whole answer.
    if let Err(error) = read {
        if raw.is_empty() || error.kind() != std::io::ErrorKind::UnexpectedEof {
            return Err(error).with_context(|| format!("reading the answer of {endpoint}"));
        }
    }
    let raw = String::from_utf8_lossy(&raw);
    let Some((head, rest)) = raw.split_once("\r\n\r\n") else {
        bail!("malformed HTTP answer from {endpoint}");
    };
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .with_context(|| format!("malformed HTTP status line from {endpoint}"))?;
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_string()
    };
    Ok(Answer { status, body })
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A TLS client connection over `tcp` that trusts only `ca_bundle`.
fn tls_stream(
    tcp: TcpStream,
    authority: &str,
    ca_bundle: Option<&Path>,
) -> anyhow::Result<rustls::StreamOwned<rustls::ClientConnection, TcpStream>> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, ServerName};

    let Some(ca_bundle) = ca_bundle else {
        bail!("an https:// endpoint needs --ca-bundle (or AWS_CA_BUNDLE): the PEM certificate(s) to trust");
    };
    let mut roots = rustls::RootCertStore::empty();
    let mut pinned = Vec::new();
    for certificate in CertificateDer::pem_file_iter(ca_bundle)
        .with_context(|| format!("reading {}", ca_bundle.display()))?
    {
        let certificate =
            certificate.with_context(|| format!("parsing {}", ca_bundle.display()))?;
        pinned.push(certificate.as_ref().to_vec());
        roots
            .add(certificate)
            .with_context(|| format!("using a certificate of {}", ca_bundle.display()))?;
    }
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        std::sync::Arc::new(roots),
        provider.clone(),
    )
    .build()
    .context("TLS certificate verifier")?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS configuration")?
        .dangerous()
        .with_custom_certificate_verifier(std::sync::Arc::new(BundleVerifier { webpki, pinned }))
        .with_no_client_auth();
    let host = match authority.rsplit_once(':') {
        Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
        _ => authority,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let name = ServerName::try_from(host.to_string())
        .with_context(|| format!("{host} is not a valid TLS server name"))?;
    let connection =
        rustls::ClientConnection::new(std::sync::Arc::new(config), name).context("starting TLS")?;
    Ok(rustls::StreamOwned::new(connection, tcp))
}

/// WebPKI verification against the bundle, plus one case WebPKI refuses:
/// the server presents exactly a certificate of the bundle that is its own
/// CA (`openssl req -x509` makes such self-signed certificates, and the AWS
/// CLI accepts them through `AWS_CA_BUNDLE`). Pinning the exact bytes is at
/// least as strict as trusting them as a CA; the handshake signature is still
/// verified with the certificate's key.
#[derive(Debug)]
struct BundleVerifier {
    webpki: std::sync::Arc<rustls::client::WebPkiServerVerifier>,
    pinned: Vec<Vec<u8>>,
}

impl rustls::client::danger::ServerCertVerifier for BundleVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &rustls::pki_types::CertificateDer<'_>,
        intermediates: &[rustls::pki_types::CertificateDer<'_>],
        server_name: &rustls::pki_types::ServerName<'_>,
        ocsp_response: &[u8],
        now: rustls::pki_types::UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        match self.webpki.verify_server_cert(
            end_entity,
            intermediates,
            server_name,
            ocsp_response,
            now,
        ) {
            Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Other(_)))
                if self
                    .pinned
                    .iter()
                    .any(|p| p.as_slice() == end_entity.as_ref()) =>
            {
                Ok(rustls::client::danger::ServerCertVerified::assertion())
            }
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &rustls::pki_types::CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        self.webpki.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.webpki.supported_verify_schemes()
    }
}

/// Joins an HTTP/1.1 chunked body.
fn dechunk(mut rest: &str) -> String {
    let mut out = String::new();
    while let Some((size_line, after)) = rest.split_once("\r\n") {
        let size = usize::from_str_radix(size_line.split(';').next().unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if size == 0 {
            break;
        }
        out.push_str(after.get(..size).unwrap_or(after));
        rest = after.get(size..).unwrap_or("").trim_start_matches("\r\n");
    }
    out
}
