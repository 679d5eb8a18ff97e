//! [`StackClient`]: one method per route of the contract, every spelling from the
//! [`Contract`]; the one place where requests to the stack are built.
//!
//! Why one long file: one method per route of the contract (sixteen) and the request
//! plumbing they share; split by route, the one place where requests are built would be
//! several.

use std::sync::Arc;

use bytes::Bytes;
use serde_json::{Value, json};

use super::error::{self, ClientError};
use super::read::opt_str;
use super::read::{error_envelope, field, root_reason};
use super::types::*;
use super::{AgentEventSocket, DashboardSocket, SocketAuth, SocketPath};
use super::{dashboard, events, pick, success, transport};
use crate::contract::{ApiPath, Contract};

const USER_AGENT: &str = concat!("goldenpath/", env!("CARGO_PKG_VERSION"));

/// The typed client for one stack. Clone it freely: clones share the HTTP pool.
#[derive(Clone)]
pub struct StackClient {
    http: transport::Transport,
    base: Arc<Base>,
    contract: Arc<Contract>,
    /// Whether `/health`'s fields are top-level keys, read without building a `Value`
    /// (the load mode's hot path); decided once from the contract.
    health_by_keys: bool,
}

/// The base URL, parsed once: every request is sent in origin form (its path, with a
/// `Host` header) to `origin`.
#[derive(Debug)]
struct Base {
    /// As given, without a trailing slash.
    url: String,
    origin: transport::Origin,
    /// The base URL's own path (`/api` of `http://host/api`), or empty.
    prefix: String,
}

impl std::fmt::Debug for StackClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StackClient")
            .field("base_url", &self.base.url)
            .finish_non_exhaustive()
    }
}

/// The answer of a contract call with the promised status, not parsed yet.
struct Answer<'a> {
    method: http::Method,
    path: &'a ApiPath,
    /// As read: not copied, not checked to be UTF-8 yet.
    body: Bytes,
}

impl Answer<'_> {
    /// The answer is JSON but not the shape the contract promises.
    fn decode(&self, detail: String) -> ClientError {
        ClientError::Decode {
            endpoint: endpoint_name(&self.method, self.path),
            detail,
            body_excerpt: error::excerpt(&String::from_utf8_lossy(&self.body), 200),
        }
    }
}

/// The parsed answer of a contract call, before typing.
struct Reply<'a> {
    answer: Answer<'a>,
    json: Value,
}

impl StackClient {
    /// A client for the stack at `base_url` (`http://host:port`), with an HTTP client
    /// built from the configured timeouts.
    pub fn new(base_url: &str, contract: Arc<Contract>) -> Result<Self, ClientError> {
        Ok(StackClient {
            http: transport::Transport::new(
                contract.timeouts.socket_connect,
                contract.timeouts.http_request,
            ),
            base: Arc::new(parse_base(base_url)?),
            health_by_keys: health_by_keys(&contract),
            contract,
        })
    }

    /// The same stack and contract with a connection pool of its own (a pool's
    /// connections belong to the runtime that opened them), and its own copy of the
    /// contract: every request clones the client, and a count shared by the load
    /// mode's threads would move between cores each time.
    pub fn fresh_pool(&self) -> Self {
        Self::new(&self.base.url, Arc::new(Contract::clone(&self.contract)))
            .expect("the base URL was valid when this client was built")
    }

