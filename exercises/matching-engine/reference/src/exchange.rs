//! The matching task: the one owner of the engine, the sessions and the feed.
//!
//! Connections send it [`Request`]s over one bounded channel; it executes
//! them strictly in arrival order, one batch at a time, without ever holding
//! a lock across an `await` or waiting for a client.
//!
//! # Nothing leaves before it is durable
//! Every outgoing line (reply, execution report, market data, snapshot,
//! even a reject) becomes a [`Delivery`] tagged with the number of log
//! records appended so far, and is *held* until the journal reports that
//! many records durable. Held deliveries are released strictly in the order
//! they were made, so every connection and the feed see events in execution
//! order, replies before the reports they caused, and no client ever
//! observes an effect (even indirectly, through a snapshot or a
//! `duplicate_client_order_id`) that a crash could take back. Deliveries
//! made while nothing is pending go out at once.
//!
//! # Sessions and feed
//! Reports go to every connection logged in as the order's account at the
//! moment the report happens. A new market-data subscriber gets a snapshot,
//! held like anything else; it joins the fan-out list when the snapshot is
//! released, so it receives exactly the messages after the snapshot's `seq`.

use std::collections::{HashMap, VecDeque};

use bytes::Bytes;
use tokio::sync::{mpsc, watch};

use crate::engine::{Accepted, AccountId, Effects, Engine, Public, Report};
use crate::journal::{Journal, Record};
use crate::outbox::Outbox;
use crate::reason::Reason;
use crate::request::{CancelTarget, Command, NewOrder};
use crate::wire;

pub type ConnId = u64;

/// Most requests executed before the batch's records are handed to the journal.
const BATCH: usize = 512;

pub enum Request {
    /// An order-entry connection opened.
    Open { conn: ConnId, outbox: Outbox },
    /// A decoded request. The connection has checked the session rules
    /// (login first, and only once).
    Execute { conn: ConnId, command: Command },
    /// A reject the connection decided on its own; it still has to be sent
    /// in order with everything else.
    Reply { conn: ConnId, line: Bytes },
    /// The connection reads no more requests: send what it is owed, then close.
    Close { conn: ConnId },
    /// A market-data connection opened.
    Subscribe { outbox: Outbox },
}

enum Delivery {
    To { conn: ConnId, line: Bytes },
    Close { conn: ConnId },
    Feed(Bytes),
    Subscribe { outbox: Outbox, snapshot: Bytes },
}

struct Session {
    outbox: Outbox,
    account: Option<AccountId>,
}

pub struct Exchange {
    engine: Engine,
    journal: Journal,
    /// Encoded records not yet handed to the journal.
    records: Vec<u8>,
    /// Records appended in this process, and how many of them are durable.
    appended: u64,
    durable: u64,
    held: VecDeque<(u64, Delivery)>,
    sessions: HashMap<ConnId, Session>,
    logged_in: HashMap<AccountId, Vec<ConnId>>,
    subscribers: Vec<Outbox>,
    fx: Effects,
}

impl Exchange {
    pub fn new(engine: Engine, journal: Journal) -> Self {
        Self {
            engine,
            journal,
            records: Vec::new(),
            appended: 0,
            durable: 0,
            held: VecDeque::new(),
            sessions: HashMap::new(),
            logged_in: HashMap::new(),
            subscribers: Vec::new(),
            fx: Effects::default(),
        }
    }

    /// Serves requests until every sender is gone, then makes the last batch
    /// durable, delivers it, and drops every outbox (connections then flush
    /// and close).
    pub async fn run(
        mut self,
        mut requests: mpsc::Receiver<Request>,
        mut durable: watch::Receiver<u64>,
    ) {
        let mut batch = Vec::with_capacity(BATCH);
        loop {
            tokio::select! {
                biased;
                changed = durable.changed() => {
                    if changed.is_err() {
                        break; // the journal is gone: nothing can be acknowledged any more
                    }
                    self.durable = *durable.borrow_and_update();
                    self.release();
                }
                n = requests.recv_many(&mut batch, BATCH) => {
                    if n == 0 {
                        break;
                    }
                    for request in batch.drain(..) {
                        self.handle(request);
                    }
                    self.journal.submit(&mut self.records, self.appended);
                    self.release();
                }
            }
        }
        self.journal.submit(&mut self.records, self.appended);
        let appended = self.appended;
        if durable.wait_for(|&d| d >= appended).await.is_ok() {
            self.durable = appended;
            self.release();
        }
    }

