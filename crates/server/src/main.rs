//! `beacon`: the Beacon server. Parses Prometheus-style flags, loads the
//! configuration, serves the HTTP API while the TSDB replays its WAL, then
//! runs until SIGTERM/SIGINT or `/-/quit`, reloading on SIGHUP.

mod alerting;
mod app;
mod config;
mod flags;
mod logging;
mod process;
mod scraping;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use anyhow::{Context, Result};
use beacon_model::parse_duration_ms;
use beacon_promql::EngineOptions;
use beacon_web::promql_engine::PromqlEngine;
use beacon_web::{Api, WebOptions};
use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use tokio::signal::unix::{SignalKind, signal};

use crate::app::App;
use crate::config::ConfigSource;
use crate::flags::Flags;

/// How often the database is asked whether a compaction or retention run
/// is due.
const COMPACTION_CHECK_INTERVAL: Duration = Duration::from_secs(60);

/// How long shutdown waits for in-flight requests before closing the
/// database anyway.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

fn main() {
    let matches = Flags::command().get_matches();
    let explicit_config = matches.value_source("config_file") == Some(ValueSource::CommandLine);
    let flags = match Flags::from_arg_matches(&matches) {
        Ok(f) => f,
        Err(e) => e.exit(),
    };
    logging::init(&flags.log_level, &flags.log_format);
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("beacon: cannot start the async runtime: {e}");
            std::process::exit(1);
        }
    };
    if let Err(e) = rt.block_on(run(flags, explicit_config)) {
        tracing::error!(msg = "Fatal error", err = format!("{e:#}"));
        eprintln!("beacon: {e:#}");
        std::process::exit(1);
    }
}

fn duration_flag(name: &str, v: &str) -> Result<Duration> {
    let ms = parse_duration_ms(v).with_context(|| format!("invalid --{name} {v:?}"))?;
    Ok(Duration::from_millis(ms.max(0) as u64))
}

fn tsdb_options(flags: &Flags) -> Result<beacon_tsdb::Options> {
    let mut o = beacon_tsdb::Options::default();
    if let Some(t) = &flags.retention_time {
        o.retention_ms = parse_duration_ms(t)
            .with_context(|| format!("invalid --storage.tsdb.retention.time {t:?}"))?;
    }
    if let Some(s) = &flags.retention_size {
        o.retention_bytes = flags::parse_bytes(s)
            .with_context(|| format!("invalid --storage.tsdb.retention.size {s:?}: use a number with B, KB, MB, GB, TB, PB or EB"))?;
        if flags.retention_time.is_none() {
            // Prometheus: a size limit alone turns the time limit off.
            o.retention_ms = 0;
        }
    }
    Ok(o)
}

fn web_options(flags: &Flags) -> Result<WebOptions> {
    Ok(WebOptions {
        route_prefix: beacon_web::router::route_prefix(
            flags.route_prefix.as_deref(),
            flags.external_url.as_deref(),
        )?,
        enable_admin: flags.enable_admin_api,
        enable_lifecycle: flags.enable_lifecycle,
        enable_remote_write_receiver: flags.enable_remote_write_receiver,
        cors_origin: beacon_web::router::cors_regex(&flags.cors_origin)?,
        query_timeout: duration_flag("query.timeout", &flags.query_timeout)?,
        max_concurrency: flags.query_max_concurrency,
    })
}

/// How the HTTP listener serves: `--web.config.file` (TLS, basic auth,
/// headers; re-read when it changes), `--web.max-connections` and
/// `--web.read-timeout`. Certificates and hashes are checked now, so a bad
/// file stops start-up with one line naming it.
fn serve_options(flags: &Flags) -> Result<beacon_webserve::ServeOptions> {
    let mut opts = beacon_webserve::ServeOptions::prometheus(None);
    if let Some(path) = &flags.web_config_file {
        opts = opts
            .with_web_config_file(path)
            .with_context(|| format!("loading --web.config.file {}", path.display()))?;
    }
    opts.max_connections = flags.max_connections;
    let read_timeout = duration_flag("web.read-timeout", &flags.read_timeout)?;
    opts.read_timeout = (!read_timeout.is_zero()).then_some(read_timeout);
    beacon_webserve::validate(&opts).with_context(|| match &flags.web_config_file {
        Some(p) => format!("checking --web.config.file {}", p.display()),
        None => "checking the web server settings".to_owned(),
    })?;
    Ok(opts)
}

