//! HTTP/1.1 transport for [`super::StackClient`]: keep-alive connections made by
//! hyper's connection API, kept in a small pool per origin; rustls (webpki roots)
//! for `https://` stacks through hyper-rustls's connector.
//!
//! Why not reqwest, nor hyper-util's pooled client: the load mode sends tens of
//! thousands of requests a second from the same two cores as the stack, so the
//! client's CPU per request decides the throughput (`BENCHMARKS.md`, section 1).
//! reqwest parses every URL (with IDNA) and wraps headers, bodies, redirect and retry
//! policies; hyper-util's pool hashes its key, checks out through a oneshot and
//! checks in through a guard. On this machine a bare reqwest loop reached 0.79x oha
//! and a hyper-util loop about 0.95x; hyper's connection API is what oha itself uses.
//! The contract needs none of those layers: no redirects are followed, no cookies,
//! no compression.
//!
//! The pool: a connection goes back once its answer has been read whole. One that
//! the server closed while idle is skipped. When a reused connection breaks before
//! any answer (the server closed it just as it was taken), the request goes out again
//! on another connection: always if it was not sent, and if it was, only when its
//! method is idempotent, as browsers do. A fresh connection is never retried. The
//! per-request timeout wraps the whole exchange, connect and body included.
//! `tests/client.rs` holds both cases against a server that closes after each answer.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use http::uri::{Authority, Scheme};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http1::{self, SendRequest};
use hyper_util::client::legacy::connect::HttpConnector;
use tower_service::Service as _;

pub(crate) type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// HTTP/1.1 over TCP or TLS (Mozilla's roots, no system store), connects bounded by
/// `connect_timeout`: the stack client's, and anything else goldenpath sends (remote
/// write).
pub(crate) fn connector(connect_timeout: Duration) -> Connector {
    let mut tcp = HttpConnector::new();
    tcp.set_connect_timeout(Some(connect_timeout));
    tcp.set_nodelay(true);
    tcp.enforce_http(false);
    hyper_rustls::HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .wrap_connector(tcp)
}
type Sender = SendRequest<Full<Bytes>>;
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Idle connections per origin, cheap to clone (clones share them). A connection is
/// driven by a task of the Tokio runtime that opened it.
#[derive(Clone)]
pub(super) struct Transport {
    shared: Arc<Shared>,
}

struct Shared {
    connector: Connector,
    timeout: Duration,
    /// Few origins (usually one): a list beats a hash map.
    idle: Mutex<Vec<(Origin, Vec<Sender>)>>,
}

/// Where requests go: scheme and authority, with the `Host` header they carry.
#[derive(Debug, Clone)]
pub(super) struct Origin {
    scheme: Scheme,
    authority: Authority,
    host: http::HeaderValue,
    /// The ASCII serialisation (`http://127.0.0.1:8080`, lower case, default port
    /// left out), which is what makes two origins the same. The pool compares origins
    /// twice per request, and comparing `Authority`s (case-insensitively, byte by
    /// byte) cost 2 % of the client's instructions.
    key: Box<str>,
}

impl PartialEq for Origin {
    fn eq(&self, other: &Origin) -> bool {
        self.key == other.key
    }
}

impl Eq for Origin {}

impl Origin {
    /// The origin of an `http` or `https` URL with a host.
    pub(super) fn of(url: &url::Url) -> Result<Origin, String> {
        let serialised = url.origin().ascii_serialization();
        let uri: http::Uri = serialised
            .parse()
            .map_err(|e| format!("{serialised} is not a usable origin: {e}"))?;
        match (uri.scheme(), uri.authority()) {
            (Some(scheme), Some(authority)) => Ok(Origin {
                scheme: scheme.clone(),
                host: http::HeaderValue::from_str(authority.as_str())
                    .map_err(|e| format!("{authority} is not a usable Host header: {e}"))?,
                authority: authority.clone(),
                key: serialised.into(),
            }),
            _ => Err(format!("{serialised} has no scheme and host")),
        }
    }

    /// The `Host` header for requests to this origin.
    pub(super) fn host(&self) -> &http::HeaderValue {
        &self.host
    }

    /// `scheme://authority/`, for the connector.
    fn uri(&self) -> http::Uri {
        http::Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query("/")
            .build()
            .expect("scheme and authority came from a valid URI")
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.authority)
    }
}

/// Why an exchange got no complete answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection could be made (refused, unresolvable, TLS, connect timeout).
    Connect(BoxError),
    /// The request went out but the answer did not come back whole.
    Broken(BoxError),
    /// Nothing within the request timeout.
    TimedOut(Duration),
}

