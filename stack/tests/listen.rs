//! The stack's listener queues the connections it is not accepting yet (while it is
//! busy, or paused by `docker pause`), beyond the standard library's 128.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpStream;

const CONNECTIONS: usize = 400;

/// How many of `CONNECTIONS` connections to `addr`, which nothing accepts, complete
/// within 500 ms each. One past a full queue has its SYN dropped and waits for the
/// client to resend it a second later.
async fn queued(addr: SocketAddr) -> (usize, Vec<TcpStream>) {
    let mut open = Vec::new();
    for _ in 0..CONNECTIONS {
        match tokio::time::timeout(Duration::from_millis(500), TcpStream::connect(addr)).await {
            Ok(Ok(stream)) => open.push(stream),
            Ok(Err(e)) => panic!("connecting to {addr}: {e}"),
            Err(_) => break,
        }
    }
    (open.len(), open)
}

#[tokio::test]
async fn connections_wait_in_the_queue_while_the_stack_is_not_accepting() {
    let listener = agent_stack::listen("127.0.0.1:0".parse().unwrap()).unwrap();
    let (completed, _open) = queued(listener.local_addr().unwrap()).await;
    assert_eq!(completed, CONNECTIONS, "the listener's queue filled up");
}

/// The check above can fail: a listener with the standard library's queue of 128
/// holds no more than that.
#[tokio::test]
async fn a_listener_with_the_default_queue_drops_connections_past_it() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (completed, _open) = queued(listener.local_addr().unwrap()).await;
    assert!(
        (128..CONNECTIONS).contains(&completed),
        "{completed} connections were queued"
    );
}
