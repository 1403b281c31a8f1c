//! The `beacon-node-exporter` binary: parses node_exporter's flags, builds
//! the enabled collectors and serves them over HTTP until interrupted.

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::{Context, bail};
use beacon_node_exporter::cli::{self, Args};
use beacon_node_exporter::collector;
use beacon_node_exporter::scrape::Registry;
use beacon_node_exporter::server::{self, AppState};
use clap::Parser;

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
    let args = Args::parse_from(rest);
    init_logging(&args);
    if !args.web_config_file.is_empty() {
        // Serving without the TLS or authentication the operator asked
        // for would be worse than not starting.
        bail!(
            "--web.config.file {}: TLS and basic auth are not supported yet; remove the flag or front the exporter with a proxy",
            args.web_config_file
        );
    }
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
    limit_malloc_arenas();
    // One thread serves HTTP (a scrape every few seconds needs no more);
    // collectors run on the blocking pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        // Keep the collector thread between scrapes (15 s apart by
        // default) instead of respawning it every time.
        .thread_keep_alive(std::time::Duration::from_secs(120))
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    rt.block_on(serve(args.listen_address, state))
}

async fn serve(addrs: Vec<String>, state: Arc<AppState>) -> anyhow::Result<()> {
    let mut tasks = Vec::new();
    for a in addrs {
        let addr = parse_listen_address(&a)?;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("listening on {a}; is another exporter running there?"))?;
        tracing::info!(address = %addr, "listening");
        let app = server::router(state.clone());
        tasks.push(tokio::spawn(
            async move { axum::serve(listener, app).await },
        ));
    }
    for t in tasks {
        t.await.context("server task")?.context("serving HTTP")?;
    }
    Ok(())
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

/// glibc gives every thread that allocates its own malloc arena; for an
/// exporter that mostly sleeps that is megabytes of RSS for nothing.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn limit_malloc_arenas() {
    const ARENAS_MAX: libc::c_int = 1;
    // SAFETY: mallopt only adjusts allocator tuning; it is called before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS_MAX);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn limit_malloc_arenas() {}

fn init_logging(args: &Args) {
    let level = match args.log_level.as_str() {
        "debug" => tracing::Level::DEBUG,
        "warn" => tracing::Level::WARN,
        "error" => tracing::Level::ERROR,
        _ => tracing::Level::INFO,
    };
    let b = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()));
    if args.log_format == "json" {
        b.json().init();
    } else {
        b.init();
    }
}