fn engine(flags: &Flags) -> Result<PromqlEngine> {
    Ok(PromqlEngine::new(engine_options(flags)?))
}

fn engine_options(flags: &Flags) -> Result<EngineOptions> {
    Ok(EngineOptions {
        lookback_delta_ms: duration_flag("query.lookback-delta", &flags.lookback_delta)?.as_millis()
            as i64,
        max_samples: flags.query_max_samples,
        timeout: duration_flag("query.timeout", &flags.query_timeout)?,
        max_concurrent: flags.query_max_concurrency,
        ..EngineOptions::default()
    })
}

/// The URL this server is reached at: `--web.external-url`, or
/// `http://<hostname>:<port>/` from the listen address as Prometheus
/// builds it. Alerts link back to it.
fn external_url(flags: &Flags) -> String {
    if let Some(u) = &flags.external_url {
        return u.clone();
    }
    let port = flags
        .listen_address
        .rsplit_once(':')
        .map_or("9090", |(_, p)| p);
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .unwrap_or_else(|_| "localhost".to_owned());
    format!("http://{host}:{port}/")
}

fn alerting_options(flags: &Flags) -> Result<alerting::AlertingOptions> {
    Ok(alerting::AlertingOptions {
        engine: engine_options(flags)?,
        external_url: external_url(flags),
        resend_delay: duration_flag("rules.alert.resend-delay", &flags.rules_resend_delay)?,
        for_grace_period: duration_flag(
            "rules.alert.for-grace-period",
            &flags.rules_for_grace_period,
        )?,
        outage_tolerance: duration_flag(
            "rules.alert.for-outage-tolerance",
            &flags.rules_for_outage_tolerance,
        )?,
        notifier: beacon_notifier::Options {
            queue_capacity: flags.notification_queue_capacity,
            drain_on_shutdown: flags.drain_notification_queue,
            ..beacon_notifier::Options::default()
        },
    })
}

async fn run(flags: Flags, explicit_config: bool) -> Result<()> {
    tracing::info!(
        msg = "Starting Beacon Server",
        version = env!("CARGO_PKG_VERSION")
    );
    let source = ConfigSource {
        path: flags.config_file.clone(),
        explicit: explicit_config,
    };
    let config = source.load()?;
    tracing::info!(msg = "Loaded configuration file", filename = %config.path.as_ref().map_or_else(|| "(embedded default)".to_owned(), |p| p.display().to_string()));
    if config.path.is_none() {
        tracing::info!(
            msg = "No configuration file found; using the embedded default configuration, which scrapes this server itself",
            filename = %source.path.display()
        );
    }
    let web_opts = web_options(&flags)?;
    let serve_opts = serve_options(&flags)?;
    let alerting_opts = alerting_options(&flags)?;
    let tsdb_opts = tsdb_options(&flags)?;
    let engine = Arc::new(engine(&flags)?);
    let listen = flags.listen_address.clone();
    let app = Arc::new(App::new(flags, source, config));
    let mut api = Api::new(
        Arc::clone(&app.db) as _,
        engine,
        Arc::clone(&app) as _,
        web_opts,
        Arc::clone(&app.ready),
    );
    api.exemplars = Some(Arc::clone(&app.db) as _);
    let api = Arc::new(api);
    let router = beacon_web::router(Arc::clone(&api));
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen} (--web.listen-address)"))?;
    tracing::info!(msg = "Listening on", address = %listener.local_addr().map_or(listen.clone(), |a| a.to_string()));
    let stop = Arc::new(tokio::sync::Notify::new());
    let stop2 = Arc::clone(&stop);
    let server = tokio::spawn(beacon_webserve::serve(
        listener,
        router,
        serve_opts,
        async move { stop2.notified().await },
    ));

    open_db(&app, tsdb_opts).await?;
    api.set_appendable(app.db.get().map(|db| db as _));
    start_scraping(&app).await?;
    start_alerting(&app, alerting_opts).await?;
    let compactor = tokio::spawn(compaction_loop(Arc::clone(&app)));
    wait_for_exit(&app).await?;

    tracing::info!(msg = "Stopping the server");
    app.ready.store(false, Ordering::Release);
    compactor.abort();
    let alerting = app.alerting.write().take();
    if let Some(a) = alerting {
        a.stop().await;
    }
    let scraping = app.scraping.write().take();
    if let Some(s) = scraping {
        s.stop().await;
    }
    api.set_appendable(None);
    stop.notify_waiters();
    stop.notify_one();
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Err(_) => tracing::warn!(msg = "HTTP server did not stop in time; closing storage anyway"),
        Ok(Ok(Err(e))) => tracing::error!(msg = "HTTP server failed", err = %e),
        Ok(_) => {}
    }
    close_db(&app).await
}

