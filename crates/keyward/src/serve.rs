//! `keyward serve`: open the data directory, build the service, listen.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum_server::accept::NoDelayAcceptor;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use axum_server::Handle;
use keyward_identity::Identities;
use keyward_kms::Kms;
use keyward_principal::Clock;
use keyward_server::{AppState, Authenticator};
use keyward_store::DataDir;

use crate::bootstrap::bootstrap;
use crate::cli::{MetricsListen, ServeArgs, Settings};

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(settings.json_logs);
    check_exposure(&settings)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    // What can refuse the start without touching the data directory comes
    // first — the listening socket, the TLS files — so that such a failure
    // leaves no freshly initialized directory (root key, random account id)
    // for the retry to trip over.
    let listener = std::net::TcpListener::bind(settings.listen)
        .with_context(|| format!("binding {}", settings.listen))?;
    let metrics_listener = bind_metrics(settings.metrics_listen)?;
    let tls = match &settings.tls {
        Some((cert, key)) => Some(runtime.block_on(load_tls(cert, key))?),
        None => None,
    };
    let before = DataDirBefore::look(&settings.data_dir)?;
    let data_dir = DataDir::open(&settings.data_dir)
        .with_context(|| format!("opening the data directory {}", settings.data_dir.display()))?;
    let created = data_dir.created;
    let mut listening = false;
    let listeners = Listeners {
        api: listener,
        metrics: metrics_listener,
    };
    let outcome = serve(
        &settings,
        &runtime,
        data_dir,
        listeners,
        tls,
        &mut listening,
    );
    if outcome.is_err() && created && !listening {
        // `serve` has closed the directory (lock, database, trail) by now.
        before.remove_what_was_added(&settings.data_dir);
    }
    outcome
}

/// The sockets `keyward serve` listens on, bound before anything else.
struct Listeners {
    api: std::net::TcpListener,
    /// `None`: metrics are off, or the default port was taken.
    metrics: Option<std::net::TcpListener>,
}

/// Binds the metrics listener. The default address is a convenience: when
/// another keyward on the host holds it, this one starts without metrics
/// and says so; an address the operator chose must be bound.
fn bind_metrics(listen: MetricsListen) -> anyhow::Result<Option<std::net::TcpListener>> {
    match listen {
        MetricsListen::Off => Ok(None),
        MetricsListen::Explicit(address) => std::net::TcpListener::bind(address)
            .map(Some)
            .with_context(|| format!("binding the metrics listener {address}")),
        MetricsListen::Default(address) => match std::net::TcpListener::bind(address) {
            Ok(listener) => Ok(Some(listener)),
            Err(error) => {
                tracing::warn!(%address, %error, "the default metrics address is taken: serving without /metrics (choose one with --metrics-listen)");
                Ok(None)
            }
        },
    }
}

/// Loads the TLS certificate chain and key (AWS-LC as rustls's provider).
async fn load_tls(cert: &std::path::Path, key: &std::path::Path) -> anyhow::Result<RustlsConfig> {
    // One process-wide crypto provider for rustls: AWS-LC, as for the rest of keyward.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    RustlsConfig::from_pem_file(cert, key)
        .await
        .with_context(|| {
            format!(
                "loading TLS certificate {} and key {}",
                cert.display(),
                key.display()
            )
        })
}

/// What a data directory held before this start, so that a first start
/// that fails before it listens can take back what it added.
struct DataDirBefore {
    existed: bool,
    entries: std::collections::BTreeSet<std::ffi::OsString>,
}

impl DataDirBefore {
    fn look(path: &std::path::Path) -> anyhow::Result<DataDirBefore> {
        match std::fs::read_dir(path) {
            Ok(read) => Ok(DataDirBefore {
                existed: true,
                entries: read
                    .map(|entry| entry.map(|e| e.file_name()))
                    .collect::<Result<_, _>>()
                    .with_context(|| format!("reading the data directory {}", path.display()))?,
            }),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(DataDirBefore {
                existed: false,
                entries: Default::default(),
            }),
            Err(error) => {
                Err(error).with_context(|| format!("reading the data directory {}", path.display()))
            }
        }
    }

    /// Removes the entries this start added to `path` (and `path` itself if
    /// this start created it). Failures are logged: the start's own error is
    /// the one to report.
    fn remove_what_was_added(&self, path: &std::path::Path) {
        let Ok(read) = std::fs::read_dir(path) else {
            return;
        };
        for entry in read.flatten() {
            if self.entries.contains(&entry.file_name()) {
                continue;
            }
            let added = entry.path();
            let removed = if entry.file_type().is_ok_and(|t| t.is_dir()) {
                std::fs::remove_dir_all(&added)
            } else {
                std::fs::remove_file(&added)
            };
            if let Err(error) = removed {
                tracing::warn!(path = %added.display(), %error, "could not remove what the failed start created");
            }
        }
        if !self.existed {
            if let Err(error) = std::fs::remove_dir(path) {
                tracing::warn!(path = %path.display(), %error, "could not remove the data directory the failed start created");
            }
        }
        tracing::info!(data_dir = %path.display(), "the start failed; the data directory is as it was before it");
    }
}