    fn handle(&mut self, request: Request) {
        match request {
            Request::Open { conn, outbox } => {
                self.sessions.insert(
                    conn,
                    Session {
                        outbox,
                        account: None,
                    },
                );
            }
            Request::Execute { conn, command } => self.execute(conn, command),
            Request::Reply { conn, line } => self.deliver(Delivery::To { conn, line }),
            Request::Close { conn } => {
                self.log_out(conn);
                self.deliver(Delivery::Close { conn });
            }
            Request::Subscribe { outbox } => {
                let snapshot = self.snapshot();
                self.deliver(Delivery::Subscribe { outbox, snapshot });
            }
        }
    }

    fn snapshot(&self) -> Bytes {
        let engine = &self.engine;
        wire::snapshot(
            engine.seq(),
            engine.bids(),
            engine.asks(),
            engine.checksum(),
        )
    }

    fn execute(&mut self, conn: ConnId, command: Command) {
        // A connection disconnected for being slow may still have requests
        // in flight: they are dropped, like anything sent on a dead connection.
        let Some(session) = self.sessions.get_mut(&conn) else {
            return;
        };
        let line = match (command, session.account) {
            (Command::Login(name), _) => {
                let account = self.engine.account(&name);
                session.account = Some(account);
                self.logged_in.entry(account).or_default().push(conn);
                wire::login_ack(&name)
            }
            (Command::Book, _) => self.snapshot(),
            (Command::New(order), Some(account)) => self.new_order(account, &order),
            (Command::Cancel(target), Some(account)) => self.cancel(account, &target),
            (Command::New(order), None) => {
                wire::reject(Reason::NotLoggedIn, Some(&order.client_order_id))
            }
            (Command::Cancel(_), None) => wire::reject(Reason::NotLoggedIn, None),
        };
        self.deliver(Delivery::To { conn, line });
        self.publish_effects();
    }

    fn new_order(&mut self, account: AccountId, order: &NewOrder) -> Bytes {
        self.fx.clear();
        match self.engine.new_order(account, order, &mut self.fx) {
            Ok(Accepted::New(id)) => {
                let account = self.engine.account_name(account);
                Record::New { account, order }.encode(&mut self.records);
                self.appended += 1;
                wire::ack(&order.client_order_id, id)
            }
            Ok(Accepted::Retry(id)) => wire::ack(&order.client_order_id, id),
            Err(reason) => wire::reject(reason, Some(&order.client_order_id)),
        }
    }

    fn cancel(&mut self, account: AccountId, target: &CancelTarget) -> Bytes {
        self.fx.clear();
        match self.engine.cancel(account, target, &mut self.fx) {
            Ok((order_id, remaining)) => {
                let account = self.engine.account_name(account);
                Record::Cancel { account, order_id }.encode(&mut self.records);
                self.appended += 1;
                let (_, client_order_id, _) = self.engine.order_info(order_id);
                wire::cancel_ack(client_order_id, order_id, remaining)
            }
            Err(reason) => {
                let client_order_id = match target {
                    CancelTarget::ClientOrderId(cid) => Some(cid.as_str()),
                    CancelTarget::OrderId(_) => None,
                };
                wire::reject(reason, client_order_id)
            }
        }
    }

    /// The reports and market data of the last command, after its reply.
    fn publish_effects(&mut self) {
        let mut fx = std::mem::take(&mut self.fx);
        for report in fx.reports.drain(..) {
            let (account, line) = self.encode_report(&report);
            let conns = self.logged_in.get(&account).cloned().unwrap_or_default();
            for conn in conns {
                self.deliver(Delivery::To {
                    conn,
                    line: line.clone(),
                });
            }
        }
        for public in fx.public.drain(..) {
            let line = match public {
                Public::Trade {
                    seq,
                    trade_id,
                    side,
                    price,
                    qty,
                } => wire::trade(seq, trade_id, side, price, qty),
                Public::Book {
                    seq,
                    bids,
                    asks,
                    checksum,
                } => wire::book(seq, &bids, &asks, checksum),
            };
            self.deliver(Delivery::Feed(line));
        }
        self.fx = fx;
    }

    fn encode_report(&self, report: &Report) -> (AccountId, Bytes) {
        let order_id = match *report {
            Report::Fill { order_id, .. }
            | Report::Cancelled { order_id, .. }
            | Report::Decremented { order_id, .. } => order_id,
        };
        let (account, cid, side) = self.engine.order_info(order_id);
        let line = match *report {
            Report::Fill {
                trade_id,
                price,
                qty,
                remaining,
                liquidity,
                ..
            } => wire::fill(
                order_id, cid, trade_id, side, price, qty, remaining, liquidity,
            ),
            Report::Cancelled {
                reason, remaining, ..
            } => wire::cancelled(order_id, cid, reason, remaining),
            Report::Decremented { qty, remaining, .. } => {
                wire::decremented(order_id, cid, qty, remaining)
            }
        };
        (account, line)
    }

