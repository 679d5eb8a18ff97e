//! `/docs`: an HTML page rendered on the server from the same OpenAPI document
//! as `/openapi.json`. Self-contained: inline CSS, no script, no external
//! stylesheet, font or image, so it renders with no network access.

use std::fmt::Write;

use serde_json::Value;

/// Renders the OpenAPI document (as JSON) to a complete HTML page that links
/// to the machine-readable document at `openapi_path`.
pub fn render(doc: &Value, openapi_path: &str) -> String {
    let mut out = String::with_capacity(64 * 1024);
    let title = esc(str_at(doc, &["info", "title"]).unwrap_or("API"));
    let version = esc(str_at(doc, &["info", "version"]).unwrap_or(""));
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{title} {version} — API</title><style>{CSS}</style></head><body>\
         <header><h1>{title} <small>{version}</small></h1><p>{}</p>\
         <p>Machine-readable: <a href=\"{openapi}\">{openapi}</a></p></header><main>",
        esc(str_at(doc, &["info", "description"]).unwrap_or("")),
        openapi = esc(openapi_path),
    );

    out.push_str("<nav><h2>Routes</h2><ul>");
    let paths = doc.get("paths").and_then(Value::as_object);
    for (path, item) in paths.into_iter().flatten() {
        for (method, op) in methods(item) {
            let _ = write!(
                out,
                "<li><a href=\"#{}\"><span class=\"m {method}\">{}</span> <code>{}</code></a> {}</li>",
                anchor(method, path),
                method.to_uppercase(),
                esc(path),
                esc(op.get("summary").and_then(Value::as_str).unwrap_or("")),
            );
        }
    }
    out.push_str("</ul></nav>");

    for (path, item) in paths.into_iter().flatten() {
        for (method, op) in methods(item) {
            render_operation(&mut out, path, method, op);
        }
    }

    out.push_str("<section><h2>Schemas</h2>");
    if let Some(schemas) = doc
        .pointer("/components/schemas")
        .and_then(Value::as_object)
    {
        for (name, schema) in schemas {
            let _ = write!(
                out,
                "<div class=\"schema\" id=\"schema-{0}\"><h3>{0}</h3>",
                esc(name)
            );
            render_schema(&mut out, schema);
            out.push_str("</div>");
        }
    }
    out.push_str("</section></main></body></html>\n");
    out
}

const CSS: &str = "body{font-family:system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}\
header{background:#20232a;color:#fff;padding:1rem 2rem}header a{color:#9cf}\
main{padding:1rem 2rem;max-width:70rem}small{font-weight:normal;opacity:.7}\
code{font-family:ui-monospace,monospace}\
.op{background:#fff;border:1px solid #ddd;border-radius:6px;margin:1rem 0;padding:.5rem 1rem}\
.m{display:inline-block;min-width:4.5rem;text-align:center;border-radius:4px;color:#fff;font-weight:bold;padding:.1rem .3rem}\
.get{background:#2b7bb9}.post{background:#2f9e44}.put{background:#e67700}.delete{background:#c92a2a}\
table{border-collapse:collapse;margin:.3rem 0}td,th{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}\
nav ul{list-style:none;padding:0}nav li{margin:.2rem 0}nav a{text-decoration:none;color:inherit}\
.schema{background:#fff;border:1px solid #ddd;border-radius:6px;margin:.5rem 0;padding:.3rem 1rem}";

const METHODS: [&str; 7] = ["get", "post", "put", "patch", "delete", "head", "options"];

fn methods(item: &Value) -> impl Iterator<Item = (&'static str, &Value)> {
    METHODS
        .iter()
        .filter_map(move |m| item.get(*m).map(|op| (*m, op)))
}

fn render_operation(out: &mut String, path: &str, method: &str, op: &Value) {
    let _ = write!(
        out,
        "<div class=\"op\" id=\"{}\"><h3><span class=\"m {method}\">{}</span> <code>{}</code></h3>",
        anchor(method, path),
        method.to_uppercase(),
        esc(path)
    );
    for key in ["summary", "description"] {
        if let Some(text) = op.get(key).and_then(Value::as_str) {
            let _ = write!(out, "<p>{}</p>", esc(text));
        }
    }
    if op.get("security").is_some() {
        out.push_str(
            "<p><strong>Auth:</strong> <code>Authorization: Bearer &lt;JWT&gt;</code></p>",
        );
    }
    if let Some(params) = op.get("parameters").and_then(Value::as_array) {
        out.push_str("<h4>Parameters</h4><table><tr><th>name</th><th>in</th><th>required</th><th>description</th></tr>");
        for p in params {
            let _ = write!(
                out,
                "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(p.get("name").and_then(Value::as_str).unwrap_or("")),
                esc(p.get("in").and_then(Value::as_str).unwrap_or("")),
                p.get("required").and_then(Value::as_bool).unwrap_or(false),
                esc(p.get("description").and_then(Value::as_str).unwrap_or("")),
            );
        }
        out.push_str("</table>");
    }
    if let Some(body) = op.get("requestBody") {
        out.push_str("<h4>Request body</h4>");
        if let Some(d) = body.get("description").and_then(Value::as_str) {
            let _ = write!(out, "<p>{}</p>", esc(d));
        }
        if let Some(schema) = body.pointer("/content/application~1json/schema") {
            render_schema(out, schema);
        }
    }
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        out.push_str(
            "<h4>Responses</h4><table><tr><th>status</th><th>description</th><th>body</th></tr>",
        );
        for (status, r) in responses {
            let schema = r
                .get("content")
                .and_then(Value::as_object)
                .and_then(|c| c.values().next())
                .and_then(|c| c.get("schema"));
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(status),
                esc(r.get("description").and_then(Value::as_str).unwrap_or("")),
                schema.map(type_name).unwrap_or_default(),
            );
        }
        out.push_str("</table>");
    }
    out.push_str("</div>");
}

/// A schema as a table of its properties (or a one-line type).
fn render_schema(out: &mut String, schema: &Value) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        let _ = write!(out, "<p>{}</p>", type_name(schema));
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str(
        "<table><tr><th>field</th><th>type</th><th>required</th><th>description</th></tr>",
    );
    for (name, p) in props {
        let _ = write!(
            out,
            "<tr><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(name),
            type_name(p),
            required.contains(&name.as_str()),
            esc(p.get("description").and_then(Value::as_str).unwrap_or("")),
        );
    }
    out.push_str("</table>");
}

/// Short HTML for a schema's type, linking `$ref`s to their schema.
fn type_name(schema: &Value) -> String {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.rsplit('/').next().unwrap_or(r);
        return format!("<a href=\"#schema-{0}\">{0}</a>", esc(name));
    }
    if let Some(items) = schema.get("items") {
        return format!("array of {}", type_name(items));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(list) = schema.get(combinator).and_then(Value::as_array) {
            return list.iter().map(type_name).collect::<Vec<_>>().join(" | ");
        }
    }
    match schema.get("type") {
        Some(Value::String(t)) => esc(t),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .map(esc)
            .collect::<Vec<_>>()
            .join(" | "),
        _ => "object".into(),
    }
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

fn anchor(method: &str, path: &str) -> String {
    let slug: String = path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    format!("{method}{slug}")
}

/// Escapes text for HTML.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}
