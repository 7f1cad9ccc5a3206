//! Accepting connections and serving one client.
//!
//! # Pipelining and batching
//! A connection reads whatever the socket has, executes every complete
//! request in it, and appends the replies to one output buffer, which is
//! written with as few `write` calls as the socket allows. A pipeline of a
//! thousand commands costs a handful of syscalls, not a thousand.
//!
//! # Durability gates
//! A reply may only leave once the log holds every write it could reflect.
//! After each batch the connection notes the log's highest sequence number
//! (`Appender::appended`) and the end of the batch's replies in `out`; bytes
//! past a gate are held until the writer thread reports that sequence
//! number durable. Using the global number also covers reads: a GET that
//! sees another client's not-yet-synced SET waits for that sync too, so no
//! client can observe a value that a crash would lose. Batches that touch
//! nothing unsynced pass straight through.
//!
//! # Backpressure
//! Reading and writing run concurrently (one `select!`), so a client that
//! sends a huge pipeline before reading any reply cannot deadlock with the
//! server, as with Redis. The query buffer is capped; pub/sub deliveries
//! are only pulled while the output buffer is small, so a slow subscriber's
//! backlog accumulates in its mailbox where the pub/sub limit applies.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::command::{self, Command};
use crate::pubsub::{Delivery, Hub, Mailbox};
use crate::resp::{self, Parser};
use crate::store::Store;

/// Stop reading from a client whose unparsed input reaches this size.
/// Complete requests are consumed after every read and a partial one holds
/// at most one 1 MiB bulk, so this is a safety net, not a working limit.
const MAX_QUERY_BUFFER: usize = 64 * 1024 * 1024;
/// Stop pulling pub/sub messages into `out` above this many bytes.
const OUT_SOFT_LIMIT: usize = 64 * 1024;
const READ_CHUNK: usize = 16 * 1024;
/// Buffers that grew past this are released once empty.
const SHRINK_ABOVE: usize = 1024 * 1024;

pub struct Shared {
    pub store: Store,
    pub hub: Hub,
    pub max_bulk: usize,
}

/// Accepts clients until `shutdown` turns true, then waits up to `grace`
/// for connections to flush their replies and close.
pub async fn serve(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    grace: Duration,
) {
    let mut conns = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let conn = Connection::new(stream, Arc::clone(&shared), shutdown.clone());
                    conns.spawn(conn.run());
                }
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next() => {}
            _ = shutdown.changed() => break,
        }
    }
    drop(listener);
    let drained =
        tokio::time::timeout(grace, async { while conns.join_next().await.is_some() {} }).await;
    if drained.is_err() {
        eprintln!(
            "closing {} connections that did not finish in time",
            conns.len()
        );
        conns.shutdown().await;
    }
}

/// What woke a connection up.
enum Event {
    Wrote(usize),
    Read(usize),
    Durable,
    Delivery(Delivery),
    Shutdown,
}

struct Connection {
    stream: TcpStream,
    shared: Arc<Shared>,
    shutdown: watch::Receiver<bool>,
    durable: watch::Receiver<u64>,
    parser: Parser,
    inbuf: BytesMut,
    /// Replies not yet written; the first `releasable` bytes may be sent.
    out: BytesMut,
    releasable: usize,
    /// (log sequence number, end offset in `out`) for held reply bytes.
    gates: VecDeque<(u64, usize)>,
    mailbox: Option<Mailbox>,
    channels: HashSet<Bytes>,
    /// Set by QUIT, a protocol error or shutdown: stop reading, flush, close.
    closing: bool,
}

impl Connection {
    fn new(stream: TcpStream, shared: Arc<Shared>, shutdown: watch::Receiver<bool>) -> Self {
        let durable = shared.store.log().durable();
        let parser = Parser::new(shared.max_bulk);
        Self {
            stream,
            shared,
            shutdown,
            durable,
            parser,
            inbuf: BytesMut::with_capacity(READ_CHUNK),
            out: BytesMut::new(),
            releasable: 0,
            gates: VecDeque::new(),
            mailbox: None,
            channels: HashSet::new(),
            closing: false,
        }
    }

    async fn run(mut self) {
        if let Err(e) = self.serve().await {
            // Resets and broken pipes are routine client behaviour.
            if !matches!(
                e.kind(),
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
            ) {
                eprintln!("connection error: {e}");
            }
        }
        if let Some(mailbox) = &self.mailbox {
            for channel in &self.channels {
                self.shared.hub.unsubscribe(channel, mailbox);
            }
        }
    }

