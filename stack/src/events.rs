//! Event fan-out.
//!
//! * [`EventHub`]: agent events of a run go to every agent-events WebSocket that
//!   the run's owner has open, and to nobody else (unless `leak_events`).
//! * [`Dashboard`]: one broadcast channel to every dashboard connection
//!   (`query_complete`, `error`), plus the per-IP connection accounting.

use std::collections::HashMap;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use axum::extract::ws::Utf8Bytes;
use serde_json::{Value, json};
use tokio::sync::{broadcast, mpsc};

/// The five kinds of agent event, in contract order (dialect B emits
/// `AgentThinking` twice, see [`crate::dialect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AgentEventKind {
    /// seq 1.
    AgentStarted,
    /// seq 2.
    AgentThinking,
    /// seq 3.
    ToolExecuting,
    /// seq 4.
    ToolCompleted,
    /// seq 5.
    AgentCompleted,
}

impl AgentEventKind {
    /// All five, in order.
    pub const ALL: [AgentEventKind; 5] = [
        Self::AgentStarted,
        Self::AgentThinking,
        Self::ToolExecuting,
        Self::ToolCompleted,
        Self::AgentCompleted,
    ];

    /// The `type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentStarted => "agent_started",
            Self::AgentThinking => "agent_thinking",
            Self::ToolExecuting => "tool_executing",
            Self::ToolCompleted => "tool_completed",
            Self::AgentCompleted => "agent_completed",
        }
    }
}

impl FromStr for AgentEventKind {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Self::ALL.into_iter().find(|k| k.as_str() == s).ok_or(())
    }
}

/// Builds an agent event frame of the contract (§5); `seq` is the event's
/// position in its run ([`crate::dialect::Dialect::seq`]). Dialect B's frames are
/// built by [`crate::dialect::Dialect::agent_frame`].
pub fn agent_event(
    kind: AgentEventKind,
    seq: u8,
    run_id: &str,
    thread_id: &str,
    data: Value,
) -> Utf8Bytes {
    json!({
        "type": kind.as_str(),
        "run_id": run_id,
        "thread_id": thread_id,
        "seq": seq,
        "timestamp": crate::now(),
        "data": data,
    })
    .to_string()
    .into()
}

type Subscribers = HashMap<String, Vec<(u64, mpsc::UnboundedSender<Utf8Bytes>)>>;

/// Per-user fan-out of agent events.
#[derive(Debug)]
pub struct EventHub {
    subs: RwLock<Subscribers>,
    next_id: AtomicU64,
    open: AtomicUsize,
    leak: bool,
}

/// One agent-events connection's registration; unregisters on drop.
#[derive(Debug)]
pub struct Subscription {
    hub: Arc<EventHub>,
    user_id: String,
    id: u64,
    /// Frames for this connection.
    pub rx: mpsc::UnboundedReceiver<Utf8Bytes>,
}

impl EventHub {
    /// `leak` is the `leak_events` fault.
    pub fn new(leak: bool) -> Self {
        Self {
            subs: RwLock::new(HashMap::new()),
            next_id: AtomicU64::new(1),
            open: AtomicUsize::new(0),
            leak,
        }
    }

