//! Delivery state: what has been published, what the collector confirmed, and when to resend.
//!
//! A `CommitAck {boot, seq}` means every reading of `boot` up to and including `seq` is in the
//! database. Acknowledgements can arrive late, twice, or from an earlier life of the device,
//! so only one that moves the commit position forward within what was actually published is
//! applied; anything else is ignored (and counted by the caller).

use crate::proto::CommitAck;

/// What became of a commit acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckOutcome {
    /// Every reading up to `seq` is confirmed; `released` readings left the queue.
    Confirmed { seq: u32, released: u32 },
    /// At or below the position already confirmed: a duplicate or a stale acknowledgement.
    Stale,
    /// For another boot of this device.
    OtherBoot,
    /// Beyond any reading this boot has published.
    NotSent,
}

/// Publication and confirmation positions of the current boot.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Delivery {
    /// Highest seq confirmed by the collector (0: none yet).
    pub confirmed_seq: u32,
    /// Highest seq ever published (0: none yet). Everything at or below was sent at least once.
    pub sent_upto: u32,
    /// Lowest seq not yet published since the last rewind.
    pub next_to_send: u32,
    /// Uptime at which unconfirmed published readings are resent, if any are outstanding.
    pub ack_deadline_ms: Option<u64>,
}

impl Delivery {
    pub fn new() -> Self {
        Delivery { confirmed_seq: 0, sent_upto: 0, next_to_send: 1, ack_deadline_ms: None }
    }

    /// Decides what to do with an acknowledgement for `boot`.
    pub fn judge(&self, boot: u32, ack: &CommitAck) -> Result<u32, AckOutcome> {
        if ack.boot != boot {
            Err(AckOutcome::OtherBoot)
        } else if ack.seq <= self.confirmed_seq {
            Err(AckOutcome::Stale)
        } else if ack.seq > self.sent_upto {
            Err(AckOutcome::NotSent)
        } else {
            Ok(ack.seq)
        }
    }

    /// Records a batch ending at `last` published at `now_ms`.
    pub fn published(&mut self, last: u32, now_ms: u64, timeout_ms: u64) {
        self.sent_upto = self.sent_upto.max(last);
        self.next_to_send = last.saturating_add(1);
        if self.ack_deadline_ms.is_none() {
            self.ack_deadline_ms = Some(now_ms.saturating_add(timeout_ms));
        }
    }

    /// Moves the commit position to `seq`. The collector is making progress, so whatever is
    /// still outstanding gets a fresh timeout rather than an early resend.
    pub fn confirm(&mut self, seq: u32, now_ms: u64, timeout_ms: u64) {
        self.confirmed_seq = seq;
        self.next_to_send = self.next_to_send.max(seq.saturating_add(1));
        self.ack_deadline_ms = self.outstanding().then(|| now_ms.saturating_add(timeout_ms));
    }

    /// Whether published readings are still waiting for confirmation.
    pub fn outstanding(&self) -> bool {
        self.next_to_send > self.confirmed_seq.saturating_add(1)
    }

    /// Makes every unconfirmed reading from `floor` on due again.
    pub fn rewind(&mut self, floor: u32) {
        self.next_to_send = floor;
        self.ack_deadline_ms = None;
    }

    pub fn timed_out(&self, now_ms: u64) -> bool {
        self.ack_deadline_ms.is_some_and(|d| now_ms >= d)
    }
}
