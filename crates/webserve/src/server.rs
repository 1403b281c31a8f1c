//! The accept loop and per-connection tasks: Go's `LimitListener` for
//! `max_connections` (accepting waits for a free slot, so no accepted
//! connection is ever refused), the TLS handshake, hyper's HTTP/1.1 and
//! HTTP/2 with the header size and read timeouts, and graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_rustls::TlsAcceptor;

use crate::guard::Guard;
use crate::{Error, Result, ServeOptions};

/// Go's `http.Server` accepts this many bytes past `MaxHeaderBytes`.
const HEADER_BYTES_SLACK: usize = 4096;
/// hyper refuses a smaller read buffer.
const HYPER_BUF_MIN: usize = 8192;
/// Bound on a TLS handshake or a request head when no read timeout is
/// set, so a silent client cannot hold a connection slot forever.
const READ_TIMEOUT_FALLBACK: Duration = Duration::from_secs(60);
/// Pause after a failed accept (e.g. out of file descriptors), doubling up
/// to the maximum, as Go's server does.
const ACCEPT_BACKOFF_MIN: Duration = Duration::from_millis(5);
const ACCEPT_BACKOFF_MAX: Duration = Duration::from_secs(1);

/// What every connection task shares.
struct Shared {
    app: axum::Router,
    guard: Arc<Guard>,
    http: auto::Builder<TokioExecutor>,
    /// Whether connections speak TLS (the settings are in `guard.live`).
    tls: bool,
    handshake_timeout: Duration,
}

/// The state connections share, built (and the web config validated)
/// before anything is accepted.
fn prepare(app: axum::Router, opts: &ServeOptions) -> Result<Shared> {
    let web = opts.web_config.clone().unwrap_or_default();
    let mut alpn = Vec::new();
    if web.http_server_config.http2 {
        alpn.push(b"h2".to_vec());
    }
    alpn.push(b"http/1.1".to_vec());
    let guard = Arc::new(Guard::new(opts, alpn)?);
    let tls = guard.live.tls();
    // Like Go's net/http, plain connections speak HTTP/1.1 only (no h2c).
    let http2 = web.http_server_config.http2 && tls;
    Ok(Shared {
        app,
        guard,
        http: http_builder(opts, http2),
        tls,
        handshake_timeout: opts.read_timeout.unwrap_or(READ_TIMEOUT_FALLBACK),
    })
}

pub(crate) async fn run(
    listener: TcpListener,
    app: axum::Router,
    opts: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<()> {
    let shared = Arc::new(prepare(app, &opts)?);
    let addr = listener.local_addr().map_err(Error::Listener)?;
    tracing::info!(%addr, tls = shared.tls, "listening");
    let slots = (opts.max_connections > 0).then(|| Arc::new(Semaphore::new(opts.max_connections)));
    let (stop_tx, stop_rx) = watch::channel(false);
    // Each task holds a sender; `recv` returns `None` once all are gone.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut shutdown = pin!(shutdown);
    let mut backoff = ACCEPT_BACKOFF_MIN;
    loop {
        let permit = match &slots {
            None => None,
            Some(s) => tokio::select! {
                p = s.clone().acquire_owned() => p.ok(),
                () = &mut shutdown => break,
            },
        };
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = &mut shutdown => break,
        };
        match accepted {
            Ok((stream, remote)) => {
                backoff = ACCEPT_BACKOFF_MIN;
                let task = connection(shared.clone(), stream, remote, stop_rx.clone(), permit);
                let alive = alive_tx.clone();
                tokio::spawn(async move {
                    task.await;
                    drop(alive);
                });
            }
            Err(e) => {
                tracing::warn!(%addr, "accept error: {e}; retrying in {backoff:?}");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = &mut shutdown => break,
                }
                backoff = (backoff * 2).min(ACCEPT_BACKOFF_MAX);
            }
        }
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(alive_tx);
    let _ = alive_rx.recv().await;
    tracing::info!(%addr, "stopped serving");
    Ok(())
}

fn http_builder(opts: &ServeOptions, http2: bool) -> auto::Builder<TokioExecutor> {
    let mut b = auto::Builder::new(TokioExecutor::new());
    // As in Go, 0 means the default rather than no headers at all.
    let head_max = match opts.max_header_bytes {
        0 => crate::MAX_HEADER_BYTES_DEFAULT,
        n => n,
    }
    .saturating_add(HEADER_BYTES_SLACK);
    b.http1()
        .timer(TokioTimer::new())
        .header_read_timeout(opts.read_timeout.unwrap_or(READ_TIMEOUT_FALLBACK))
        .max_buf_size(head_max.max(HYPER_BUF_MIN));
    b.http2()
        .timer(TokioTimer::new())
        .max_header_list_size(u32::try_from(head_max).unwrap_or(u32::MAX));
    if http2 { b } else { b.http1_only() }
}

/// One client connection, from handshake to close. The connection slot
/// (`_permit`) is released when this returns.
async fn connection(
    shared: Arc<Shared>,
    stream: TcpStream,
    remote: SocketAddr,
    mut stop: watch::Receiver<bool>,
    _permit: Option<OwnedSemaphorePermit>,
) {
    let _ = stream.set_nodelay(true);
    if !shared.tls {
        return drive(&shared, stream, remote, stop).await;
    }
    // Reloads never turn TLS off, so this is always present; never fall
    // back to plain text if it were not.
    let Some(config) = shared
        .guard
        .live
        .current()
        .tls
        .as_ref()
        .map(|t| t.current())
    else {
        return;
    };
    let handshake = TlsAcceptor::from(config).accept(stream);
    let result = tokio::select! {
        r = tokio::time::timeout(shared.handshake_timeout, handshake) => r,
        () = stopped(&mut stop) => return,
    };
    match result {
        Ok(Ok(stream)) => drive(&shared, stream, remote, stop).await,
        Ok(Err(e)) => tracing::debug!(%remote, "TLS handshake error: {e}"),
        Err(_) => tracing::debug!(%remote, "TLS handshake timed out"),
    }
}

/// Serves HTTP on an established stream until it closes, or until shutdown
/// lets the request in flight finish.
async fn drive<S>(shared: &Arc<Shared>, io: S, remote: SocketAddr, mut stop: watch::Receiver<bool>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let svc_shared = shared.clone();
    let svc = hyper::service::service_fn(move |req| {
        let s = svc_shared.clone();
        s.guard.clone().handle(s.app.clone(), req, remote)
    });
    let conn = shared.http.serve_connection(TokioIo::new(io), svc);
    let mut conn = pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        () = stopped(&mut stop) => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        tracing::debug!(%remote, "connection error: {e}");
    }
}

/// Resolves once shutdown has been signalled (or the signal is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The borrowed value is dropped here, keeping callers' futures `Send`.
    let _ = stop.wait_for(|s| *s).await;
}
