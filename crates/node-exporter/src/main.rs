//! The `beacon-node-exporter` binary: parses node_exporter's flags, builds
//! the enabled collectors and serves them over HTTP until interrupted.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use beacon_node_exporter::cli::{self, Args, Command};
use beacon_node_exporter::collector;
use beacon_node_exporter::scrape::Registry;
use beacon_node_exporter::server::{self, AppState};
use beacon_node_exporter::web::{self, WebOptions};
use beacon_node_exporter::{log, mem};

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            // One line: what failed, on what, and what to do.
            eprintln!("beacon-node-exporter: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let (rest, switches) = cli::split_collector_flags(std::env::args().collect());
    let args = match Args::parse(rest)? {
        Command::Run(args) => args,
        Command::Help(text) | Command::Version(text) => {
            print!("{text}");
            return Ok(());
        }
    };
    init_logging(&args);
    let web = WebOptions::new(&args.web_config_file)?;
    let cfg = Arc::new(args.config().context("invalid flag")?);
    let names = cli::enabled_collectors(args.disable_defaults, &switches);
    let timeout = cli::duration_flag("collector.timeout", &args.collector_timeout)?;
    let collectors = names
        .iter()
        .filter_map(|n| collector::build(n, &cfg))
        .collect();
    for n in &names {
        tracing::info!(collector = n, "enabled collector");
    }
    let mut registry = Registry::new(collectors, timeout);
    registry.set_exporter_metrics(!args.disable_exporter_metrics);
    let state = Arc::new(AppState {
        registry,
        telemetry_path: args.telemetry_path.clone(),
        in_flight: (args.max_requests > 0).then(|| tokio::sync::Semaphore::new(args.max_requests)),
        max_requests: args.max_requests,
    });
    mem::tune_allocator();
    // Flag parsing and pattern compilation leave freed memory behind.
    mem::release_free_memory();
    // One thread serves HTTP (a scrape every few seconds needs no more);
    // collectors run on the blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        // Keep the collector thread between scrapes (15 s apart by
        // default) instead of respawning it every time.
        .thread_keep_alive(std::time::Duration::from_secs(120))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args.listen_address.clone(), state, web))
}

/// Serves every listen address until SIGINT or SIGTERM, then lets
/// in-flight scrapes finish.
async fn serve(addrs: Vec<String>, state: Arc<AppState>, web: WebOptions) -> anyhow::Result<()> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut servers = tokio::task::JoinSet::new();
    for a in addrs {
        let addr = parse_listen_address(&a)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {a}; is another exporter running there?"))?;
        let app = server::router(state.clone());
        let mut stop = stop_rx.clone();
        let shutdown = async move {
            let _ = stop.wait_for(|s| *s).await;
        };
        let web = web.clone();
        servers.spawn(async move { web::serve(listener, app, &web, shutdown).await });
    }
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(true);
    });
    while let Some(done) = servers.join_next().await {
        done.context("server task")?.context("serving HTTP")?;
    }
    Ok(())
}

async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = term.recv() => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        }
        // Without a SIGTERM handler the default action still ends us.
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}

/// Go's `host:port` listen syntax: an empty host means all interfaces.
fn parse_listen_address(a: &str) -> anyhow::Result<SocketAddr> {
    let full = if a.starts_with(':') {
        format!("0.0.0.0{a}")
    } else {
        a.to_string()
    };
    full.parse()
        .with_context(|| format!("--web.listen-address {a}: expected host:port"))
}

fn init_logging(args: &Args) {
    let level = match args.log_level.as_str() {
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let format = if args.log_format == "json" {
        log::Format::Json
    } else {
        log::Format::Logfmt
    };
    log::Logger::new(level, format).install();
}