    async fn serve(&mut self) -> std::io::Result<()> {
        if *self.shutdown.borrow() {
            return Ok(());
        }
        loop {
            self.release();
            if self.closing && self.out.is_empty() {
                let _ = self.stream.shutdown().await;
                return Ok(());
            }
            let held = self.gates.front().map(|&(seq, _)| seq);
            let can_read = !self.closing && self.inbuf.len() < MAX_QUERY_BUFFER;
            let pull_messages = self.out.len() < OUT_SOFT_LIMIT && !self.closing;
            if can_read && self.inbuf.capacity() - self.inbuf.len() < READ_CHUNK / 2 {
                self.inbuf.reserve(READ_CHUNK);
            }
            let has_mailbox = self.mailbox.is_some();
            let event = {
                let (mut rd, mut wr) = self.stream.split();
                tokio::select! {
                    n = wr.write(&self.out[..self.releasable]), if self.releasable > 0 => {
                        Event::Wrote(n?)
                    }
                    n = rd.read_buf(&mut self.inbuf), if can_read => Event::Read(n?),
                    _ = self.durable.wait_for(|&d| d >= held.unwrap_or(0)), if held.is_some() => {
                        Event::Durable
                    }
                    d = next_delivery(self.mailbox.as_mut(), pull_messages), if has_mailbox => {
                        Event::Delivery(d)
                    }
                    _ = self.shutdown.changed(), if !self.closing => Event::Shutdown,
                }
            };
            match event {
                Event::Wrote(0) | Event::Read(0) => return Ok(()), // peer went away
                Event::Wrote(n) => self.advance_out(n),
                Event::Read(_) => self.process_input(),
                Event::Durable => {} // `release` picks it up
                Event::Delivery(Delivery::Frame(frame)) => {
                    self.out.extend_from_slice(&frame);
                    self.gate(0);
                }
                Event::Delivery(Delivery::Overflowed) => {
                    eprintln!("disconnecting a subscriber that fell too far behind");
                    return Ok(());
                }
                Event::Shutdown => self.closing = true,
            }
            if self.out.is_empty() && self.out.capacity() > SHRINK_ABOVE {
                self.out = BytesMut::new();
            }
            if self.inbuf.is_empty() && self.inbuf.capacity() > SHRINK_ABOVE {
                self.inbuf = BytesMut::with_capacity(READ_CHUNK);
            }
        }
    }

    /// Executes every complete request in the input buffer.
    fn process_input(&mut self) {
        while !self.closing {
            match self.parser.next(&mut self.inbuf) {
                Ok(Some(args)) => self.execute(args),
                Ok(None) => break,
                Err(e) => {
                    resp::error(&mut self.out, &e.message());
                    self.closing = true;
                }
            }
        }
        // Everything this batch replied may depend on any write logged so
        // far, by this client or another.
        let seq = self.shared.store.log().appended();
        self.gate(seq);
    }

    /// Marks the end of `out` as releasable once `seq` is durable.
    fn gate(&mut self, seq: u64) {
        let end = self.out.len();
        match self.gates.back_mut() {
            // Later bytes never need less than earlier ones: extend the gate.
            Some(last) if last.0 >= seq => last.1 = end,
            _ => self.gates.push_back((seq, end)),
        }
    }

    /// Moves gates whose sequence number is durable into `releasable`.
    fn release(&mut self) {
        let durable = *self.durable.borrow_and_update();
        while let Some(&(seq, end)) = self.gates.front() {
            if seq > durable {
                break;
            }
            self.releasable = end;
            self.gates.pop_front();
        }
    }

    fn advance_out(&mut self, n: usize) {
        self.out.advance(n);
        self.releasable -= n;
        for gate in &mut self.gates {
            gate.1 -= n;
        }
    }

    fn execute(&mut self, args: Vec<Bytes>) {
        let cmd = match command::parse(args, !self.channels.is_empty()) {
            Ok(cmd) => cmd,
            Err(msg) => return resp::error(&mut self.out, &msg),
        };
        let out = &mut self.out;
        match cmd {
            Command::Ping(msg) if !self.channels.is_empty() => {
                // RESP2 subscribed mode answers PING as a pub/sub frame.
                resp::array_len(out, 2);
                resp::bulk(out, b"pong");
                resp::bulk(out, msg.as_deref().unwrap_or_default());
            }
            Command::Ping(None) => resp::simple(out, "PONG"),
            Command::Ping(Some(msg)) | Command::Echo(msg) => resp::bulk(out, &msg),
            Command::Quit => {
                resp::simple(out, "OK");
                self.closing = true;
            }
            Command::Publish(channel, message) => {
                let n = self.shared.hub.publish(&channel, &message);
                resp::integer(out, n as i64);
            }
            Command::Subscribe(channels) => {
                let hub = &self.shared.hub;
                let mailbox = self.mailbox.get_or_insert_with(|| hub.mailbox());
                for channel in channels {
                    if !self.channels.contains(&channel) {
                        hub.subscribe(&channel, mailbox);
                        self.channels.insert(channel.clone());
                    }
                    subscription_reply(out, b"subscribe", Some(&channel), self.channels.len());
                }
            }
            Command::Unsubscribe(channels) => {
                let hub = &self.shared.hub;
                let channels = if channels.is_empty() {
                    // All of them, in no particular order (as Redis).
                    self.channels.iter().cloned().collect()
                } else {
                    channels
                };
                if channels.is_empty() {
                    subscription_reply(out, b"unsubscribe", None, 0);
                }
                for channel in channels {
                    if self.channels.remove(&channel) {
                        if let Some(mailbox) = &self.mailbox {
                            hub.unsubscribe(&channel, mailbox);
                        }
                    }
                    subscription_reply(out, b"unsubscribe", Some(&channel), self.channels.len());
                }
            }
            data => self.shared.store.execute(data, out),
        }
    }
}

fn subscription_reply(out: &mut BytesMut, kind: &[u8], channel: Option<&[u8]>, count: usize) {
    resp::array_len(out, 3);
    resp::bulk(out, kind);
    match channel {
        Some(c) => resp::bulk(out, c),
        None => resp::null(out),
    }
    resp::integer(out, count as i64);
}

async fn next_delivery(mailbox: Option<&mut Mailbox>, pull: bool) -> Delivery {
    match mailbox {
        Some(m) => m.next(pull).await,
        None => std::future::pending().await,
    }
}
