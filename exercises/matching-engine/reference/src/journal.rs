//! The command log: every accepted `new` and `cancel`, durable before anything
//! about it leaves the process (§6).
//!
//! # Format
//! `$DATA_DIR/orders.log` holds one text line per accepted command, so it can
//! be read with `less`:
//!
//! ```text
//! new <account> <client_order_id> <side> <type> <price|-> <qty> <tif> <stp> <crc>
//! cancel <account> <order_id> <crc>
//! ```
//!
//! Prices are integer units of 0.1 USD, quantities of 1e-8 BTC; `<crc>` is the
//! CRC32 of the line before it, in hex. Only commands are logged, never their
//! effects: matching is deterministic, so replaying the commands through the
//! engine rebuilds the book, every order with its original ack (for retries),
//! and the next order id, trade id and sequence number. Retries and rejected
//! requests change nothing and are not logged, so nothing executes twice.
//!
//! # Group commit
//! The matching task encodes the records of a batch of commands into its own
//! buffer and hands the buffer over with [`Journal::submit`] (one short lock).
//! A dedicated thread takes everything handed over, writes it with one
//! `write` and makes it durable with one `fdatasync`, then publishes the
//! number of the last record now durable on a `watch` channel. While it syncs,
//! the next batch accumulates, so many clients cost one `fdatasync` per round
//! trip to the disk, not one per order.
//!
//! # Recovery
//! A final record cut off by a crash (no newline, or a bad CRC on the last
//! line) was never acknowledged: it is cut off the file and ignored. Anything
//! else that does not read back, or does not replay as accepted, is
//! corruption and stops the server: silently dropping acknowledged orders, or
//! executing them differently, would be worse.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use tokio::sync::watch;

use crate::engine::{Accepted, Effects, Engine, OrderId};
use crate::request::{CancelTarget, NewOrder, OrderSpec, OrderType, Word};

pub const LOG_FILE: &str = "orders.log";

/// One accepted command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    New {
        account: &'a str,
        order: &'a NewOrder,
    },
    Cancel {
        account: &'a str,
        order_id: OrderId,
    },
}

impl Record<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        let start = out.len();
        // Writing to a Vec cannot fail.
        let _ = match self {
            Record::New { account, order } => {
                let spec = &order.spec;
                let price = spec.price.map_or_else(|| "-".to_owned(), |p| p.to_string());
                write!(
                    out,
                    "new {account} {} {} {} {price} {} {} {}",
                    order.client_order_id,
                    spec.side.word(),
                    spec.order_type.word(),
                    spec.qty,
                    spec.tif.word(),
                    spec.stp.word(),
                )
            }
            Record::Cancel { account, order_id } => write!(out, "cancel {account} {order_id}"),
        };
        let crc = crc32fast::hash(&out[start..]);
        let _ = writeln!(out, " {crc:08x}");
    }
}

/// An owned, decoded record.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decoded {
    New { account: String, order: NewOrder },
    Cancel { account: String, order_id: OrderId },
}

/// One log line without its "\n"; `None` if it is not a valid record.
fn decode(line: &[u8]) -> Option<Decoded> {
    let text = std::str::from_utf8(line).ok()?;
    let (body, crc) = text.rsplit_once(' ')?;
    if u32::from_str_radix(crc, 16).ok()? != crc32fast::hash(body.as_bytes()) {
        return None;
    }
    let fields: Vec<&str> = body.split(' ').collect();
    match fields[..] {
        ["new", account, cid, side, order_type, price, qty, tif, stp] => {
            let order_type = OrderType::from_word(order_type)?;
            let price = match (order_type, price) {
                (OrderType::Market, "-") => None,
                (OrderType::Limit, p) => Some(p.parse().ok()?),
                _ => return None,
            };
            Some(Decoded::New {
                account: account.to_owned(),
                order: NewOrder {
                    client_order_id: cid.to_owned(),
                    spec: OrderSpec {
                        side: Word::from_word(side)?,
                        order_type,
                        price,
                        qty: qty.parse().ok()?,
                        tif: Word::from_word(tif)?,
                        stp: Word::from_word(stp)?,
                    },
                },
            })
        }
        ["cancel", account, order_id] => Some(Decoded::Cancel {
            account: account.to_owned(),
            order_id: order_id.parse().ok()?,
        }),
        _ => None,
    }
}

fn apply(engine: &mut Engine, record: &Decoded, fx: &mut Effects) -> bool {
    fx.clear();
    match record {
        Decoded::New { account, order } => {
            let account = engine.account(account);
            matches!(engine.new_order(account, order, fx), Ok(Accepted::New(_)))
        }
        Decoded::Cancel { account, order_id } => {
            let account = engine.account(account);
            engine
                .cancel(account, &CancelTarget::OrderId(*order_id), fx)
                .is_ok()
        }
    }
}

