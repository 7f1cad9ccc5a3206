//! Accepting connections, and the two kinds of connection task.
//!
//! A task owns its socket and does both directions in one `select!`: it
//! reads request lines, decodes them (the checks that need no book run here,
//! in parallel with the matching task) and sends them to the matching task
//! in order; and it writes whatever the matching task queued in its outbox.
//! Reading and writing never wait for each other, so a client that sends
//! much before it reads cannot deadlock with the server.
//!
//! Input is bounded: the read buffer holds at most one partial line of
//! 4096 bytes plus one read; a longer line is answered with `line_too_long`
//! and the connection closed. Output is bounded by the outbox (1 MiB).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::exchange::{ConnId, Request};
use crate::outbox::{self, Inbox, KillSwitch, Out};
use crate::reason::Reason;
use crate::request::{self, Command, MAX_LINE_BYTES};
use crate::wire;

const READ_CHUNK: usize = 8 * 1024;
/// Outbox items are only pulled into the write buffer below this size.
const WRITE_CHUNK: usize = 64 * 1024;
/// After the last byte is written and the write side shut, how long unread
/// input is drained so that closing does not reset the connection (a reset
/// can destroy replies still in flight).
const LINGER: Duration = Duration::from_millis(500);

static NEXT_CONN: AtomicU64 = AtomicU64::new(1);

/// Accepts connections and runs `serve` on each until `stop` turns true, then
/// waits up to `grace` for the connections to finish.
pub async fn accept_loop<F, Fut>(
    listener: TcpListener,
    requests: mpsc::Sender<Request>,
    mut stop: watch::Receiver<bool>,
    grace: Duration,
    serve: F,
) where
    F: Fn(TcpStream, mpsc::Sender<Request>, watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut conns = JoinSet::new();
    while !*stop.borrow_and_update() {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    conns.spawn(serve(stream, requests.clone(), stop.clone()));
                }
                Err(e) => {
                    // Typically EMFILE: back off instead of spinning.
                    eprintln!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = conns.join_next() => {}
            _ = stop.changed() => {}
        }
    }
    // Stop accepting, and let the matching task finish once the
    // connections have stopped reading.
    drop(listener);
    drop(requests);
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

/// What woke a connection task up.
enum Event {
    Killed,
    Wrote(std::io::Result<usize>),
    Queued(usize),
    Read(std::io::Result<usize>),
    Stop,
}

/// The outgoing half shared by both kinds of connection.
struct Writer {
    inbox: Inbox,
    kill: KillSwitch,
    items: Vec<Out>,
    out: BytesMut,
    /// The matching task has nothing more for us: flush and close.
    closing: bool,
}

impl Writer {
    fn new(inbox: Inbox) -> Self {
        Self {
            kill: inbox.kill_switch(),
            inbox,
            items: Vec::with_capacity(64),
            out: BytesMut::new(),
            closing: false,
        }
    }

    fn done(&self) -> bool {
        self.closing && self.out.is_empty()
    }

    fn can_pull(&self) -> bool {
        !self.closing && self.out.len() < WRITE_CHUNK
    }

    /// Moves queued lines into the write buffer.
    fn queued(&mut self, n: usize) {
        if n == 0 {
            self.closing = true;
        }
        for item in self.items.drain(..) {
            match item {
                Out::Line(line) => self.out.extend_from_slice(&line),
                Out::Close => self.closing = true,
            }
        }
    }

    /// False if the peer is gone.
    fn wrote(&mut self, result: std::io::Result<usize>) -> bool {
        match result {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.out.advance(n);
                self.inbox.sent(n);
                true
            }
        }
    }
}

/// One order-entry connection.
pub async fn order_entry(
    mut stream: TcpStream,
    requests: mpsc::Sender<Request>,
    mut stop: watch::Receiver<bool>,
) {
    let conn = NEXT_CONN.fetch_add(1, Ordering::Relaxed);
    let (outbox, inbox) = outbox::channel();
    if requests.send(Request::Open { conn, outbox }).await.is_err() {
        return;
    }
    let mut reader = Some(Reader {
        conn,
        requests,
        logged_in: false,
        input: BytesMut::with_capacity(READ_CHUNK),
    });
    let mut writer = Writer::new(inbox);
    if *stop.borrow_and_update() {
        Reader::finish(&mut reader).await;
    }
    let (mut rd, mut wr) = stream.split();
    while !writer.done() {
        let reading = reader.is_some();
        if let Some(r) = &mut reader {
            r.input.reserve(READ_CHUNK);
        }
        let event = tokio::select! {
            biased;
            () = writer.kill.tripped() => Event::Killed,
            n = wr.write(&writer.out), if !writer.out.is_empty() => Event::Wrote(n),
            n = writer.inbox.recv_many(&mut writer.items, 64), if writer.can_pull() => Event::Queued(n),
            n = read_into(&mut rd, &mut reader), if reading => Event::Read(n),
            _ = stop.changed(), if reading => Event::Stop,
        };
        match event {
            Event::Killed => return, // dropping the socket is the disconnect
            Event::Wrote(n) => {
                if !writer.wrote(n) {
                    Reader::finish(&mut reader).await;
                    return;
                }
            }
            Event::Queued(n) => writer.queued(n),
            Event::Read(Ok(n)) if n > 0 => {
                let open = match &mut reader {
                    Some(r) => r.process().await,
                    None => false,
                };
                if !open {
                    Reader::finish(&mut reader).await;
                }
            }
            // End of input, a read error, or SIGTERM: no more requests.
            Event::Read(_) | Event::Stop => Reader::finish(&mut reader).await,
        }
    }
    let _ = wr.shutdown().await;
    let _ = tokio::time::timeout(LINGER, drain(&mut rd)).await;
}