impl Transport {
    /// `connect_timeout` bounds the TCP connect; `timeout` the whole exchange, from
    /// taking a connection to the last byte of the body.
    pub(super) fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        let connector = connector(connect_timeout);
        Transport {
            shared: Arc::new(Shared {
                connector,
                timeout,
                idle: Mutex::new(Vec::new()),
            }),
        }
    }

    /// Sends a request in origin form (path and query, with its `Host` header: see
    /// [`Origin::host`]) to `origin` and reads its whole body. `again` builds
    /// the same request anew, for the one case where it is sent twice: an idempotent
    /// request on a reused connection that broke before any answer (the server closed
    /// it while idle, at the moment it was taken), as browsers do.
    pub(super) async fn exchange(
        &self,
        origin: &Origin,
        request: http::Request<Full<Bytes>>,
        again: impl Fn() -> Option<http::Request<Full<Bytes>>>,
    ) -> Result<(http::response::Parts, Bytes), Failure> {
        let timeout = self.shared.timeout;
        tokio::time::timeout(timeout, self.exchange_unbounded(origin, request, again))
            .await
            .unwrap_or(Err(Failure::TimedOut(timeout)))
    }

    async fn exchange_unbounded(
        &self,
        origin: &Origin,
        mut request: http::Request<Full<Bytes>>,
        again: impl Fn() -> Option<http::Request<Full<Bytes>>>,
    ) -> Result<(http::response::Parts, Bytes), Failure> {
        let idempotent = request.method().is_idempotent();
        loop {
            let (mut sender, reused) = match self.checkout(origin).await {
                Some(sender) => (sender, true),
                // Boxed: connecting is rare (once per connection) and its future is
                // large (TLS state); inline, every request's future would carry it.
                None => (Box::pin(self.connect(origin)).await?, false),
            };
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let (parts, body) = response.into_parts();
                    let body = read_whole(body)
                        .await
                        .map_err(|e| Failure::Broken(Box::new(e)))?;
                    self.checkin(origin, sender);
                    return Ok((parts, body));
                }
                Err(mut e) => {
                    let retry = match e.take_message() {
                        // Not sent at all: the connection closed while idle.
                        Some(unsent) if reused => Some(unsent),
                        // Sent, but the connection broke before any answer.
                        _ if reused && idempotent => again(),
                        _ => None,
                    };
                    match retry {
                        Some(r) => request = r,
                        None => return Err(Failure::Broken(Box::new(e.into_error()))),
                    }
                }
            }
        }
    }

    /// An idle connection to `origin` that is ready for a request, if any; closed
    /// ones are dropped on the way.
    async fn checkout(&self, origin: &Origin) -> Option<Sender> {
        loop {
            let mut sender = {
                let mut idle = self.shared.idle.lock().unwrap_or_else(|p| p.into_inner());
                let (_, senders) = idle.iter_mut().find(|(o, _)| o == origin)?;
                senders.pop()?
            };
            // Ready at once unless the connection is still finishing the last answer.
            if !sender.is_closed() && sender.ready().await.is_ok() {
                return Some(sender);
            }
        }
    }

    fn checkin(&self, origin: &Origin, sender: Sender) {
        if sender.is_closed() {
            return;
        }
        let mut idle = self.shared.idle.lock().unwrap_or_else(|p| p.into_inner());
        match idle.iter_mut().find(|(o, _)| o == origin) {
            Some((_, senders)) => senders.push(sender),
            None => idle.push((origin.clone(), vec![sender])),
        }
    }

    async fn connect(&self, origin: &Origin) -> Result<Sender, Failure> {
        let mut connector = self.shared.connector.clone();
        let io = connector
            .call(origin.uri())
            .await
            .map_err(|e| Failure::Connect(name_tls_failure(origin, e)))?;
        let (sender, connection) = http1::handshake(io)
            .await
            .map_err(|e| Failure::Connect(Box::new(e)))?;
        // The connection ends when the server closes it or every sender is dropped.
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "connection closed");
            }
        });
        Ok(sender)
    }
}

/// The whole body. An answer that arrives in one frame, as small answers do, is kept as
/// it was read, without the queue `http_body_util::Collect` puts every frame in first.
/// Trailers are not read.
async fn read_whole(mut body: hyper::body::Incoming) -> Result<Bytes, hyper::Error> {
    let mut first = Bytes::new();
    let mut joined: Option<BytesMut> = None;
    while let Some(frame) = body.frame().await {
        let Ok(data) = frame?.into_data() else {
            continue;
        };
        match &mut joined {
            Some(buf) => buf.extend_from_slice(&data),
            None if first.is_empty() => first = data,
            None => {
                let mut buf = BytesMut::with_capacity(first.len() + data.len());
                buf.extend_from_slice(&first);
                buf.extend_from_slice(&data);
                joined = Some(buf);
            }
        }
    }
    Ok(joined.map_or(first, BytesMut::freeze))
}

/// A failed TLS handshake says so: rustls's own words ("received corrupt message of
/// type InvalidContentType") do not tell a person that the server is not speaking TLS.
fn name_tls_failure(origin: &Origin, e: BoxError) -> BoxError {
    let tls = super::read::error_chain(e.as_ref()).any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::InvalidData)
    });
    if tls && origin.scheme == Scheme::HTTPS {
        format!(
            "the TLS handshake failed (does it serve https?): {}",
            super::read::root_reason(e.as_ref())
        )
        .into()
    } else {
        e
    }
}
