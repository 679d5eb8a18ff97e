//! HTTP/1.1 transport for [`super::StackClient`]: hyper-util's pooled client, with
//! rustls (webpki roots) for `https://` stacks.
//!
//! Why not reqwest: the load mode sends tens of thousands of requests a second from
//! the same two cores as the stack, and reqwest's layers (URL parsing with IDNA on
//! every request, its own header and body wrappers, redirect and retry policies)
//! cost about a fifth of a request's client CPU on top of hyper (`BENCHMARKS.md`,
//! section 1). The contract needs none of them: no redirects are followed, no
//! cookies, no compression. The per-request timeout wraps the whole exchange, body
//! included.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// A pool of keep-alive connections, cheap to clone (clones share the pool). Its
/// connections are driven by tasks of the Tokio runtime that opened them.
#[derive(Clone)]
pub(super) struct Transport {
    /// Behind an `Arc`: a clone is one increment, not the client's several.
    client: Arc<Client<Connector, Full<Bytes>>>,
    timeout: Duration,
}

/// Why an exchange got no complete answer.
#[derive(Debug)]
pub(super) enum Failure {
    /// No connection could be made (refused, unresolvable, connect timeout).
    Connect(hyper_util::client::legacy::Error),
    /// The request went out but the answer did not come back whole.
    Broken(Box<dyn std::error::Error + Send + Sync>),
    /// Nothing within the request timeout.
    TimedOut(Duration),
}

impl Transport {
    /// `connect_timeout` bounds the TCP (and TLS) connect; `timeout` the whole
    /// exchange, from sending the request to the last byte of the body.
    pub(super) fn new(connect_timeout: Duration, timeout: Duration) -> Self {
        let mut tcp = HttpConnector::new();
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_nodelay(true);
        tcp.enforce_http(false);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_webpki_roots()
            .https_or_http()
            .enable_http1()
            .wrap_connector(tcp);
        Transport {
            client: Arc::new(Client::builder(TokioExecutor::new()).build(connector)),
            timeout,
        }
    }

    /// Sends a request and reads its whole body.
    pub(super) async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(http::response::Parts, Bytes), Failure> {
        let exchange = async {
            let response = self.client.request(request).await.map_err(|e| {
                if e.is_connect() {
                    Failure::Connect(e)
                } else {
                    Failure::Broken(Box::new(e))
                }
            })?;
            let (parts, body) = response.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Failure::Broken(Box::new(e)))?;
            Ok((parts, body.to_bytes()))
        };
        tokio::time::timeout(self.timeout, exchange)
            .await
            .unwrap_or(Err(Failure::TimedOut(self.timeout)))
    }
}