    /// The base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base.url
    }

    /// Points the client at another address (mapped ports change across restarts).
    pub fn set_base_url(&mut self, base_url: &str) -> Result<(), ClientError> {
        self.base = Arc::new(parse_base(base_url)?);
        Ok(())
    }

    /// A clone pointed at another address.
    pub fn with_base_url(&self, base_url: &str) -> Result<Self, ClientError> {
        let mut c = self.clone();
        c.set_base_url(base_url)?;
        Ok(c)
    }

    /// The configuration this client speaks.
    pub fn contract(&self) -> &Contract {
        &self.contract
    }

    /// The shared configuration handle.
    pub fn contract_arc(&self) -> &Arc<Contract> {
        &self.contract
    }

    // ---- authentication ----------------------------------------------------------

    /// `POST paths.register` `{email, password, display_name}` → 201.
    pub async fn register(
        &self,
        email: &str,
        password: &str,
        display_name: &str,
    ) -> Result<Registered, ClientError> {
        let f = &self.contract.fields;
        let body = json!({
            f.email.as_str(): email,
            f.password.as_str(): password,
            f.display_name.as_str(): display_name,
        });
        let r = self
            .call(
                http::Method::POST,
                &self.contract.paths.register,
                &[],
                None,
                Some(body),
                success::REGISTER,
            )
            .await?;
        Ok(Registered {
            user_id: self.req_str(&r, &r.json, &f.user_id)?,
            email: opt_str(&r.json, &f.email),
        })
    }

    /// `POST paths.login` `{email, password}` → 200 with the access token.
    pub async fn login(&self, email: &str, password: &str) -> Result<Session, ClientError> {
        self.login_answer(email, password).await.map(|a| a.session)
    }

    /// As [`StackClient::login`], with the whole answer: the token's type and lifetime.
    pub async fn login_answer(&self, email: &str, password: &str) -> Result<LoggedIn, ClientError> {
        let f = &self.contract.fields;
        let body = json!({ f.email.as_str(): email, f.password.as_str(): password });
        let r = self
            .call(
                http::Method::POST,
                &self.contract.paths.login,
                &[],
                None,
                Some(body),
                success::LOGIN,
            )
            .await?;
        let token = self.req_str(&r, &r.json, &f.access_token)?;
        let mut session = Session::from_token(token);
        if let Some(id) = opt_str(&r.json, &f.user_id) {
            session.user_id = Some(id);
        }
        Ok(LoggedIn {
            session,
            token_type: opt_str(&r.json, &f.token_type),
            expires_in: field(&r.json, &f.expires_in).and_then(Value::as_i64),
        })
    }

    /// Logs in as the configured admin.
    pub async fn login_admin(&self) -> Result<Session, ClientError> {
        let admin = &self.contract.admin;
        self.login(&admin.email, &admin.password).await
    }

    // ---- agents ------------------------------------------------------------------

    /// `POST paths.execute` (or `execute_legacy`) → 202 `{run_id, thread_id, status}`.
    pub async fn execute_agent(
        &self,
        session: &Session,
        request: &ExecuteRequest,
        route: Route,
    ) -> Result<RunStarted, ClientError> {
        let f = &self.contract.fields;
        let path = match route {
            Route::V2 => &self.contract.paths.execute,
            Route::Legacy => &self.contract.paths.execute_legacy,
        };
        let mut body = json!({ f.prompt.as_str(): request.message });
        if let Some(agent) = &request.agent {
            body[f.agent.as_str()] = json!(agent);
        }
        if let Some(thread) = &request.thread_id {
            body[f.thread_id.as_str()] = json!(thread);
        }
        let r = self
            .call(
                http::Method::POST,
                path,
                &[],
                Some(session),
                Some(body),
                success::EXECUTE,
            )
            .await?;
        Ok(RunStarted {
            run_id: self.req_str(&r, &r.json, &f.run_id)?,
            thread_id: self.req_str(&r, &r.json, &f.thread_id)?,
            status: self.req_str(&r, &r.json, &f.status)?,
        })
    }

    /// `GET paths.run_status` → 200.
    pub async fn run_status(
        &self,
        session: &Session,
        run_id: &str,
    ) -> Result<RunStatus, ClientError> {
        let f = &self.contract.fields;
        let r = self
            .call(
                http::Method::GET,
                &self.contract.paths.run_status,
                &[("run_id", run_id)],
                Some(session),
                None,
                success::RUN_STATUS,
            )
            .await?;
        Ok(RunStatus {
            run_id: self.req_str(&r, &r.json, &f.run_id)?,
            thread_id: opt_str(&r.json, &f.thread_id),
            status: self.req_str(&r, &r.json, &f.status)?,
            result: field(&r.json, &f.result).filter(|v| !v.is_null()).cloned(),
        })
    }

    /// `GET paths.agents_status` → 200.
    pub async fn agents_status(&self, session: &Session) -> Result<AgentsStatus, ClientError> {
        let f = &self.contract.fields;
        let r = self
            .call(
                http::Method::GET,
                &self.contract.paths.agents_status,
                &[],
                Some(session),
                None,
                success::AGENTS_STATUS,
            )
            .await?;
        let items = self.req_array(&r, &f.agents)?;
        let agents = items
            .iter()
            .map(|a| {
                Ok(AgentState {
                    name: self.req_str(&r, a, &f.agent_name)?,
                    status: self.req_str(&r, a, &f.status)?,
                })
            })
            .collect::<Result<_, ClientError>>()?;
        Ok(AgentsStatus {
            agents,
            circuit_breaker: opt_str(&r.json, &f.circuit_breaker),
        })
    }

    // ---- threads -----------------------------------------------------------------

    /// `POST paths.threads` `{title?}` → 201.
    pub async fn create_thread(
        &self,
        session: &Session,
        title: Option<&str>,
    ) -> Result<Thread, ClientError> {
        let f = &self.contract.fields;
        let body = match title {
            Some(t) => json!({ f.title.as_str(): t }),
            None => json!({}),
        };
        let r = self
            .call(
                http::Method::POST,
                &self.contract.paths.threads,
                &[],
                Some(session),
                Some(body),
                success::CREATE_THREAD,
            )
            .await?;
        self.thread_from(&r, &r.json)
    }

    /// `GET paths.threads` → 200, the caller's threads, oldest first.
    pub async fn list_threads(&self, session: &Session) -> Result<Vec<Thread>, ClientError> {
        let f = &self.contract.fields;
        let r = self
            .call(
                http::Method::GET,
                &self.contract.paths.threads,
                &[],
                Some(session),
                None,
                success::LIST_THREADS,
            )
            .await?;
        self.req_array(&r, &f.threads)?
            .iter()
            .map(|t| self.thread_from(&r, t))
            .collect()
    }

    /// `POST paths.thread_messages` `{content}` → 201.
    pub async fn post_message(
        &self,
        session: &Session,
        thread_id: &str,
        content: &str,
    ) -> Result<Message, ClientError> {
        let f = &self.contract.fields;
        let body = json!({ f.content.as_str(): content });
        let r = self
            .call(
                http::Method::POST,
                &self.contract.paths.thread_messages,
                &[("thread_id", thread_id)],
                Some(session),
                Some(body),
                success::POST_MESSAGE,
            )
            .await?;
        self.message_from(&r, &r.json)
    }

    /// `GET paths.thread_messages` → 200, oldest first.
    pub async fn messages(
        &self,
        session: &Session,
        thread_id: &str,
    ) -> Result<Vec<Message>, ClientError> {
        let f = &self.contract.fields;
        let r = self
            .call(
                http::Method::GET,
                &self.contract.paths.thread_messages,
                &[("thread_id", thread_id)],
                Some(session),
                None,
                success::MESSAGES,
            )
            .await?;
        self.req_array(&r, &f.messages)?
            .iter()
            .map(|m| self.message_from(&r, m))
            .collect()
    }

    // ---- operations --------------------------------------------------------------

    /// `GET paths.health` → 200.
    pub async fn health(&self) -> Result<Health, ClientError> {
        let f = &self.contract.fields;
        let answer = self
            .call_text(
                http::Method::GET,
                &self.contract.paths.health,
                &[],
                None,
                None,
                success::HEALTH,
            )
            .await?;
        // Probed tens of thousands of times a second under load: read only its fields.
        // Checked as a whole: serde_json's slice reader checks each string on its own,
        // which for this answer's short strings cost about eight times as much.
        let body = std::str::from_utf8(&answer.body).map_err(|_| not_json(&answer))?;
        if !self.health_by_keys {
            // Fields inside the answer (an envelope): read the whole document.
            let json: Value = serde_json::from_str(body).map_err(|_| not_json(&answer))?;
            let Some(json) = self.unwrap_answer(json) else {
                return Err(answer.decode(format!("no answer at `{}` (fields.answer)", f.answer)));
            };
            let reply = Reply { answer, json };
            return Ok(Health {
                status: self.req_str(&reply, &reply.json, &f.status)?,
                boot_id: self.req_str(&reply, &reply.json, &f.boot_id)?,
                version: opt_str(&reply.json, &f.version),
                started_at: opt_str(&reply.json, &f.started_at),
                uptime_s: field(&reply.json, &f.uptime_s).and_then(Value::as_f64),
            });
        }
        let [status, boot_id, version, started_at, uptime_s] = pick::pick(
            body,
            [
                &f.status,
                &f.boot_id,
                &f.version,
                &f.started_at,
                &f.uptime_s,
            ],
        )
        .map_err(|_| not_json(&answer))?;
        let required = |value: Option<pick::Field<'_>>, key: &str| match value {
            Some(pick::Field::Str(s)) => Ok(s.into_owned()),
            Some(other) => {
                Err(answer.decode(format!("field `{key}` is {other}, expected a string")))
            }
            None => Err(answer.decode(format!("missing field `{key}`"))),
        };
        Ok(Health {
            status: required(status, &f.status)?,
            boot_id: required(boot_id, &f.boot_id)?,
            version: version.and_then(pick::Field::into_string),
            started_at: started_at.and_then(pick::Field::into_string),
            uptime_s: uptime_s.as_ref().and_then(pick::Field::as_f64),
        })
    }

    /// `GET paths.health_detailed` → 200, or 503 when a dependency is down (both are
    /// answers; `http_status` tells which).
    pub async fn health_detailed(&self) -> Result<HealthDetailed, ClientError> {
        let f = &self.contract.fields;
        let raw = self
            .send(RawRequest::get(
                self.contract.paths.health_detailed.as_str(),
            ))
            .await?;
        let endpoint = endpoint_name(&http::Method::GET, &self.contract.paths.health_detailed);
        if raw.status != success::HEALTH_DETAILED && raw.status != 503 {
            return Err(status_error(endpoint, &raw, success::HEALTH_DETAILED));
        }
        let json = raw.json.ok_or_else(|| ClientError::Decode {
            endpoint: endpoint.clone(),
            detail: "the body is not JSON".into(),
            body_excerpt: error::excerpt(&raw.body, 200),
        })?;
        // A 503 may come without the envelope; read what there is.
        let json = match self.unwrap_answer(json.clone()) {
            Some(inner) => inner,
            None => json,
        };
        let services = field(&json, &f.services)
            .and_then(Value::as_object)
            .map(|m| m.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default();
        Ok(HealthDetailed {
            http_status: raw.status,
            status: opt_str(&json, &f.status),
            services,
        })
    }

    /// `GET paths.openapi` → 200, the OpenAPI document.
    pub async fn openapi(&self) -> Result<Value, ClientError> {
        let r = self
            .call(
                http::Method::GET,
                &self.contract.paths.openapi,
                &[],
                None,
                None,
                success::OPENAPI,
            )
            .await?;
        Ok(r.json)
    }

    /// `GET paths.docs` → 200, the HTML.
    pub async fn docs(&self) -> Result<String, ClientError> {
        let raw = self
            .send(RawRequest::get(self.contract.paths.docs.as_str()))
            .await?;
        if raw.status != 200 {
            let endpoint = endpoint_name(&http::Method::GET, &self.contract.paths.docs);
            return Err(status_error(endpoint, &raw, success::DOCS));
        }
        Ok(raw.body)
    }

    /// `POST paths.restart` → 200 `{status: "restarting"}`. Without a session the call
    /// is made with no token (the contract expects 401; the `open_restart` fault 200).
    pub async fn restart(&self, session: Option<&Session>) -> Result<(), ClientError> {
        self.call(
            http::Method::POST,
            &self.contract.paths.restart,
            &[],
            session,
            None,
            success::RESTART,
        )
        .await?;
        Ok(())
    }

    // ---- escape hatch ------------------------------------------------------------

    /// Sends any request and returns whatever came back. Only transport failures
    /// (unreachable, timeout, broken connection) are errors.
    pub async fn send(&self, request: RawRequest) -> Result<RawResponse, ClientError> {
        let (status, headers, body) = self.exchange(&request).await?;
        Ok(self.raw_response(status, headers, &body))
    }

    /// Sends a request and reads the whole answer, without parsing it.
    async fn exchange(
        &self,
        request: &RawRequest,
    ) -> Result<(u16, http::HeaderMap, Bytes), ClientError> {
        let endpoint = || format!("{} {}", request.method, request.path);
        let http_request = self
            .http_request(request)
            .map_err(|detail| ClientError::Transport {
                endpoint: endpoint(),
                detail,
            })?;
        let again = || self.http_request(request).ok();
        // Boxed: the exchange's future is ~1.9 KiB, and inline it would make every
        // caller's future (up to the step's) that much larger, each copied as it
        // starts; one allocation is cheaper than those copies.
        let (parts, body) = Box::pin(self.http.exchange(&self.base.origin, http_request, again))
            .await
            .map_err(|e| self.transport_error(&endpoint(), e))?;
        let status = parts.status.as_u16();
        tracing::debug!(method = %request.method, path = %request.path, status, bytes = body.len(), "answered");
        Ok((status, parts.headers, body))
    }

    /// An answer with its body read as text (lossily, if it is not UTF-8), parsed as
    /// JSON (when it is), and its error envelope read.
    fn raw_response(&self, status: u16, headers: http::HeaderMap, body: &[u8]) -> RawResponse {
        let body = String::from_utf8_lossy(body).into_owned();
        let json: Option<Value> = serde_json::from_str(&body).ok();
        let (error_code, error_message) = json
            .as_ref()
            .and_then(|j| error_envelope(&self.contract.fields, j))
            .unwrap_or_default();
        RawResponse {
            status,
            headers,
            body,
            json,
            error_code,
            error_message,
        }
    }

    /// The `http::Request` for a [`RawRequest`], in origin form (path and query) with
    /// the base URL's `Host` unless the request names its own; an unusable header or
    /// path is reported in words.
    fn http_request(
        &self,
        request: &RawRequest,
    ) -> Result<http::Request<http_body_util::Full<bytes::Bytes>>, String> {
        let prefix = &self.base.prefix;
        let path = if prefix.is_empty() {
            std::borrow::Cow::Borrowed(request.path.as_str())
        } else {
            std::borrow::Cow::Owned(format!("{prefix}{}", request.path))
        };
        // Most paths are plain; the url crate percent-encodes the rest (spaces,
        // non-ASCII) the way a browser would.
        let uri: http::Uri = match http::Uri::try_from(path.as_ref()) {
            Ok(uri) => uri,
            Err(_) => {
                let url = format!("{}{}", self.base.url, request.path);
                let parsed = url::Url::parse(&url)
                    .map_err(|e| format!("cannot build a URL from {url:?}: {e}"))?;
                let origin_form = match parsed.query() {
                    Some(q) => format!("{}?{q}", parsed.path()),
                    None => parsed.path().to_owned(),
                };
                http::Uri::try_from(origin_form)
                    .map_err(|e| format!("cannot build a URL from {url:?}: {e}"))?
            }
        };
        // Built in place rather than with `http::request::Builder`, which moves its
        // parts along with every header: this runs once per request under load.
        let body = match &request.body {
            RawBody::Empty => bytes::Bytes::new(),
            RawBody::Json(v) => serde_json::to_vec(v)
                .map_err(|e| format!("cannot encode the JSON body: {e}"))?
                .into(),
            RawBody::Text { text, .. } => bytes::Bytes::from(text.clone()),
        };
        let mut http_request = http::Request::new(http_body_util::Full::new(body));
        *http_request.method_mut() = request.method.clone();
        *http_request.uri_mut() = uri;
        let headers = http_request.headers_mut();
        headers.insert(http::header::HOST, self.base.origin.host().clone());
        headers.insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static(USER_AGENT),
        );
        let value = |v: &str| {
            http::HeaderValue::from_str(v)
                .map_err(|e| format!("cannot send header value {v:?}: {e}"))
        };
        if let Some(token) = &request.bearer {
            headers.insert(
                http::header::AUTHORIZATION,
                value(&format!("Bearer {token}"))?,
            );
        }
        match &request.body {
            RawBody::Empty => {}
            RawBody::Json(_) => {
                headers.insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                );
            }
            RawBody::Text { content_type, .. } => {
                headers.insert(http::header::CONTENT_TYPE, value(content_type)?);
            }
        }
        for (k, v) in &request.headers {
            let name = http::HeaderName::from_bytes(k.as_bytes())
                .map_err(|e| format!("cannot send header name {k:?}: {e}"))?;
            let v = value(v)?;
            // A `Host` of the request's own replaces the base URL's.
            if name == http::header::HOST {
                headers.insert(name, v);
            } else {
                headers.append(name, v);
            }
        }
        Ok(http_request)
    }

    // ---- WebSockets --------------------------------------------------------------

    /// Opens the agent-events socket for `session`, authenticated by subprotocols or
    /// by header, on the primary or legacy path, and reads `connection_established`.
    pub async fn agent_events(
        &self,
        session: &Session,
        auth: SocketAuth,
        path: SocketPath,
    ) -> Result<AgentEventSocket, ClientError> {
        events::connect(self, Some(session), auth, path).await
    }

    /// Opens the agent-events socket with no token at all (the contract expects 401).
    pub async fn agent_events_anonymous(
        &self,
        path: SocketPath,
    ) -> Result<AgentEventSocket, ClientError> {
        events::connect(self, None, SocketAuth::Header, path).await
    }

    /// Opens the dashboard socket sending `Origin: origin`, or the configured
    /// `websocket.dashboard_origin` when `None`.
    pub async fn dashboard(&self, origin: Option<&str>) -> Result<DashboardSocket, ClientError> {
        let origin = origin
            .unwrap_or(&self.contract.websocket.dashboard_origin)
            .to_owned();
        dashboard::connect(self, Some(origin)).await
    }

    /// Opens the dashboard socket without an `Origin` header (a foreign origin).
    pub async fn dashboard_without_origin(&self) -> Result<DashboardSocket, ClientError> {
        dashboard::connect(self, None).await
    }

    /// The `ws://` / `wss://` URL of a path.
    pub fn ws_url(&self, path: &str) -> String {
        let base = &self.base.url;
        let ws_base = if let Some(rest) = base.strip_prefix("https://") {
            format!("wss://{rest}")
        } else if let Some(rest) = base.strip_prefix("http://") {
            format!("ws://{rest}")
        } else {
            base.to_string()
        };
        format!("{ws_base}{path}")
    }

    // ---- internals ---------------------------------------------------------------

    /// One contract call: builds the request, checks the promised status, parses JSON.
    async fn call<'a>(
        &self,
        method: http::Method,
        path: &'a ApiPath,
        params: &[(&str, &str)],
        session: Option<&Session>,
        body: Option<Value>,
        expected: u16,
    ) -> Result<Reply<'a>, ClientError> {
        let answer = self
            .call_text(method, path, params, session, body, expected)
            .await?;
        match serde_json::from_slice(&answer.body) {
            Ok(json) => match self.unwrap_answer(json) {
                Some(json) => Ok(Reply { answer, json }),
                None => Err(answer.decode(format!(
                    "no answer at `{}` (fields.answer)",
                    self.contract.fields.answer
                ))),
            },
            Err(_) => Err(not_json(&answer)),
        }
    }

    /// One contract call up to the promised status, its body not parsed yet (for
    /// answers read with [`pick::pick`]).
    async fn call_text<'a>(
        &self,
        method: http::Method,
        path: &'a ApiPath,
        params: &[(&str, &str)],
        session: Option<&Session>,
        body: Option<Value>,
        expected: u16,
    ) -> Result<Answer<'a>, ClientError> {
        let mut request = RawRequest::new(method.clone(), path.fill(params));
        if let Some(s) = session {
            request = request.session(s);
        }
        if let Some(b) = body {
            request = request.json(b);
        }
        let (status, headers, body) = self.exchange(&request).await?;
        if status != expected {
            let raw = self.raw_response(status, headers, &body);
            let err = status_error(endpoint_name(&method, path), &raw, expected);
            tracing::debug!(%err, "unexpected status");
            return Err(err);
        }
        Ok(Answer { method, path, body })
    }

    fn transport_error(&self, endpoint: &str, e: transport::Failure) -> ClientError {
        match e {
            transport::Failure::TimedOut(after) => ClientError::Timeout {
                endpoint: endpoint.to_owned(),
                after,
            },
            transport::Failure::Connect(e) => ClientError::Unreachable {
                url: self.base.origin.to_string(),
                reason: root_reason(e.as_ref()),
                source: Some(e),
            },
            transport::Failure::Broken(e) => ClientError::Transport {
                endpoint: endpoint.to_owned(),
                detail: root_reason(e.as_ref()),
            },
        }
    }

    /// The part of a successful answer that holds its fields (`fields.answer`).
    fn unwrap_answer(&self, json: Value) -> Option<Value> {
        let at = &self.contract.fields.answer;
        if at.is_empty() {
            Some(json)
        } else {
            field(&json, at).cloned()
        }
    }

    fn req_str(&self, r: &Reply<'_>, v: &Value, key: &str) -> Result<String, ClientError> {
        match field(v, key) {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(other) => Err(decode(
                r,
                format!("field `{key}` is {other}, expected a string"),
            )),
            None => Err(decode(r, format!("missing field `{key}`"))),
        }
    }

    fn req_array<'a>(&self, r: &'a Reply, key: &str) -> Result<&'a Vec<Value>, ClientError> {
        match field(&r.json, key) {
            Some(Value::Array(a)) => Ok(a),
            Some(other) => Err(decode(
                r,
                format!("field `{key}` is {other}, expected a list"),
            )),
            None => Err(decode(r, format!("missing list `{key}`"))),
        }
    }

    fn thread_from(&self, r: &Reply, v: &Value) -> Result<Thread, ClientError> {
        let f = &self.contract.fields;
        Ok(Thread {
            thread_id: self.req_str(r, v, &f.thread_id)?,
            title: opt_str(v, &f.title),
            created_at: opt_str(v, &f.created_at),
        })
    }

    fn message_from(&self, r: &Reply, v: &Value) -> Result<Message, ClientError> {
        let f = &self.contract.fields;
        Ok(Message {
            message_id: self.req_str(r, v, &f.message_id)?,
            thread_id: opt_str(v, &f.thread_id),
            role: self.req_str(r, v, &f.role)?,
            content: self.req_str(r, v, &f.content)?,
            created_at: opt_str(v, &f.created_at),
        })
    }
}