/// The request side of an order-entry connection.
struct Reader {
    conn: ConnId,
    requests: mpsc::Sender<Request>,
    logged_in: bool,
    input: BytesMut,
}

async fn read_into<R: AsyncRead + Unpin>(
    rd: &mut R,
    reader: &mut Option<Reader>,
) -> std::io::Result<usize> {
    match reader {
        Some(r) => rd.read_buf(&mut r.input).await,
        None => std::future::pending().await,
    }
}

impl Reader {
    /// Sends every complete line to the matching task. False when the
    /// connection must read no more (a line over the limit, or shutdown).
    async fn process(&mut self) -> bool {
        loop {
            let window = &self.input[..self.input.len().min(MAX_LINE_BYTES + 1)];
            let Some(end) = window.iter().position(|&b| b == b'\n') else {
                if self.input.len() > MAX_LINE_BYTES {
                    // Never buffer more: reply, then close.
                    let line = wire::reject(Reason::LineTooLong, None);
                    let _ = self
                        .send(Request::Reply {
                            conn: self.conn,
                            line,
                        })
                        .await;
                    return false;
                }
                return true;
            };
            let line = self.input.split_to(end + 1);
            if !self.line(&line[..end]).await {
                return false;
            }
        }
    }

    async fn line(&mut self, line: &[u8]) -> bool {
        let conn = self.conn;
        let request = match request::decode(line, self.logged_in) {
            Ok(None) => return true,
            Ok(Some(command)) => {
                if matches!(command, Command::Login(_)) {
                    self.logged_in = true;
                }
                Request::Execute { conn, command }
            }
            Err(rejection) => Request::Reply {
                conn,
                line: wire::reject(rejection.reason, rejection.client_order_id.as_deref()),
            },
        };
        self.send(request).await
    }

    async fn send(&self, request: Request) -> bool {
        self.requests.send(request).await.is_ok()
    }

    /// No more requests: tell the matching task, and let go of the channel
    /// (the matching task stops once every connection has).
    async fn finish(reader: &mut Option<Reader>) {
        if let Some(r) = reader.take() {
            let _ = r.send(Request::Close { conn: r.conn }).await;
        }
    }
}

/// One market-data subscriber. Its input is read only to notice the peer
/// leaving, and otherwise ignored.
pub async fn market_data(
    mut stream: TcpStream,
    requests: mpsc::Sender<Request>,
    _stop: watch::Receiver<bool>,
) {
    let (outbox, inbox) = outbox::channel();
    if requests.send(Request::Subscribe { outbox }).await.is_err() {
        return;
    }
    // The feed ends when the matching task drops the outbox (at shutdown).
    drop(requests);
    let mut writer = Writer::new(inbox);
    let mut reading = true;
    let mut scratch = [0u8; 1024];
    let (mut rd, mut wr) = stream.split();
    while !writer.done() {
        let event = tokio::select! {
            biased;
            () = writer.kill.tripped() => Event::Killed,
            n = wr.write(&writer.out), if !writer.out.is_empty() => Event::Wrote(n),
            n = writer.inbox.recv_many(&mut writer.items, 64), if writer.can_pull() => Event::Queued(n),
            n = rd.read(&mut scratch), if reading => Event::Read(n),
        };
        match event {
            Event::Killed => return,
            Event::Wrote(n) => {
                if !writer.wrote(n) {
                    return;
                }
            }
            Event::Queued(n) => writer.queued(n),
            Event::Read(Ok(n)) if n > 0 => {}
            // The peer shut its side; it may still be reading, so the feed
            // goes on until a write fails.
            Event::Read(Ok(_)) => reading = false,
            Event::Read(Err(_)) => return,
            Event::Stop => {}
        }
    }
    // Input is read all along, so there is nothing left to drain.
    let _ = wr.shutdown().await;
}

/// Reads and discards until end of input or an error.
async fn drain<R: AsyncRead + Unpin>(rd: &mut R) {
    let mut scratch = [0u8; 4096];
    while matches!(rd.read(&mut scratch).await, Ok(n) if n > 0) {}
}
