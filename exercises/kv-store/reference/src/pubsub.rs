//! Channel subscriptions and message fan-out.
//!
//! Each subscribed connection owns a [`Mailbox`]: an unbounded queue of
//! encoded `message` frames that its task drains into its socket. A publish
//! encodes the frame once and hands every subscriber a reference-counted
//! copy, so fan-out costs one allocation regardless of the audience.
//!
//! A subscriber that stops reading must not make the server run out of
//! memory. Like Redis' `client-output-buffer-limit pubsub 32mb`, a
//! subscriber with more than [`MAX_QUEUED`] bytes waiting is disconnected.
//! Publishers never block on subscribers.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::{Bytes, BytesMut};
use tokio::sync::{mpsc, Notify};

use crate::resp;

/// Bytes a subscriber may have queued before it is disconnected.
pub const MAX_QUEUED: usize = 32 * 1024 * 1024;

/// The publishing side of one connection's mailbox.
#[derive(Clone)]
struct Sender {
    tx: mpsc::UnboundedSender<Bytes>,
    state: Arc<MailboxState>,
}

#[derive(Default)]
struct MailboxState {
    queued: AtomicUsize,
    overflowed: AtomicBool,
    kill: Notify,
}

/// The receiving side, owned by the subscribed connection.
pub struct Mailbox {
    pub id: u64,
    rx: mpsc::UnboundedReceiver<Bytes>,
    sender: Sender,
}

/// What a mailbox has for its connection.
pub enum Delivery {
    Frame(Bytes),
    /// The subscriber fell too far behind and must be disconnected.
    Overflowed,
}

impl Mailbox {
    /// Waits for the next frame (only if `pull`) or for an overflow.
    /// Cancel-safe.
    pub async fn next(&mut self, pull: bool) -> Delivery {
        let state = Arc::clone(&self.sender.state);
        let overflow = async {
            let notified = state.kill.notified();
            if !state.overflowed.load(Ordering::Acquire) {
                notified.await;
            }
        };
        let frame = async {
            if !pull {
                std::future::pending::<()>().await;
            }
            self.rx.recv().await
        };
        tokio::select! {
            biased;
            () = overflow => Delivery::Overflowed,
            Some(frame) = frame => {
                state.queued.fetch_sub(frame.len(), Ordering::Relaxed);
                Delivery::Frame(frame)
            }
        }
    }
}

#[derive(Default)]
pub struct Hub {
    channels: Mutex<HashMap<Bytes, HashMap<u64, Sender>>>,
    next_id: AtomicUsize,
}

impl Hub {
    pub fn mailbox(&self) -> Mailbox {
        let (tx, rx) = mpsc::unbounded_channel();
        Mailbox {
            id: self.next_id.fetch_add(1, Ordering::Relaxed) as u64,
            rx,
            sender: Sender {
                tx,
                state: Arc::default(),
            },
        }
    }

    pub fn subscribe(&self, channel: &Bytes, mailbox: &Mailbox) {
        let mut channels = self.channels.lock().expect("pubsub lock poisoned");
        channels
            .entry(Bytes::copy_from_slice(channel))
            .or_default()
            .insert(mailbox.id, mailbox.sender.clone());
    }

    pub fn unsubscribe(&self, channel: &[u8], mailbox: &Mailbox) {
        let mut channels = self.channels.lock().expect("pubsub lock poisoned");
        if let Some(subs) = channels.get_mut(channel) {
            subs.remove(&mailbox.id);
            if subs.is_empty() {
                channels.remove(channel);
            }
        }
    }

    /// Sends `message` to every subscriber of `channel`; returns how many
    /// there were (including any disconnected now for being too slow, as
    /// Redis counts them).
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        let channels = self.channels.lock().expect("pubsub lock poisoned");
        let Some(subs) = channels.get(channel) else {
            return 0;
        };
        let mut frame = BytesMut::with_capacity(channel.len() + message.len() + 32);
        resp::array_len(&mut frame, 3);
        resp::bulk(&mut frame, b"message");
        resp::bulk(&mut frame, channel);
        resp::bulk(&mut frame, message);
        let frame = frame.freeze();
        for sub in subs.values() {
            let state = &sub.state;
            if state.overflowed.load(Ordering::Relaxed) {
                continue;
            }
            let queued = state.queued.fetch_add(frame.len(), Ordering::Relaxed) + frame.len();
            if queued > MAX_QUEUED {
                state.overflowed.store(true, Ordering::Release);
                state.kill.notify_one();
            } else {
                // A closed receiver just means the connection is going away.
                let _ = sub.tx.send(frame.clone());
            }
        }
        subs.len()
    }
}
