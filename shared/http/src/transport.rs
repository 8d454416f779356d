//! What HTTP/1.1 clients need from a server that refuses early: oversized request lines and
//! headers answered as problems, and a connection marked for closing when its request body was
//! never read.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::problem::Problem;

/// Longest request target (path and query) served, in bytes; longer is a 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) served; more is a 431.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Refuses oversized targets and headers with problem+json (hyper's own 414 and 431, for
/// requests beyond its buffer, have no body; API Gateway has its own, lower, limits).
pub async fn limits(request: Request, next: Next) -> Response {
    let target = request.uri().path_and_query().map_or(0, |p| p.as_str().len());
    if target > MAX_URI_BYTES {
        return refuse(StatusCode::URI_TOO_LONG, format!("the request target is over {MAX_URI_BYTES} bytes"));
    }
    let header_bytes: usize = request.headers().iter().map(|(n, v)| n.as_str().len() + v.len() + 4).sum();
    if header_bytes > MAX_HEADER_BYTES {
        return refuse(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!("the request headers are over {MAX_HEADER_BYTES} bytes"),
        );
    }
    next.run(request).await
}

/// Adds `Connection: close` to any response sent before the request's body was read to its
/// end (a 401 or 404 on a POST, say): the server will not read that body, so the connection
/// cannot carry another request, and a client that is not told so sends its next request into
/// a socket about to close. For hosts that keep connections (the local server), not Lambda.
pub async fn close_after_unread_body(request: Request, next: Next) -> Response {
    let (parts, body) = request.into_parts();
    if body.is_end_stream() {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let finished = Arc::new(AtomicBool::new(false));
    let tracked = Body::new(Tracked { inner: body, finished: finished.clone() });
    let mut response = next.run(Request::from_parts(parts, tracked)).await;
    if !finished.load(Ordering::Acquire) {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

fn refuse(status: StatusCode, detail: String) -> Response {
    let mut response = Problem::new(status, Some(detail)).into_response();
    // The rest of such a request is not read either.
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A request body that says when it has been read to its end.
struct Tracked {
    inner: Body,
    finished: Arc<AtomicBool>,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None)) || self.inner.is_end_stream() {
            self.finished.store(true, Ordering::Release);
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