    /// The connection gets no more reports.
    fn log_out(&mut self, conn: ConnId) {
        let account = self.sessions.get(&conn).and_then(|s| s.account);
        if let Some(conns) = account.and_then(|a| self.logged_in.get_mut(&a)) {
            conns.retain(|&c| c != conn);
        }
    }

    /// Sends `delivery` now if nothing is waiting for the disk, else holds it.
    fn deliver(&mut self, delivery: Delivery) {
        if self.held.is_empty() && self.appended <= self.durable {
            self.send(delivery);
        } else {
            self.held.push_back((self.appended, delivery));
        }
    }

    /// Sends every held delivery whose records are durable, in order.
    fn release(&mut self) {
        while self
            .held
            .front()
            .is_some_and(|&(needs, _)| needs <= self.durable)
        {
            if let Some((_, delivery)) = self.held.pop_front() {
                self.send(delivery);
            }
        }
    }

    fn send(&mut self, delivery: Delivery) {
        match delivery {
            Delivery::To { conn, line } => {
                let alive = self
                    .sessions
                    .get(&conn)
                    .is_some_and(|s| s.outbox.push(line));
                if !alive && self.sessions.contains_key(&conn) {
                    eprintln!("order-entry connection {conn} is gone or fell too far behind");
                    self.log_out(conn);
                    self.sessions.remove(&conn);
                }
            }
            Delivery::Close { conn } => {
                if let Some(session) = self.sessions.remove(&conn) {
                    session.outbox.close();
                }
            }
            Delivery::Feed(line) => {
                let before = self.subscribers.len();
                self.subscribers.retain(|s| s.push(line.clone()));
                let dropped = before - self.subscribers.len();
                if dropped > 0 {
                    eprintln!(
                        "dropped {dropped} market-data subscriber(s) that fell behind or left"
                    );
                }
            }
            Delivery::Subscribe { outbox, snapshot } => {
                if outbox.push(snapshot) {
                    self.subscribers.push(outbox);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal;
    use crate::outbox::{self, Inbox, Out};
    use crate::request;

    fn lines(inbox: &mut Inbox) -> Vec<String> {
        let mut out = Vec::new();
        while let Some(item) = inbox.try_recv() {
            match item {
                Out::Line(line) => out.push(String::from_utf8(line.to_vec()).unwrap()),
                Out::Close => out.push("<close>".into()),
            }
        }
        out
    }

    fn execute(ex: &mut Exchange, conn: ConnId, line: &str, logged_in: bool) {
        let command = request::decode(line.as_bytes(), logged_in)
            .unwrap()
            .unwrap();
        ex.handle(Request::Execute { conn, command });
    }

    #[test]
    fn nothing_leaves_before_its_record_is_durable_and_order_is_kept() {
        let dir = std::env::temp_dir().join(format!("me-exchange-test-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let (engine, file, _) = journal::open(&dir).unwrap();
        let (journal, _durable, writer) = Journal::start(file).unwrap();
        let mut ex = Exchange::new(engine, journal.clone());
        let (outbox, mut alice) = outbox::channel();
        ex.handle(Request::Open { conn: 1, outbox });
        let (outbox, mut feed) = outbox::channel();
        ex.handle(Request::Subscribe { outbox });

        // Nothing is pending: the login ack and the feed's snapshot go at once.
        execute(&mut ex, 1, r#"{"op":"login","account":"alice"}"#, false);
        assert_eq!(
            lines(&mut alice),
            [r#"{"type":"login_ack","account":"alice"}"#.to_owned() + "\n"]
        );
        assert_eq!(lines(&mut feed).len(), 1);

        // An accepted order is held until its record is durable, and so is
        // everything after it, even a reply that needs no record.
        execute(
            &mut ex,
            1,
            r#"{"op":"new","client_order_id":"a-1","side":"buy","type":"limit","price":"45000.0","qty":"0.25","tif":"gtc"}"#,
            true,
        );
        ex.handle(Request::Reply {
            conn: 1,
            line: wire::reject(Reason::MalformedJson, None),
        });
        ex.handle(Request::Close { conn: 1 });
        assert_eq!(ex.appended, 1);
        assert!(lines(&mut alice).is_empty() && lines(&mut feed).is_empty());

        ex.durable = ex.appended;
        ex.release();
        let got = lines(&mut alice);
        assert_eq!(got.len(), 3);
        assert!(got[0].starts_with(r#"{"type":"ack","client_order_id":"a-1","order_id":1}"#));
        assert!(got[1].contains("malformed_json"));
        assert_eq!(got[2], "<close>");
        assert!(lines(&mut feed)[0].starts_with(r#"{"type":"book","seq":1,"#));

        journal.close();
        writer.join().unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
