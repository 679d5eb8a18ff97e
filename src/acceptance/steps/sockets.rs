//! The agent-events WebSocket: paths, authentication, ping (contract §5).

use cucumber::{given, then, when};

use super::{Seen, watch};
use crate::acceptance::tokens::{TokenKind, mint};
use crate::acceptance::world::GoldenWorld;
use crate::client::{ClientError, Session, SocketAuth, SocketPath};

fn path_of(words: &str) -> SocketPath {
    match words {
        "legacy" => SocketPath::Legacy,
        _ => SocketPath::Primary,
    }
}

#[given(expr = "{string} has the agent-events socket open")]
async fn socket_open(w: &mut GoldenWorld, name: String) {
    w.ensure_socket(&name, SocketPath::Primary).await;
}

#[given(expr = "{string} has the agent-events socket open on the legacy path")]
async fn socket_open_legacy(w: &mut GoldenWorld, name: String) {
    w.ensure_socket(&name, SocketPath::Legacy).await;
}

#[when(
    regex = r#"^"([^"]+)" opens the agent-events socket on the (primary|legacy) path with (subprotocol auth|the authorization header)$"#
)]
async fn opens_socket(w: &mut GoldenWorld, name: String, path: String, auth: String) {
    let auth = if auth == "subprotocol auth" {
        SocketAuth::Subprotocol
    } else {
        SocketAuth::Header
    };
    let socket = w
        .open_socket(&name, auth, path_of(&path))
        .await
        .unwrap_or_else(|e| {
            panic!("opening the agent-events socket on the {path} path failed: {e}")
        });
    w.probe = Some(socket);
}

#[then(expr = "the connection is established for {string}")]
async fn established_for(w: &mut GoldenWorld, name: String) {
    let expected = w.user(&name).user_id.clone();
    let socket = w.probe.as_ref().expect("a socket was opened");
    let got = socket.established().user_id.clone();
    assert_eq!(
        got, expected,
        "connection_established names user {got:?}, expected {expected:?}"
    );
}

#[then("a ping is answered with a pong")]
async fn ping_pong(w: &mut GoldenWorld) {
    let socket = w.probe.as_mut().expect("a socket was opened");
    if let Err(e) = socket.ping().await {
        panic!("the ping was not answered with a pong: {e}");
    }
}

#[then(expr = "the server selected the {string} subprotocol")]
async fn selected_subprotocol(w: &mut GoldenWorld, expected: String) {
    let socket = w.probe.as_ref().expect("a socket was opened");
    let configured = &w.contract().websocket.subprotocol;
    assert_eq!(
        &expected, configured,
        "the feature names {expected:?}, the configuration's websocket.subprotocol is {configured:?}"
    );
    // What the server must select is the configuration's (websocket.selects): the
    // subprotocol itself, or the offered token protocol.
    assert_eq!(
        socket.subprotocol(),
        socket.expected_subprotocol(),
        "the handshake selected {:?}; browsers drop a connection whose offered subprotocol is not selected",
        socket.subprotocol()
    );
}

#[when(
    regex = r"^someone tries to open the agent-events socket on the (primary|legacy) path with (.+)$"
)]
async fn tries_socket_with(w: &mut GoldenWorld, path: String, token: String) {
    let kind =
        TokenKind::from_words(&token).unwrap_or_else(|| panic!("unknown kind of token: {token:?}"));
    let user_id = w
        .users
        .values()
        .find_map(|u| u.user_id.clone())
        .unwrap_or_default();
    let token = mint(kind, &user_id, w.jwt_secret().as_deref()).unwrap_or_else(|e| panic!("{e}"));
    let client = w.client();
    let result = match token {
        Some(token) => {
            client
                .agent_events(
                    &Session::from_token(token),
                    SocketAuth::Subprotocol,
                    path_of(&path),
                )
                .await
        }
        None => client.agent_events_anonymous(path_of(&path)).await,
    };
    match result {
        Ok(socket) => {
            w.probe = Some(socket);
            w.last_socket_error = None;
        }
        Err(e) => w.last_socket_error = Some(e),
    }
}

#[then(expr = "the upgrade is refused with status {int}")]
async fn upgrade_refused(w: &mut GoldenWorld, status: u16) {
    match &w.last_socket_error {
        Some(ClientError::Handshake {
            status: Some(got), ..
        }) if *got == status => {}
        Some(other) => panic!("expected the upgrade to be refused with HTTP {status}; {other}"),
        None => {
            panic!("expected the upgrade to be refused with HTTP {status}; the socket was opened")
        }
    }
}

#[then(expr = "{string}'s agent-events socket is closed by the server")]
async fn closed_by_server(w: &mut GoldenWorld, name: String) {
    let timeout = w
        .timeouts()
        .socket_connect
        .max(std::time::Duration::from_secs(5));
    let Some(socket) = w.sockets.get_mut(&name) else {
        panic!("{name:?} has no agent-events socket open");
    };
    let closed = watch(socket, timeout, |frame| match frame {
        Ok(_) => Seen::Continue,
        Err(ClientError::SocketClosed { code: 1012, .. }) => Seen::Done(()),
        Err(e @ (ClientError::SocketClosed { .. } | ClientError::SocketDied { .. })) => panic!(
            "expected the server to close {name:?}'s agent-events socket with 1012 (service restart); {e}"
        ),
        Err(_) => Seen::Continue,
    })
    .await;
    assert!(
        closed.is_some(),
        "the server did not close {name:?}'s agent-events socket within {timeout:?} of the restart"
    );
    w.sockets.remove(&name);
}

#[then(expr = "{string} reconnects the agent-events socket")]
async fn reconnects(w: &mut GoldenWorld, name: String) {
    w.reconnect(&name).await;
}