/// Builds the service on the opened data directory and serves on
/// `listener` until shutdown. `listening` turns true once the server
/// accepts requests.
fn serve(
    settings: &Settings,
    runtime: &tokio::runtime::Runtime,
    data_dir: DataDir,
    listeners: Listeners,
    tls: Option<RustlsConfig>,
    listening: &mut bool,
) -> anyhow::Result<()> {
    let clock = Arc::new(Clock::new());
    let (identity, snapshot) = bootstrap(
        &data_dir,
        settings.account_id.as_deref(),
        settings.region.as_deref(),
        clock.now_ms(),
    )?;
    let store: Arc<dyn keyward_store::Store> = data_dir.store.clone();
    // Identities share the store, the root key and the clock with the KMS
    // (the dev clock expires STS sessions too).
    let identities = Arc::new(
        Identities::open(
            Arc::clone(&store),
            &snapshot,
            data_dir.root_key.clone(),
            Arc::clone(&clock),
            &identity.account_id,
        )
        .context("loading identities")?,
    );
    // The KMS asks the identity domain whether principals named in key
    // policies and grants exist (AWS refuses ones that do not).
    let directory: Arc<dyn keyward_principal::PrincipalDirectory> = identities.clone();
    let kms = Arc::new(
        Kms::open(
            store,
            &snapshot,
            data_dir.root_key.clone(),
            &identity.region,
            Arc::clone(&clock),
        )
        .context("loading keys")?
        .with_directory(directory),
    );
    drop(snapshot);
    let auth = Authenticator::new(Arc::clone(&identities), settings.dev, &identity.region);
    let timeout = settings.request_timeout;
    let trail = open_trail(settings, &data_dir, &clock)?;
    let state = Arc::new(AppState::new(
        Arc::clone(&kms),
        Arc::new(auth),
        tls.is_some(),
        timeout,
        trail.clone(),
        Arc::new(keyward_server::metrics::Metrics::new()),
    ));

    let background_trail = trail.clone();
    runtime.block_on(async move {
        let handle = Handle::new();
        let metrics_handle = Handle::new();
        tokio::spawn({
            let handle = handle.clone();
            let metrics_handle = metrics_handle.clone();
            async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
                metrics_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            }
        });
        let metrics_app = keyward_server::metrics_app(Arc::clone(&state));
        // Connect info gives each request its peer address (`aws:SourceIp`).
        let app = keyward_server::app(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let metrics_server = match listeners.metrics {
            None => None,
            Some(listener) => {
                let address = listener.local_addr().context("the metrics listener")?;
                let mut server = axum_server::from_tcp(listener)
                    .with_context(|| format!("listening on {address}"))?
                    .first_request_timeout(timeout);
                with_timeouts(server.http_builder(), timeout);
                let server = server.handle(metrics_handle.clone());
                let (scheme, task) = match &tls {
                    Some(config) => {
                        let acceptor = RustlsAcceptor::new(config.clone())
                            .handshake_timeout(timeout)
                            .acceptor(NoDelayAcceptor::new());
                        (
                            "https",
                            tokio::spawn(
                                server
                                    .acceptor(acceptor)
                                    .serve(metrics_app.into_make_service()),
                            ),
                        )
                    }
                    None => (
                        "http",
                        tokio::spawn(
                            server
                                .acceptor(NoDelayAcceptor::new())
                                .serve(metrics_app.into_make_service()),
                        ),
                    ),
                };
                Some((scheme, address, task))
            }
        };
        let mut server = axum_server::from_tcp(listeners.api)
            .with_context(|| format!("listening on {}", settings.listen))?
            .first_request_timeout(timeout);
        with_timeouts(server.http_builder(), timeout);
        let server = server.handle(handle.clone());
        let (scheme, server) = match tls {
            Some(config) => {
                let acceptor = RustlsAcceptor::new(config)
                    .handshake_timeout(timeout)
                    .acceptor(NoDelayAcceptor::new());
                ("https", tokio::spawn(server.acceptor(acceptor).serve(app)))
            }
            None => (
                "http",
                tokio::spawn(server.acceptor(NoDelayAcceptor::new()).serve(app)),
            ),
        };
        let Some(address) = handle.listening().await else {
            let outcome = server.await.context("server task")?;
            outcome.with_context(|| format!("serving on {}", settings.listen))?;
            bail!("the server stopped before listening");
        };
        *listening = true;
        tracing::info!(
            %address,
            data_dir = %settings.data_dir.display(),
            account_id = identity.account_id,
            region = identity.region,
            dev = settings.dev,
            tls = settings.tls.is_some(),
            "keyward started"
        );
        // Test harnesses and scripts wait for the listening line, so the
        // metrics line comes first.
        let mut stdout = std::io::stdout();
        if let Some((metrics_scheme, metrics_address, _)) = &metrics_server {
            tracing::info!(address = %metrics_address, "metrics listener started");
            writeln!(
                stdout,
                "keyward metrics on {metrics_scheme}://{metrics_address}"
            )
            .context("writing to stdout")?;
        }
        writeln!(stdout, "keyward listening on {scheme}://{address}")
            .context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
        let background = tokio::spawn(keyward_server::run_background(
            kms,
            background_trail,
            Duration::from_secs(settings.background_interval_seconds),
        ));
        let outcome = server.await.context("server task")?;
        background.abort();
        if let Some((_, _, metrics)) = metrics_server {
            metrics_handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            metrics
                .await
                .context("metrics server task")?
                .context("serving metrics")?;
        }
        outcome.context("serving")?;
        tracing::info!("keyward stopped");
        Ok::<(), anyhow::Error>(())
    })?;
    // Every answered call's event is already durable; this signs the final
    // digest, so that even the last events are vouched for.
    if let Some(trail) = trail {
        trail.shutdown().context("closing the audit trail")?;
    }
    drop(data_dir);
    Ok(())
}