/// What [`replay`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub records: u64,
    /// Length of the valid prefix of the log.
    pub valid_bytes: usize,
    /// Bytes of a torn final record that were ignored.
    pub torn_bytes: usize,
}

/// Rebuilds the engine from log bytes. Fails on anything but a torn final record.
pub fn replay(data: &[u8]) -> io::Result<(Engine, ReplayStats)> {
    let mut engine = Engine::new();
    let mut fx = Effects::default();
    let mut stats = ReplayStats::default();
    let mut offset = 0;
    while offset < data.len() {
        let rest = &data[offset..];
        let Some(end) = rest.iter().position(|&b| b == b'\n') else {
            break; // torn: the crash came before the newline
        };
        let last = offset + end + 1 == data.len();
        match decode(&rest[..end]) {
            Some(record) => {
                if !apply(&mut engine, &record, &mut fx) {
                    return Err(corrupt(offset, "a record that does not replay as accepted"));
                }
            }
            None if last => break, // torn inside the final record
            None => return Err(corrupt(offset, "an unreadable record")),
        }
        offset += end + 1;
        stats.records += 1;
    }
    stats.valid_bytes = offset;
    stats.torn_bytes = data.len() - offset;
    Ok((engine, stats))
}

fn corrupt(offset: usize, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{LOG_FILE} is corrupt at byte {offset}: {what}"),
    )
}

/// Loads `dir/orders.log` (creating it if needed), cuts off a torn tail, and
/// returns the rebuilt engine and the file opened for appending.
pub fn open(dir: &Path) -> io::Result<(Engine, File, ReplayStats)> {
    fs::create_dir_all(dir)?;
    let path = dir.join(LOG_FILE);
    let data = match fs::read(&path) {
        Ok(data) => Some(data),
        Err(e) if e.kind() == io::ErrorKind::NotFound => None,
        Err(e) => return Err(e),
    };
    let (engine, stats) = replay(data.as_deref().unwrap_or_default())?;
    drop(data);
    let file = OpenOptions::new().create(true).append(true).open(&path)?;
    if stats.torn_bytes > 0 {
        file.set_len(stats.valid_bytes as u64)?;
    }
    file.sync_all()?;
    // Make the file's directory entry durable too (it may have just been created).
    File::open(dir)?.sync_all()?;
    Ok((engine, file, stats))
}

/// Records handed over to the writer thread.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Number of the last record in `buf` (or written before it).
    upto: u64,
    closing: bool,
}

#[derive(Default)]
struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

/// A handle on the log writer thread.
#[derive(Clone)]
pub struct Journal {
    shared: Arc<Shared>,
}

impl Journal {
    /// Starts the writer thread for `file`. Records are numbered from 1 in
    /// this process; the receiver watches the last one durable.
    pub fn start(file: File) -> io::Result<(Self, watch::Receiver<u64>, JoinHandle<()>)> {
        let shared = Arc::new(Shared::default());
        let (durable_tx, durable_rx) = watch::channel(0);
        let writer = Arc::clone(&shared);
        let handle = std::thread::Builder::new()
            .name("journal".into())
            .spawn(move || write_loop(&writer, file, &durable_tx))?;
        Ok((Self { shared }, durable_rx, handle))
    }

    /// Hands the encoded records in `records` (emptied) over to the writer;
    /// `upto` is the number of the last of them.
    pub fn submit(&self, records: &mut Vec<u8>, upto: u64) {
        if records.is_empty() {
            return;
        }
        let mut pending = self.shared.pending.lock().expect("journal lock poisoned");
        if pending.buf.is_empty() {
            // Swap instead of copying when the writer has taken everything.
            std::mem::swap(&mut pending.buf, records);
        } else {
            pending.buf.append(records);
        }
        pending.upto = upto;
        drop(pending);
        self.shared.wake.notify_one();
    }

    /// Asks the writer to write what it has, sync, and stop.
    pub fn close(&self) {
        self.shared
            .pending
            .lock()
            .expect("journal lock poisoned")
            .closing = true;
        self.shared.wake.notify_one();
    }
}