    /// Registers a connection of `user_id`.
    pub fn subscribe(self: &Arc<Self>, user_id: &str) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = mpsc::unbounded_channel();
        self.subs
            .write()
            .expect("hub lock")
            .entry(user_id.to_owned())
            .or_default()
            .push((id, tx));
        self.open.fetch_add(1, Ordering::Relaxed);
        Subscription {
            hub: self.clone(),
            user_id: user_id.to_owned(),
            id,
            rx,
        }
    }

    /// Sends a frame to `user_id`'s connections (to all with `leak_events`).
    pub fn publish(&self, user_id: &str, frame: &Utf8Bytes) {
        let subs = self.subs.read().expect("hub lock");
        if self.leak {
            for tx in subs.values().flatten() {
                let _ = tx.1.send(frame.clone());
            }
        } else if let Some(list) = subs.get(user_id) {
            for (_, tx) in list {
                let _ = tx.send(frame.clone());
            }
        }
    }

    /// Open agent-events connections.
    pub fn open_count(&self) -> usize {
        self.open.load(Ordering::Relaxed)
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut subs = self.hub.subs.write().expect("hub lock");
        if let Some(list) = subs.get_mut(&self.user_id) {
            list.retain(|(id, _)| *id != self.id);
            if list.is_empty() {
                subs.remove(&self.user_id);
            }
        }
        self.hub.open.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Dashboard broadcast and connection accounting.
#[derive(Debug)]
pub struct Dashboard {
    tx: broadcast::Sender<Utf8Bytes>,
    per_ip: Mutex<HashMap<IpAddr, usize>>,
    active: AtomicUsize,
}

/// An admitted dashboard connection; frees its slot on drop.
#[derive(Debug)]
pub struct DashboardSlot {
    dashboard: Arc<Dashboard>,
    ip: IpAddr,
}

impl Default for Dashboard {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(4096).0,
            per_ip: Mutex::new(HashMap::new()),
            active: AtomicUsize::new(0),
        }
    }
}

impl Dashboard {
    /// Sends `{"type": <kind>, "timestamp", "data": data}` to every dashboard.
    pub fn broadcast(&self, kind: &str, data: Value) {
        if self.tx.receiver_count() == 0 {
            return;
        }
        let frame = json!({"type": kind, "timestamp": crate::now(), "data": data});
        let _ = self.tx.send(frame.to_string().into());
    }

    /// A receiver of future broadcasts.
    pub fn subscribe(&self) -> broadcast::Receiver<Utf8Bytes> {
        self.tx.subscribe()
    }

    /// Takes a slot for `ip`, or `None` when `ip` already has `limit` open
    /// (`limit` of `None` disables the check: the `no_connection_limit` fault).
    pub fn admit(self: &Arc<Self>, ip: IpAddr, limit: Option<usize>) -> Option<DashboardSlot> {
        let mut per_ip = self.per_ip.lock().expect("dashboard lock");
        let n = per_ip.entry(ip).or_insert(0);
        if limit.is_some_and(|max| *n >= max) {
            return None;
        }
        *n += 1;
        self.active.fetch_add(1, Ordering::Relaxed);
        Some(DashboardSlot {
            dashboard: self.clone(),
            ip,
        })
    }

    /// Open (admitted) dashboard connections.
    pub fn active(&self) -> usize {
        self.active.load(Ordering::Relaxed)
    }
}

impl Drop for DashboardSlot {
    fn drop(&mut self) {
        let mut per_ip = self.dashboard.per_ip.lock().expect("dashboard lock");
        if let Some(n) = per_ip.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                per_ip.remove(&self.ip);
            }
        }
        self.dashboard.active.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_reach_only_their_owner() {
        let hub = Arc::new(EventHub::new(false));
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish("a", &"x".to_string().into());
        assert_eq!(a.rx.try_recv().unwrap().as_str(), "x");
        assert!(b.rx.try_recv().is_err());
        assert_eq!(hub.open_count(), 2);
        drop(a);
        assert_eq!(hub.open_count(), 1);
    }

    #[test]
    fn leak_reaches_everyone() {
        let hub = Arc::new(EventHub::new(true));
        let _a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.publish("a", &"x".to_string().into());
        assert!(b.rx.try_recv().is_ok());
    }

    #[test]
    fn slots_are_counted_per_ip() {
        let d = Arc::new(Dashboard::default());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let slots: Vec<_> = (0..2).map(|_| d.admit(ip, Some(2)).unwrap()).collect();
        assert!(d.admit(ip, Some(2)).is_none());
        assert!(d.admit("10.0.0.1".parse().unwrap(), Some(2)).is_some());
        assert!(d.admit(ip, None).is_some());
        drop(slots);
        assert!(d.admit(ip, Some(2)).is_some());
        assert_eq!(d.active(), 0);
    }
}