/// Opens the audit trail (`trail/` in the data directory), unless the
/// benchmark-only switch turned it off.
fn open_trail(
    settings: &Settings,
    data_dir: &DataDir,
    clock: &Arc<Clock>,
) -> anyhow::Result<Option<Arc<keyward_trail::Trail>>> {
    if settings.trail_disabled {
        tracing::warn!(
            "--benchmark-only-disable-trail: API calls are NOT recorded in the audit trail"
        );
        return Ok(None);
    }
    let clock = Arc::clone(clock);
    let config = keyward_trail::TrailConfig {
        digest_interval: settings.trail_digest_interval,
        retention: settings.trail_retention,
        segment_bytes: settings.trail_segment_bytes,
        // The service clock, so that --dev time travel moves digests and
        // retention along with key deletion.
        now: Arc::new(move || {
            time::OffsetDateTime::from_unix_timestamp(clock.now_ms().div_euclid(1000))
                .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
        }),
        ..keyward_trail::TrailConfig::new()
    };
    let trail =
        keyward_trail::Trail::open(&data_dir.path, config).context("opening the audit trail")?;
    Ok(Some(Arc::new(trail)))
}

/// Slow or idle clients must not hold connections forever: a new connection
/// must complete its TLS handshake and first request within `timeout`
/// (`first_request_timeout`, set on the server); HTTP/1 connections must
/// deliver each later request's headers within `timeout` (which also closes
/// idle keep-alive connections); HTTP/2 connections answer keep-alive pings
/// or are closed. The body has its own timeout in the handler. Accepted
/// sockets get TCP_NODELAY: small request/response exchanges on keep-alive
/// connections must not wait for Nagle's algorithm.
fn with_timeouts(
    builder: &mut hyper_util::server::conn::auto::Builder<hyper_util::rt::TokioExecutor>,
    timeout: Duration,
) {
    builder.http1().header_read_timeout(Some(timeout));
    builder
        .http2()
        .keep_alive_interval(Some(timeout))
        .keep_alive_timeout(timeout);
}

/// Plain HTTP only on loopback, and `--dev` (any credentials) only there too.
fn check_exposure(settings: &Settings) -> anyhow::Result<()> {
    let loopback = settings.listen.ip().is_loopback();
    if settings.dev && !loopback {
        bail!(
            "--dev accepts any credentials and is refused on {}: listen on a loopback address",
            settings.listen
        );
    }
    if let Some(metrics) = settings.metrics_listen.address() {
        if !metrics.ip().is_loopback() && settings.tls.is_none() {
            bail!(
                "refusing to serve /metrics in plain HTTP on {metrics}: off loopback, TLS is required (--tls-cert and --tls-key)"
            );
        }
    }
    if !loopback && settings.tls.is_none() {
        bail!(
            "refusing to serve plain HTTP on {}: off loopback, TLS is required (--tls-cert and --tls-key)",
            settings.listen
        );
    }
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}

fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("KEYWARD_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