/// Whether every field `/health` is read by is a top-level key of the answer.
fn health_by_keys(contract: &Contract) -> bool {
    let f = &contract.fields;
    f.answer.is_empty()
        && [
            &f.status,
            &f.boot_id,
            &f.version,
            &f.started_at,
            &f.uptime_s,
        ]
        .iter()
        .all(|n| !n.is_empty() && !n.starts_with('/'))
}

/// `POST /api/agent/v2/execute`: how the contract names an endpoint.
fn endpoint_name(method: &http::Method, path: &ApiPath) -> String {
    format!("{method} {path}")
}

fn status_error(endpoint: String, raw: &RawResponse, expected: u16) -> ClientError {
    let message = raw.error_message.clone().or_else(|| {
        let body = raw.body.trim();
        (!body.is_empty()).then(|| error::excerpt(body, 200))
    });
    ClientError::Status {
        endpoint,
        status: raw.status,
        expected,
        code: raw.error_code.clone(),
        message,
    }
}

/// An answer with the promised status whose body is not the JSON the contract promises.
fn not_json(answer: &Answer<'_>) -> ClientError {
    answer.decode("the body is not JSON".into())
}

fn decode(r: &Reply<'_>, detail: String) -> ClientError {
    r.answer.decode(detail)
}

fn parse_base(base_url: &str) -> Result<Base, ClientError> {
    let trimmed = base_url.trim().trim_end_matches('/');
    let invalid = |detail: String| ClientError::InvalidUrl {
        url: base_url.to_owned(),
        detail,
    };
    let parsed = url::Url::parse(trimmed).map_err(|e| invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(invalid(format!(
            "expected http://host:port, got scheme {:?}",
            parsed.scheme()
        )));
    }
    Ok(Base {
        url: trimmed.to_owned(),
        origin: transport::Origin::of(&parsed).map_err(invalid)?,
        prefix: parsed.path().trim_end_matches('/').to_owned(),
    })
}