fn write_loop(shared: &Shared, mut file: File, durable: &watch::Sender<u64>) {
    let mut batch = Vec::new();
    loop {
        let upto = {
            let mut pending = shared.pending.lock().expect("journal lock poisoned");
            while pending.buf.is_empty() && !pending.closing {
                pending = shared.wake.wait(pending).expect("journal lock poisoned");
            }
            if pending.buf.is_empty() {
                return; // closing, and everything is on disk
            }
            std::mem::swap(&mut pending.buf, &mut batch);
            pending.upto
        };
        if let Err(e) = file.write_all(&batch).and_then(|()| file.sync_data()) {
            // Nothing in this batch was acknowledged, and the file's state is
            // unknown: stop, and let the restart recover from what is on disk.
            eprintln!("fatal: cannot write {LOG_FILE}: {e}");
            std::process::exit(1);
        }
        batch.clear();
        durable.send_replace(upto);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{Side, Stp, Tif};

    fn order(cid: &str, side: Side, price: Option<u64>, qty: u64) -> NewOrder {
        NewOrder {
            client_order_id: cid.into(),
            spec: OrderSpec {
                side,
                order_type: if price.is_some() {
                    OrderType::Limit
                } else {
                    OrderType::Market
                },
                price,
                qty,
                tif: if price.is_some() { Tif::Gtc } else { Tif::Ioc },
                stp: Stp::DecrementAndCancel,
            },
        }
    }

    fn sample_log() -> (Vec<u8>, Vec<usize>) {
        let orders = [
            order("s-1", Side::Sell, Some(450_000), 30_000),
            order("s-2", Side::Sell, Some(450_005), 20_000),
            order("b-1", Side::Buy, None, 30_000),
        ];
        let mut data = Vec::new();
        let mut ends = Vec::new();
        for (account, order) in [("a", &orders[0]), ("a", &orders[1]), ("b", &orders[2])] {
            Record::New { account, order }.encode(&mut data);
            ends.push(data.len());
        }
        Record::Cancel {
            account: "a",
            order_id: 2,
        }
        .encode(&mut data);
        ends.push(data.len());
        (data, ends)
    }

    #[test]
    fn records_read_back() {
        let o = order("c1", Side::Buy, None, 10_000);
        let mut line = Vec::new();
        Record::New {
            account: "acct1",
            order: &o,
        }
        .encode(&mut line);
        assert!(line.starts_with(b"new acct1 c1 buy market - 10000 ioc decrement_and_cancel "));
        assert_eq!(
            decode(&line[..line.len() - 1]),
            Some(Decoded::New {
                account: "acct1".into(),
                order: o
            })
        );
        line[4] = b'A'; // any change breaks the CRC
        assert_eq!(decode(&line[..line.len() - 1]), None);
    }

    #[test]
    fn replay_rebuilds_the_book_and_the_ids() {
        let (data, _) = sample_log();
        let (mut engine, stats) = replay(&data).unwrap();
        assert_eq!((stats.records, stats.torn_bytes), (4, 0));
        assert_eq!(engine.orders_accepted(), 3);
        // One trade (0.0003 at 45000.0), s-2 cancelled: the book is empty.
        assert_eq!(engine.asks().count(), 0);
        // Books for s-1 and s-2 resting, the trade and its book, the cancel's book.
        assert_eq!(engine.seq(), 5);
        // The original order is known: a retry is recognised, not executed.
        let a = engine.account("a");
        let retry = order("s-1", Side::Sell, Some(450_000), 30_000);
        let mut fx = Effects::default();
        assert_eq!(engine.new_order(a, &retry, &mut fx), Ok(Accepted::Retry(1)));
    }

    #[test]
    fn a_torn_tail_is_ignored_at_every_cut() {
        let (data, ends) = sample_log();
        for cut in 0..=data.len() {
            let (engine, stats) = replay(&data[..cut]).unwrap();
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(stats.records as usize, whole, "cut {cut}");
            assert_eq!(stats.valid_bytes + stats.torn_bytes, cut);
            assert_eq!(engine.orders_accepted() as usize, whole.min(3), "cut {cut}");
        }
    }

    #[test]
    fn corruption_before_the_tail_is_an_error() {
        let (mut data, ends) = sample_log();
        data[ends[0] + 5] ^= 1;
        assert!(replay(&data).is_err());
        // A cancel of an order that is not open does not replay as accepted.
        let mut bad = Vec::new();
        Record::Cancel {
            account: "a",
            order_id: 1,
        }
        .encode(&mut bad);
        bad.extend_from_slice(&data[..ends[0]]);
        assert!(replay(&bad).is_err());
    }

    #[test]
    fn open_cuts_the_torn_tail_and_the_writer_makes_records_durable() {
        let dir = std::env::temp_dir().join(format!("me-journal-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let (data, ends) = sample_log();
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(LOG_FILE), &data[..ends[1] + 7]).unwrap();

        let (engine, file, stats) = open(&dir).unwrap();
        assert_eq!((stats.records, stats.torn_bytes), (2, 7));
        assert_eq!(engine.orders_accepted(), 2);
        assert_eq!(
            fs::metadata(dir.join(LOG_FILE)).unwrap().len() as usize,
            ends[1]
        );

        let (journal, mut durable, writer) = Journal::start(file).unwrap();
        let mut records = data[ends[1]..].to_vec();
        journal.submit(&mut records, 2);
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(durable.wait_for(|&d| d >= 2))
            .unwrap();
        journal.close();
        writer.join().unwrap();
        assert_eq!(fs::read(dir.join(LOG_FILE)).unwrap(), data);
        fs::remove_dir_all(&dir).unwrap();
    }
}
