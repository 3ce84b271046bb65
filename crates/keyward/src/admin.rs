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
//! The request goes through hyper's client, over TCP or over TLS (rustls
//! with AWS-LC, as the server) trusting only the certificates of
//! `--ca-bundle` (or `AWS_CA_BUNDLE`, as the AWS CLI): a self-hosted keyward
//! usually has its own certificate authority. The answer is read with
//! quick-xml. The signature is keyward-sigv4's, as the server verifies it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use keyward_sigv4::{format_amz_date, sign, RequestParts};
use keyward_store::write_secret_file;
use serde::Deserialize;
use zeroize::Zeroizing;

use crate::bootstrap::{CREDENTIALS_FILE, DEFAULT_REGION};
use crate::cli::{AdminArgs, AdminCommand, CreateAccountArgs};

/// The whole call (connecting, sending, reading the answer) must end within this.
const TIMEOUT: Duration = Duration::from_secs(30);
/// The largest answer read back; a CreateAccount response is under 1 KiB.
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

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
        let text = String::from_utf8_lossy(&answer.body);
        let (code, message) = match quick_xml::de::from_str::<ErrorResponse>(&text) {
            Ok(ErrorResponse { error }) => (error.code, error.message.unwrap_or_default()),
            Err(_) => ("error".to_owned(), text.into_owned()),
        };
        bail!(
            "the server refused CreateAccount (HTTP {}): {code}: {message}",
            answer.status
        );
    }
    let created: CreateAccountResponse = std::str::from_utf8(&answer.body)
        .ok()
        .and_then(|text| quick_xml::de::from_str(text).ok())
        .context("unexpected CreateAccount answer from the server")?;
    let CreateAccountResult {
        account_id,
        access_key_id,
        secret_access_key: secret,
    } = created.result;
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

/// `<CreateAccountResponse>`: what the server answers (iam_api/mod.rs);
/// other elements (`ResponseMetadata`) are not read.
#[derive(Deserialize)]
struct CreateAccountResponse {
    #[serde(rename = "CreateAccountResult")]
    result: CreateAccountResult,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CreateAccountResult {
    account_id: String,
    access_key_id: String,
    secret_access_key: Zeroizing<String>,
}

/// A Query protocol error: `<ErrorResponse><Error><Type>…</Type>
/// <Code>…</Code><Message>…</Message></Error><RequestId>…</RequestId>
/// </ErrorResponse>` (query/error.rs).
#[derive(Deserialize)]
struct ErrorResponse {
    #[serde(rename = "Error")]
    error: ErrorDetail,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorDetail {
    code: String,
    message: Option<String>,
}

struct Answer {
    status: u16,
    /// Holds the new account's secret on success.
    body: Zeroizing<Vec<u8>>,
}

/// POSTs a form body to `endpoint`, signed as `profile` for IAM.
fn signed_post(
    endpoint: &str,
    ca_bundle: Option<&Path>,
    profile: &Profile,
    body: &str,
) -> anyhow::Result<Answer> {
    let uri: http::Uri = endpoint.parse().with_context(|| {
        format!("--endpoint-url must be http://HOST:PORT or https://HOST:PORT, not {endpoint}")
    })?;
    let scheme = match uri.scheme_str() {
        Some(scheme @ ("http" | "https")) => scheme,
        _ => bail!("--endpoint-url must be http://HOST:PORT or https://HOST:PORT, not {endpoint}"),
    };
    let Some(authority) = uri.authority().map(|a| a.as_str().to_owned()) else {
        bail!("--endpoint-url must be http://HOST:PORT or https://HOST:PORT, not {endpoint}");
    };
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
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
        ("host", authority.as_str()),
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
    // The Host header is set here, as signed; hyper's client leaves a
    // request's own Host as it is.
    let request = http::Request::post(format!("{scheme}://{authority}/"))
        .header(http::header::HOST, &authority)
        .header(http::header::CONTENT_TYPE, content_type)
        .header("x-amz-date", &amz_date)
        .header(http::header::AUTHORIZATION, authorization)
        .body(Full::new(Bytes::copy_from_slice(body.as_bytes())))
        .context("building the request")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the HTTP client's runtime")?;
    if scheme == "https" {
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls_config(ca_bundle)?)
            .https_only()
            .enable_http1()
            .build();
        runtime.block_on(send(connector, request, endpoint))
    } else {
        runtime.block_on(send(HttpConnector::new(), request, endpoint))
    }
}

/// Sends `request` to `endpoint` and reads the whole answer, within [`TIMEOUT`].
async fn send<C>(
    connector: C,
    request: http::Request<Full<Bytes>>,
    endpoint: &str,
) -> anyhow::Result<Answer>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let client = Client::builder(TokioExecutor::new()).build(connector);
    let exchange = async {
        let response = client.request(request).await.map_err(|error| {
            let doing = if error.is_connect() {
                "connecting to"
            } else {
                "sending to"
            };
            anyhow::Error::new(error).context(format!("{doing} {endpoint}"))
        })?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|error| anyhow::anyhow!("reading the answer of {endpoint}: {error}"))?
            .to_bytes();
        anyhow::Ok(Answer {
            status,
            body: Zeroizing::new(body.to_vec()),
        })
    };
    tokio::time::timeout(TIMEOUT, exchange).await.map_err(|_| {
        anyhow::anyhow!(
            "no answer from {endpoint} within {} seconds",
            TIMEOUT.as_secs()
        )
    })?
}

/// A TLS client configuration that trusts only `ca_bundle`.
fn tls_config(ca_bundle: Option<&Path>) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::CertificateDer;

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
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .context("TLS certificate verifier")?;
    Ok(rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS configuration")?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(BundleVerifier { webpki, pinned }))
        .with_no_client_auth())
}

/// WebPKI verification against the bundle, plus one case WebPKI refuses:
/// the server presents exactly a certificate of the bundle that is its own
/// CA (`openssl req -x509` makes such self-signed certificates, and the AWS
/// CLI accepts them through `AWS_CA_BUNDLE`). Pinning the exact bytes is at
/// least as strict as trusting them as a CA; the handshake signature is still
/// verified with the certificate's key.
#[derive(Debug)]
struct BundleVerifier {
    webpki: Arc<rustls::client::WebPkiServerVerifier>,
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
