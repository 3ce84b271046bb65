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
use crate::cli::{ServeArgs, Settings};

/// How long in-flight requests may take to finish after SIGTERM.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(settings.json_logs);
    check_exposure(&settings)?;
    let data_dir = DataDir::open(&settings.data_dir)
        .with_context(|| format!("opening the data directory {}", settings.data_dir.display()))?;
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
    let trail = open_trail(&settings, &data_dir, &clock)?;
    let state = Arc::new(AppState::new(
        Arc::clone(&kms),
        Arc::new(auth),
        settings.tls.is_some(),
        timeout,
        trail.clone(),
        Arc::new(keyward_server::metrics::Metrics::new()),
    ));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    let background_trail = trail.clone();
    runtime.block_on(async move {
        let handle = Handle::new();
        tokio::spawn({
            let handle = handle.clone();
            async move {
                shutdown_signal().await;
                tracing::info!("shutting down");
                handle.graceful_shutdown(Some(SHUTDOWN_GRACE));
            }
        });
        // Connect info gives each request its peer address (`aws:SourceIp`).
        let app = keyward_server::app(state)
            .into_make_service_with_connect_info::<std::net::SocketAddr>();
        let (scheme, server) = match &settings.tls {
            Some((cert, key)) => {
                // One process-wide crypto provider for rustls: AWS-LC, as for the rest of keyward.
                let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
                let config = RustlsConfig::from_pem_file(cert, key)
                    .await
                    .with_context(|| {
                        format!(
                            "loading TLS certificate {} and key {}",
                            cert.display(),
                            key.display()
                        )
                    })?;
                let acceptor = RustlsAcceptor::new(config)
                    .handshake_timeout(timeout)
                    .acceptor(NoDelayAcceptor::new());
                let mut server = axum_server::bind(settings.listen)
                    .acceptor(acceptor)
                    .first_request_timeout(timeout);
                with_timeouts(server.http_builder(), timeout);
                let server = server.handle(handle.clone()).serve(app);
                ("https", tokio::spawn(server))
            }
            None => {
                let mut server = axum_server::bind(settings.listen)
                    .acceptor(NoDelayAcceptor::new())
                    .first_request_timeout(timeout);
                with_timeouts(server.http_builder(), timeout);
                (
                    "http",
                    tokio::spawn(server.handle(handle.clone()).serve(app)),
                )
            }
        };
        let Some(address) = handle.listening().await else {
            let outcome = server.await.context("server task")?;
            outcome.with_context(|| format!("binding {}", settings.listen))?;
            bail!("the server stopped before listening");
        };
        tracing::info!(
            %address,
            data_dir = %settings.data_dir.display(),
            account_id = identity.account_id,
            region = identity.region,
            dev = settings.dev,
            tls = settings.tls.is_some(),
            "keyward started"
        );
        // Test harnesses and scripts wait for this exact line.
        let mut stdout = std::io::stdout();
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
