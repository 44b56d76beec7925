//! How the rest of the gateway talks to one connection's task: a small queue of events
//! (acknowledgements and downlinks for a device) and a one-way "close now, for this reason".
//!
//! It allocates nothing until something is sent, because most device connections sit idle and
//! every idle connection's bytes count (see the crate docs on memory).

use crate::refusal::Refusal;
use bytes::Bytes;
use dampwatch_wire::topic::TopicKind;
use std::collections::VecDeque;
use std::sync::Mutex;
use tokio::sync::Notify;

/// Downlinks queued for one device beyond this are dropped (the device is not reading; the
/// collector sends the next acknowledgement after its next commit anyway).
pub const MAX_QUEUED_DOWNLINKS: usize = 64;

/// How a connection ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client or the gateway closed it normally.
    Closed,
    /// A newer connection of the same device replaced it (MQTT session takeover).
    TakenOver,
    /// Refused or closed for a reason an operator should see.
    Refused(Refusal),
}

/// A message from the broker for a device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Downlink {
    pub kind: TopicKind,
    pub topic: Bytes,
    pub payload: Bytes,
    pub qos: u8,
    pub retain: bool,
}

/// Something for a connection's task to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// The broker acknowledged the device's publish with this (device-side) packet id.
    Puback(u16),
    Downlink(Downlink),
}

#[derive(Default)]
struct State {
    events: VecDeque<Event>,
    downlinks: usize,
    end: Option<End>,
}

/// One connection's inbox.
#[derive(Default)]
pub struct Mailbox {
    state: Mutex<State>,
    notify: Notify,
}

impl Mailbox {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Queues an event. Returns false (and drops it) for a downlink beyond
    /// [`MAX_QUEUED_DOWNLINKS`] or when the connection is closing.
    pub fn push(&self, event: Event) -> bool {
        {
            let mut s = self.state();
            if s.end.is_some() {
                return false;
            }
            if let Event::Downlink(_) = event {
                if s.downlinks >= MAX_QUEUED_DOWNLINKS {
                    return false;
                }
                s.downlinks += 1;
            }
            s.events.push_back(event);
        }
        self.notify.notify_one();
        true
    }

    /// Asks the connection to end. The first reason given wins.
    pub fn close(&self, end: End) {
        self.state().end.get_or_insert(end);
        self.notify.notify_one();
    }

    /// Moves every queued event into `into`; returns the close reason if one was given.
    pub fn take(&self, into: &mut VecDeque<Event>) -> Option<End> {
        let mut s = self.state();
        if s.end.is_none() {
            into.append(&mut s.events);
            s.downlinks = 0;
            // A burst of downlinks must not leave a large queue allocated on an idle device.
            if s.events.capacity() > 16 {
                s.events = VecDeque::new();
            }
        }
        s.end
    }

    /// Waits until something was pushed or a close was asked for since the last wait.
    pub async fn wait(&self) {
        self.notify.notified().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn close_wins_over_events_and_the_first_reason_sticks() {
        let m = Mailbox::default();
        assert!(m.push(Event::Puback(1)));
        let mut got = VecDeque::new();
        assert_eq!(m.take(&mut got), None);
        assert_eq!(got, VecDeque::from([Event::Puback(1)]));
        m.close(End::TakenOver);
        m.close(End::Closed);
        assert!(!m.push(Event::Puback(2)));
        assert_eq!(m.take(&mut got), Some(End::TakenOver));
    }

    #[test]
    fn downlinks_are_bounded() {
        let m = Mailbox::default();
        let d = Downlink {
            kind: TopicKind::Ack,
            topic: Bytes::from_static(b"t"),
            payload: Bytes::new(),
            qos: 1,
            retain: false,
        };
        for _ in 0..MAX_QUEUED_DOWNLINKS {
            assert!(m.push(Event::Downlink(d.clone())));
        }
        assert!(!m.push(Event::Downlink(d.clone())));
        assert!(m.push(Event::Puback(7)), "acknowledgements are never dropped");
        m.take(&mut VecDeque::new());
        assert!(m.push(Event::Downlink(d)));
    }

    #[tokio::test]
    async fn a_push_before_waiting_is_not_lost() {
        let m = Mailbox::default();
        m.push(Event::Puback(1));
        tokio::time::timeout(std::time::Duration::from_secs(1), m.wait()).await.unwrap();
    }
}
