//! The accept loop: HTTP/1.1 on hyper with the limits a public server
//! needs, which `axum::serve` does not set. A client gets
//! `--header-timeout-secs` to send its request line and headers (and an idle
//! kept-alive connection is closed after as long), `--body-timeout-secs` to
//! send the whole body (else 408 and the connection closes), and at most
//! `--max-connections` connections are served at once: the loop does not
//! accept more until one closes, so the others wait in the kernel's listen
//! queue (and are refused by the kernel once that is full), never dropped
//! half-served. A declared `Content-Length` over the limit is answered 413
//! before a byte of the body is read ([`refuse_declared_oversize`]).
//!
//! Only HTTP/1.1: hyper-util's HTTP/1 + HTTP/2 detection waits for the
//! first bytes with no timeout of its own, and a reverse proxy in front
//! speaks HTTP/2 to browsers anyway.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::Frame;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tower::ServiceExt;
use tower_http::timeout::{DeadlineBody, TimeoutError};

use crate::config::ServeArgs;
use crate::web::MAX_BODY;

/// What the accept loop bounds.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub header_timeout: Duration,
    pub body_timeout: Duration,
    pub max_connections: usize,
}

impl Limits {
    pub fn new(args: &ServeArgs) -> Limits {
        Limits {
            header_timeout: Duration::from_secs(args.header_timeout_secs.max(1)),
            body_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
            max_connections: usize::try_from(args.max_connections)
                .unwrap_or(usize::MAX)
                .max(1),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` completes; then stops
/// accepting, lets requests in flight finish and closes idle connections.
/// Handlers see the peer as `ConnectInfo<SocketAddr>`, as with
/// `into_make_service_with_connect_info`.
pub async fn serve<F>(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send,
{
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(err) => {
                    // Out of file descriptors, or a connection reset while
                    // queued: wait a little rather than spin.
                    tracing::warn!(error = %err, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let router = router.clone();
        let body_timeout = limits.body_timeout;
        let service = hyper::service::service_fn(move |request| {
            handle(router.clone(), peer, body_timeout, request)
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            if let Err(err) = connection.await {
                tracing::debug!(error = %err, %peer, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// One request: the body under its deadline, the peer's address in the
/// extensions, and a 408 instead of whatever the app made of a body that
/// did not arrive in time.
async fn handle(
    router: Router,
    peer: SocketAddr,
    body_timeout: Duration,
    request: hyper::Request<hyper::body::Incoming>,
) -> Result<Response, Infallible> {
    let late = Arc::new(AtomicBool::new(false));
    let watched = late.clone();
    // An upload of a large file takes longer to arrive than a form.
    let body_timeout = if crate::files::is_upload(request.method(), request.uri().path()) {
        body_timeout.saturating_mul(UPLOAD_TIME_FACTOR)
    } else {
        body_timeout
    };
    let mut request = request.map(|body| {
        Body::new(LateBody {
            inner: Box::pin(DeadlineBody::new(body_timeout, body)),
            late: watched,
        })
    });
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router.oneshot(request).await?;
    if late.load(Ordering::Relaxed) {
        return Ok(request_timeout());
    }
    Ok(response)
}

fn request_timeout() -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [(header::CONNECTION, HeaderValue::from_static("close"))],
        "The request took too long to arrive; please try again.",
    )
        .into_response()
}

/// A request body that notes whether its deadline passed.
struct LateBody {
    inner: Pin<Box<DeadlineBody<hyper::body::Incoming>>>,
    late: Arc<AtomicBool>,
}

impl http_body::Body for LateBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let polled = self.inner.as_mut().poll_frame(cx);
        if let Poll::Ready(Some(Err(err))) = &polled
            && err.is::<TimeoutError>()
        {
            self.late.store(true, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// How many times `--body-timeout-secs` an upload's body may take to
/// arrive (5 minutes by default: 20 MiB at about 0.5 Mbit/s).
pub const UPLOAD_TIME_FACTOR: u32 = 10;

/// The outermost layer: a request whose declared `Content-Length` is over
/// the limit gets a body that fails at once, so whatever reads it first
/// (the CSRF check, an extractor) answers its usual 413 page without
/// waiting for bytes that would only be thrown away; any other body is
/// cut off with the same error at the limit. The limit is [`MAX_BODY`],
/// or `--file-max-mib` and 1 MiB more for an upload.
pub async fn refuse_declared_oversize(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let (limit, declared) = body_limit(&state, &request);
    if declared.is_some_and(|n| n > limit as u64) {
        *request.body_mut() = Body::new(Oversized);
        let mut response = next.run(request).await;
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
        return response;
    }
    next.run(request).await
}

/// The most bytes `request`'s body may hold, and the length it declares.
fn body_limit(state: &crate::state::AppState, request: &Request) -> (usize, Option<u64>) {
    let limit = if crate::files::is_upload(request.method(), request.uri().path()) {
        state.config.upload_body_max()
    } else {
        MAX_BODY
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    (limit, declared)
}

/// Inside the context middleware (so the answer is an error page): 413
/// for a body declared over the limit (see [`refuse_declared_oversize`]),
/// and any other body cut off with a length error at the limit, which
/// the CSRF check and axum's extractors answer with 413 too.
pub async fn limit_body(
    axum::extract::State(state): axum::extract::State<crate::state::AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (limit, declared) = body_limit(&state, &request);
    if declared.is_some_and(|n| n > limit as u64) {
        return StatusCode::PAYLOAD_TOO_LARGE.into_response();
    }
    next.run(request.map(|body| Body::new(http_body_util::Limited::new(body, limit))))
        .await
}

/// The body of a request declared too large: an error on the first read.
struct Oversized;

impl http_body::Body for Oversized {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(Some(Err("the declared body is over the size limit".into())))
    }
}