async fn open_db(app: &Arc<App>, mut opts: beacon_tsdb::Options) -> Result<()> {
    let path = app.flags.tsdb_path.clone();
    tracing::info!(msg = "Starting TSDB ...", path = %path.display());
    opts.max_exemplars = app::max_exemplars(&app.config.read().config);
    let started = std::time::Instant::now();
    let progress = Arc::clone(&app.replay);
    let db = tokio::task::spawn_blocking(move || {
        beacon_tsdb::Db::open_with_progress(&path, opts, &progress)
    })
    .await
    .context("TSDB open task failed")?
    .with_context(|| format!("opening the TSDB in {}", app.flags.tsdb_path.display()))?;
    app.db.set(db);
    app.ready.store(true, Ordering::Release);
    tracing::info!(
        msg = "TSDB started; Server is ready to receive web requests.",
        duration = ?started.elapsed()
    );
    Ok(())
}

async fn start_scraping(app: &Arc<App>) -> Result<()> {
    let Some(db) = app.db.get() else {
        return Ok(());
    };
    let config = app.config.read().config.clone();
    let s = scraping::Scraping::start(db, &config)
        .await
        .context("starting discovery and scraping")?;
    *app.scraping.write() = Some(Arc::new(s));
    Ok(())
}

/// Loads the rule files and starts the notifier. A bad rule file stops
/// start-up with the file and position named.
async fn start_alerting(app: &Arc<App>, opts: alerting::AlertingOptions) -> Result<()> {
    let Some(db) = app.db.get() else {
        return Ok(());
    };
    let config = app.config.read().config.clone();
    let a = alerting::Alerting::start(Arc::clone(&app.db) as _, db as _, &config, opts).await?;
    *app.alerting.write() = Some(Arc::new(a));
    Ok(())
}

async fn compaction_loop(app: Arc<App>) {
    let mut tick = tokio::time::interval(COMPACTION_CHECK_INTERVAL);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(db) = app.db.get() else { continue };
        match tokio::task::spawn_blocking(move || db.compact_if_needed()).await {
            Ok(Err(e)) => tracing::error!(msg = "Compaction failed", err = %e),
            Err(e) => tracing::error!(msg = "Compaction task failed", err = %e),
            Ok(Ok(_)) => {}
        }
    }
}

/// Waits for SIGTERM, SIGINT or `/-/quit`, handling SIGHUP reloads
/// meanwhile.
async fn wait_for_exit(app: &Arc<App>) -> Result<()> {
    let mut term = signal(SignalKind::terminate()).context("installing the SIGTERM handler")?;
    let mut int = signal(SignalKind::interrupt()).context("installing the SIGINT handler")?;
    let mut hup = signal(SignalKind::hangup()).context("installing the SIGHUP handler")?;
    loop {
        tokio::select! {
            _ = term.recv() => { tracing::warn!(msg = "Received SIGTERM, exiting gracefully..."); return Ok(()); }
            _ = int.recv() => { tracing::warn!(msg = "Received SIGINT, exiting gracefully..."); return Ok(()); }
            _ = app.quit.notified() => { tracing::warn!(msg = "Received termination request via web service, exiting gracefully..."); return Ok(()); }
            _ = hup.recv() => {
                let app = Arc::clone(app);
                // A failed reload is logged and counted; the old config stays.
                let _ = tokio::task::spawn_blocking(move || app.reload_config()).await;
            }
        }
    }
}

async fn close_db(app: &Arc<App>) -> Result<()> {
    let Some(mut db) = app.db.take() else {
        return Ok(());
    };
    // In-flight queries may still hold the database; give them a moment.
    for _ in 0..100 {
        match Arc::try_unwrap(db) {
            Ok(db) => {
                tokio::task::spawn_blocking(move || db.close())
                    .await
                    .context("TSDB close task failed")?
                    .context("closing the TSDB")?;
                tracing::info!(msg = "TSDB closed; see you next time!");
                return Ok(());
            }
            Err(still_shared) => {
                db = still_shared;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    anyhow::bail!(
        "the TSDB is still in use after shutdown; its WAL is intact and will be replayed on the next start"
    )
}
