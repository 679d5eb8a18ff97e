//! Seeded faults (contract §9): switches that make the stack reproduce, on
//! purpose, a failure described in the source reports. With no fault set the stack
//! is correct; each fault changes only what its name says. In dialect B
//! ([`crate::dialect`]) each fault applies to the dialect's equivalent route or
//! event (e.g. `missing_v2_execute` removes `POST /v2/runs`, and
//! `drop_event:agent_thinking` drops both thinking events).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::events::AgentEventKind;

/// The set of faults parsed from `FAULTS` (comma-separated).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Faults {
    /// `missing_v2_execute`: `/api/agent/v2/execute` is not routed.
    pub missing_v2_execute: bool,
    /// `ws_path_500`: the primary agent-events path answers HTTP 500.
    pub ws_path_500: bool,
    /// `no_subprotocol_echo`: the handshake selects no subprotocol.
    pub no_subprotocol_echo: bool,
    /// `drop_event:<type>`: that event is never sent.
    pub drop_event: Option<AgentEventKind>,
    /// `reorder_events`: `tool_completed` is sent before `tool_executing`.
    pub reorder_events: bool,
    /// `leak_events`: agent events go to every connected user.
    pub leak_events: bool,
    /// `volatile_messages`: messages live in memory only.
    pub volatile_messages: bool,
    /// `no_comeback`: after `/admin/restart`, `/health` never turns healthy again.
    pub no_comeback: bool,
    /// `open_restart`: `/admin/restart` needs no token.
    pub open_restart: bool,
    /// `accept_unsigned_jwt`: tokens with `alg: none` are accepted.
    pub accept_unsigned_jwt: bool,
    /// `no_origin_check`: the dashboard accepts any `Origin`.
    pub no_origin_check: bool,
    /// `no_connection_limit`: the per-IP dashboard limit is not enforced.
    pub no_connection_limit: bool,
    /// `stats_stall`: each dashboard connection gets only its first `stats_update`.
    pub stats_stall: bool,
    /// `slow_agent:<ms>`: each run takes that much longer.
    pub slow_agent: Option<Duration>,
}

/// An unusable `FAULTS` entry.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FaultsError {
    /// Not a fault name of the contract.
    #[error("unknown fault {0:?} (known: {KNOWN})")]
    Unknown(String),
    /// `drop_event:` with something that is not one of the five agent events.
    #[error(
        "drop_event:{0:?} names no agent event (one of agent_started, agent_thinking, tool_executing, tool_completed, agent_completed)"
    )]
    UnknownEvent(String),
    /// `slow_agent:` without a whole number of milliseconds.
    #[error("slow_agent:{0:?} needs a whole number of milliseconds")]
    BadDelay(String),
    /// A fault without an argument was given one, or the reverse.
    #[error("fault {0:?} is malformed (expected e.g. drop_event:agent_thinking or slow_agent:200)")]
    Malformed(String),
}

const KNOWN: &str = "missing_v2_execute, ws_path_500, no_subprotocol_echo, drop_event:<type>, \
    reorder_events, leak_events, volatile_messages, no_comeback, open_restart, \
    accept_unsigned_jwt, no_origin_check, no_connection_limit, stats_stall, slow_agent:<ms>";

