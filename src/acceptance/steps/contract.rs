//! Contract drift: the endpoints the scenarios rely on are published and answer (§7).

use cucumber::{then, when};

use crate::acceptance::world::GoldenWorld;
use crate::client::{ExecuteRequest, RawRequest, Route};
use crate::contract::Paths;

/// Every endpoint the scenarios rely on: (method, path template).
fn endpoints(paths: &Paths) -> Vec<(http::Method, String)> {
    use http::Method;
    [
        (Method::POST, &paths.register),
        (Method::POST, &paths.login),
        (Method::POST, &paths.execute),
        (Method::POST, &paths.execute_legacy),
        (Method::GET, &paths.run_status),
        (Method::GET, &paths.agents_status),
        (Method::GET, &paths.threads),
        (Method::POST, &paths.threads),
        (Method::GET, &paths.thread_messages),
        (Method::POST, &paths.thread_messages),
        (Method::GET, &paths.agent_events),
        (Method::GET, &paths.agent_events_legacy),
        (Method::GET, &paths.dashboard),
        (Method::GET, &paths.health),
        (Method::GET, &paths.health_detailed),
        (Method::GET, &paths.openapi),
        (Method::GET, &paths.docs),
        (Method::POST, &paths.restart),
    ]
    .into_iter()
    .map(|(m, p)| (m, p.as_str().to_owned()))
    .collect()
}

/// `/api/threads/{thread_id}/messages` and `/api/threads/{id}/messages` are the same route.
fn normalize(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    let mut in_param = false;
    for c in path.chars() {
        match c {
            '{' => {
                in_param = true;
                out.push_str("{}");
            }
            '}' => in_param = false,
            _ if in_param => {}
            _ => out.push(c),
        }
    }
    out
}

#[when("the API description is fetched")]
async fn fetch_description(w: &mut GoldenWorld) {
    let doc = w
        .client()
        .openapi()
        .await
        .unwrap_or_else(|e| panic!("fetching the API description failed: {e}"));
    w.fetched.openapi = Some(doc);
}

#[then("it is an OpenAPI 3 document")]
async fn is_openapi3(w: &mut GoldenWorld) {
    let doc = w
        .fetched
        .openapi
        .as_ref()
        .expect("the API description was fetched");
    let version = doc["openapi"].as_str().unwrap_or_default();
    assert!(
        version.starts_with("3."),
        "the document's openapi version is {:?}, expected 3.x",
        doc["openapi"]
    );
    assert!(doc["paths"].is_object(), "the document has no paths object");
}

#[then("it lists every endpoint the scenarios rely on")]
async fn lists_every_endpoint(w: &mut GoldenWorld) {
    let doc = w
        .fetched
        .openapi
        .clone()
        .expect("the API description was fetched");
    let listed: Vec<(String, String)> = doc["paths"]
        .as_object()
        .map(|paths| {
            paths
                .iter()
                .flat_map(|(path, ops)| {
                    let path = normalize(path);
                    ops.as_object()
                        .into_iter()
                        .flat_map(|o| o.keys())
                        .map(move |m| (m.to_uppercase(), path.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    let missing: Vec<String> = endpoints(&w.contract().paths)
        .into_iter()
        .filter(|(method, path)| !listed.contains(&(method.to_string(), normalize(path))))
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        missing.is_empty(),
        "the API description does not list: {}",
        missing.join(", ")
    );
}

#[then(expr = "every endpoint the scenarios rely on answers something other than 404 for {string}")]
async fn every_endpoint_answers(w: &mut GoldenWorld, name: String) {
    let session = w.session(&name);
    let client = w.client();
    // Real ids, so that a 404 can only mean a missing route.
    let thread = client
        .create_thread(&session, Some("contract drift"))
        .await
        .unwrap_or_else(|e| panic!("starting a thread failed: {e}"));
    let run = client
        .execute_agent(
            &session,
            &ExecuteRequest::new("contract drift check").in_thread(&thread.thread_id),
            Route::Legacy,
        )
        .await
        .unwrap_or_else(|e| panic!("starting a run through the legacy route failed: {e}"));
    let restart = w.contract().paths.restart.as_str().to_owned();
    let mut not_found = Vec::new();
    for (method, template) in endpoints(&w.contract().paths) {
        // Calling the restart endpoint would restart a shared stack; the restart
        // scenarios exercise it, and the API description must list it.
        if template == restart {
            continue;
        }
        let paths = &w.contract().paths;
        let filled = if template == paths.thread_messages.as_str() {
            paths
                .thread_messages
                .fill(&[("thread_id", &thread.thread_id)])
        } else if template == paths.run_status.as_str() {
            paths.run_status.fill(&[("run_id", &run.run_id)])
        } else {
            template.clone()
        };
        let mut request = RawRequest::new(method.clone(), filled.clone()).session(&session);
        if method == http::Method::POST {
            request = request.json(serde_json::json!({}));
        }
        match client.send(request).await {
            Ok(r) if r.status == 404 => not_found.push(format!("{method} {filled}")),
            Ok(_) => {}
            Err(e) => not_found.push(format!("{method} {filled} ({e})")),
        }
    }
    assert!(
        not_found.is_empty(),
        "these endpoints answered 404 (or nothing): {}",
        not_found.join(", ")
    );
}

#[when("the API documentation page is fetched")]
async fn fetch_docs(w: &mut GoldenWorld) {
    let html = w
        .client()
        .docs()
        .await
        .unwrap_or_else(|e| panic!("fetching the API documentation failed: {e}"));
    w.fetched.docs_html = Some(html);
}

#[then("it is an HTML page that describes the API")]
async fn docs_describe_api(w: &mut GoldenWorld) {
    let html = w
        .fetched
        .docs_html
        .clone()
        .expect("the documentation was fetched");
    let lower = html.to_lowercase();
    assert!(
        lower.contains("<html"),
        "the documentation is not an HTML page"
    );
    let execute = w.contract().paths.execute.as_str().to_owned();
    assert!(
        html.contains(&execute),
        "the documentation does not mention {execute}"
    );
}

#[then("it loads nothing from another site")]
async fn docs_self_contained(w: &mut GoldenWorld) {
    let html = w
        .fetched
        .docs_html
        .clone()
        .expect("the documentation was fetched")
        .to_lowercase();
    // Anything the browser would fetch: scripts, images, frames, stylesheets, fonts.
    let mut found: Vec<String> = [
        "src=\"http",
        "src='http",
        "src=\"//",
        "src='//",
        "@import",
        "url(http",
        "url(//",
    ]
    .iter()
    .filter(|p| html.contains(*p))
    .map(|p| (*p).to_owned())
    .collect();
    found.extend(
        html.split("<link")
            .skip(1)
            .map(|tag| tag.split('>').next().unwrap_or_default())
            .filter(|tag| tag.contains("href=\"http") || tag.contains("href=\"//"))
            .map(|tag| format!("<link{tag}>")),
    );
    assert!(
        found.is_empty(),
        "the documentation loads from other sites ({found:?}): it will not render without the internet"
    );
}
