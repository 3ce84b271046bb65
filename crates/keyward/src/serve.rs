//! `keyward serve`: open the data directory, build the service, listen.

use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use keyward_kms::{Clock, Kms};
use keyward_server::{AppState, Authenticator};
use keyward_store::DataDir;

use crate::bootstrap::bootstrap;
use crate::cli::ServeArgs;

pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let settings = args.resolve()?;
    init_logging(settings.json_logs);
    let loopback = settings.listen.ip().is_loopback();
    if settings.dev && !loopback {
        bail!(
            "--dev accepts any credentials and is refused on {}: listen on a loopback address",
            settings.listen
        );
    }
    if !loopback {
        bail!(
            "refusing to listen on {} without TLS: keyward serves plain HTTP on loopback addresses only",
            settings.listen
        );
    }
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
    let kms = Arc::new(
        Kms::open(
            store,
            &snapshot,
            data_dir.root_key.clone(),
            &identity.region,
            Arc::clone(&clock),
        )
        .context("loading keys")?,
    );
    drop(snapshot);
    let auth = Authenticator::new(
        identity.access_keys,
        settings.dev,
        identity.admin,
        &identity.region,
    );
    let state = Arc::new(AppState {
        kms: Arc::clone(&kms),
        auth,
    });

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the runtime")?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(settings.listen)
            .await
            .with_context(|| format!("binding {}", settings.listen))?;
        let address = listener.local_addr().context("reading the bound address")?;
        tracing::info!(
            %address,
            data_dir = %settings.data_dir.display(),
            account_id = identity.account_id,
            region = identity.region,
            dev = settings.dev,
            "keyward started"
        );
        // Test harnesses and scripts wait for this exact line.
        let mut stdout = std::io::stdout();
        writeln!(stdout, "keyward listening on http://{address}").context("writing to stdout")?;
        stdout.flush().context("writing to stdout")?;
        let background = tokio::spawn(keyward_server::run_background(
            kms,
            Duration::from_secs(settings.background_interval_seconds),
        ));
        axum::serve(listener, keyward_server::app(state))
            .with_graceful_shutdown(shutdown_signal())
            .await
            .context("serving")?;
        background.abort();
        tracing::info!("keyward stopped");
        Ok::<(), anyhow::Error>(())
    })?;
    drop(data_dir);
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
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if json {
        builder.json().init();
    } else {
        builder.init();
    }
}