impl Faults {
    /// True when no fault is set: the stack follows the contract.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

impl FromStr for Faults {
    type Err = FaultsError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut f = Faults::default();
        for entry in s.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (name, arg) = match entry.split_once(':') {
                Some((n, a)) => (n.trim(), Some(a.trim())),
                None => (entry, None),
            };
            let flag = match (name, arg) {
                ("drop_event", Some(a)) => {
                    f.drop_event = Some(
                        a.parse()
                            .map_err(|_| FaultsError::UnknownEvent(a.to_owned()))?,
                    );
                    continue;
                }
                ("slow_agent", Some(a)) => {
                    let ms: u64 = a.parse().map_err(|_| FaultsError::BadDelay(a.to_owned()))?;
                    f.slow_agent = Some(Duration::from_millis(ms));
                    continue;
                }
                ("drop_event" | "slow_agent", None) => {
                    return Err(FaultsError::Malformed(entry.to_owned()));
                }
                (_, None) => match name {
                    "missing_v2_execute" => &mut f.missing_v2_execute,
                    "ws_path_500" => &mut f.ws_path_500,
                    "no_subprotocol_echo" => &mut f.no_subprotocol_echo,
                    "reorder_events" => &mut f.reorder_events,
                    "leak_events" => &mut f.leak_events,
                    "volatile_messages" => &mut f.volatile_messages,
                    "no_comeback" => &mut f.no_comeback,
                    "open_restart" => &mut f.open_restart,
                    "accept_unsigned_jwt" => &mut f.accept_unsigned_jwt,
                    "no_origin_check" => &mut f.no_origin_check,
                    "no_connection_limit" => &mut f.no_connection_limit,
                    "stats_stall" => &mut f.stats_stall,
                    _ => return Err(FaultsError::Unknown(entry.to_owned())),
                },
                (_, Some(_)) => {
                    let known_flag = KNOWN.split(", ").any(|k| k == name);
                    return Err(if known_flag {
                        FaultsError::Malformed(entry.to_owned())
                    } else {
                        FaultsError::Unknown(entry.to_owned())
                    });
                }
            };
            *flag = true;
        }
        Ok(f)
    }
}

impl fmt::Display for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut names: Vec<String> = Vec::new();
        let flags = [
            (self.missing_v2_execute, "missing_v2_execute"),
            (self.ws_path_500, "ws_path_500"),
            (self.no_subprotocol_echo, "no_subprotocol_echo"),
            (self.reorder_events, "reorder_events"),
            (self.leak_events, "leak_events"),
            (self.volatile_messages, "volatile_messages"),
            (self.no_comeback, "no_comeback"),
            (self.open_restart, "open_restart"),
            (self.accept_unsigned_jwt, "accept_unsigned_jwt"),
            (self.no_origin_check, "no_origin_check"),
            (self.no_connection_limit, "no_connection_limit"),
            (self.stats_stall, "stats_stall"),
        ];
        names.extend(
            flags
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, n)| n.to_string()),
        );
        if let Some(kind) = self.drop_event {
            names.push(format!("drop_event:{}", kind.as_str()));
        }
        if let Some(d) = self.slow_agent {
            names.push(format!("slow_agent:{}", d.as_millis()));
        }
        f.write_str(&names.join(","))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_fault() {
        let all = "missing_v2_execute,ws_path_500,no_subprotocol_echo,drop_event:agent_thinking,\
            reorder_events,leak_events,volatile_messages,no_comeback,open_restart,\
            accept_unsigned_jwt,no_origin_check,no_connection_limit,stats_stall,slow_agent:250";
        let f: Faults = all.parse().unwrap();
        assert!(f.missing_v2_execute && f.ws_path_500 && f.no_subprotocol_echo);
        assert_eq!(f.drop_event, Some(AgentEventKind::AgentThinking));
        assert_eq!(f.slow_agent, Some(Duration::from_millis(250)));
        assert!(f.stats_stall && f.no_connection_limit && f.no_origin_check);
        // Display round-trips.
        assert_eq!(f.to_string().parse::<Faults>().unwrap(), f);
    }

    #[test]
    fn empty_is_correct_stack() {
        assert!("".parse::<Faults>().unwrap().is_empty());
        assert!(" , ".parse::<Faults>().unwrap().is_empty());
    }

    #[test]
    fn rejects_unknown_and_malformed() {
        assert!(matches!(
            "nope".parse::<Faults>(),
            Err(FaultsError::Unknown(_))
        ));
        assert!(matches!(
            "drop_event:agent_sleeping".parse::<Faults>(),
            Err(FaultsError::UnknownEvent(_))
        ));
        assert!(matches!(
            "slow_agent:-3".parse::<Faults>(),
            Err(FaultsError::BadDelay(_))
        ));
        assert!(matches!(
            "drop_event".parse::<Faults>(),
            Err(FaultsError::Malformed(_))
        ));
        assert!(matches!(
            "leak_events:1".parse::<Faults>(),
            Err(FaultsError::Malformed(_))
        ));
    }
}
