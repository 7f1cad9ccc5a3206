//! A connection's outgoing queue, bounded in bytes (§5.3).
//!
//! The matching task never waits for a client: it pushes encoded lines into
//! an unbounded channel and counts the bytes not yet written to the socket.
//! When a push would take that count past [`MAX_QUEUED`], the connection is
//! disconnected instead (its task is told to drop the socket at once), so a
//! client that stops reading costs at most 1 MiB and never slows anyone else.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use tokio::sync::{mpsc, Notify};

/// Bytes of unsent lines a connection may have before it is disconnected.
pub const MAX_QUEUED: usize = 1 << 20;

pub enum Out {
    Line(Bytes),
    /// Write everything before this, then close the connection.
    Close,
}

#[derive(Default)]
struct State {
    /// Bytes pushed and not yet written to the socket.
    queued: AtomicUsize,
    killed: AtomicBool,
    kill: Notify,
}

/// The matching task's end.
pub struct Outbox {
    tx: mpsc::UnboundedSender<Out>,
    state: Arc<State>,
}

/// The connection task's end.
pub struct Inbox {
    rx: mpsc::UnboundedReceiver<Out>,
    state: Arc<State>,
}

pub fn channel() -> (Outbox, Inbox) {
    let (tx, rx) = mpsc::unbounded_channel();
    let state = Arc::new(State::default());
    (
        Outbox {
            tx,
            state: Arc::clone(&state),
        },
        Inbox { rx, state },
    )
}

impl Outbox {
    /// Queues `line`. False if the connection is gone, or has just been
    /// disconnected because it fell more than [`MAX_QUEUED`] behind.
    pub fn push(&self, line: Bytes) -> bool {
        let state = &self.state;
        if state.killed.load(Ordering::Relaxed) {
            return false;
        }
        let queued = state.queued.fetch_add(line.len(), Ordering::Relaxed) + line.len();
        if queued > MAX_QUEUED {
            state.killed.store(true, Ordering::Release);
            state.kill.notify_waiters();
            return false;
        }
        self.tx.send(Out::Line(line)).is_ok()
    }

    /// Asks the connection to write what is queued and close.
    pub fn close(&self) {
        let _ = self.tx.send(Out::Close);
    }
}

impl Inbox {
    /// Up to `limit` items; 0 once the matching task has dropped its end.
    pub async fn recv_many(&mut self, items: &mut Vec<Out>, limit: usize) -> usize {
        self.rx.recv_many(items, limit).await
    }

    /// The next item if one is queued, without waiting.
    #[cfg(test)]
    pub fn try_recv(&mut self) -> Option<Out> {
        self.rx.try_recv().ok()
    }

    /// `n` bytes reached the socket.
    pub fn sent(&self, n: usize) {
        self.state.queued.fetch_sub(n, Ordering::Relaxed);
    }

    /// Tells the connection task when it has been disconnected.
    pub fn kill_switch(&self) -> KillSwitch {
        KillSwitch(Arc::clone(&self.state))
    }
}

/// Trips when a connection is disconnected for being too slow.
pub struct KillSwitch(Arc<State>);

impl KillSwitch {
    pub async fn tripped(&self) {
        let state = &self.0;
        loop {
            // Created before the check: `notify_waiters` reaches it even if
            // the kill happens between the check and the first poll.
            let notified = state.kill.notified();
            if state.killed.load(Ordering::Acquire) {
                return;
            }
            notified.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_reader_that_falls_a_mebibyte_behind_is_killed() {
        let (outbox, mut inbox) = channel();
        let line = Bytes::from(vec![b'x'; 1000]);
        let mut pushed = 0;
        while outbox.push(line.clone()) {
            pushed += 1;
        }
        assert_eq!(pushed, MAX_QUEUED / 1000);
        inbox.kill_switch().tripped().await;
        assert!(!outbox.push(Bytes::from_static(b"y")));
        let mut items = Vec::new();
        assert_eq!(inbox.recv_many(&mut items, 10).await, 10);
    }

    #[tokio::test]
    async fn written_bytes_make_room_again() {
        let (outbox, mut inbox) = channel();
        let line = Bytes::from(vec![b'x'; MAX_QUEUED / 2]);
        assert!(outbox.push(line.clone()) && outbox.push(line.clone()));
        let mut items = Vec::new();
        inbox.recv_many(&mut items, 1).await;
        inbox.sent(MAX_QUEUED / 2);
        assert!(outbox.push(line));
        outbox.close();
        drop(outbox);
        items.clear();
        assert_eq!(inbox.recv_many(&mut items, 10).await, 3);
        assert!(matches!(items[2], Out::Close));
        assert_eq!(inbox.recv_many(&mut items, 10).await, 0);
    }
}
