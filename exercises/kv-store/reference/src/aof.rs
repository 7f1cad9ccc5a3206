//! The append-only log: every acknowledged write, fsynced before its reply.
//!
//! # Format
//! The log is a sequence of RESP multibulk requests, like Redis' AOF, so it
//! can be inspected with `cat -v` and is read back by the same parser that
//! reads the network:
//!
//! ```text
//! SET key value [PXAT unix-ms]     full state of one key
//! MSET key value [key value ...]   several keys without deadline, atomically
//! DEL key [key ...]
//! PEXPIREAT key unix-ms
//! ```
//!
//! Records describe the *result* of a command, never the command: `INCR`
//! is logged as the `SET` of the new value (keeping its deadline) and
//! `EXPIRE k 10` as `PEXPIREAT` with an absolute time, so replay does not
//! depend on when it runs. Expiry itself is not logged: a record whose
//! deadline has passed is simply dropped on replay.
//!
//! # Group commit
//! Connections call [`Appender::append`] while holding the keyspace lock,
//! so the log order is the order in which changes were applied. `append`
//! only copies the encoded record into a memory buffer and returns a
//! sequence number. A dedicated writer thread repeatedly takes everything
//! buffered, writes it with one `write` and makes it durable with one
//! `fdatasync`, then publishes the highest sequence number now durable.
//! Replies wait for that number (see `server.rs`). While one fsync runs,
//! the next batch accumulates, so a thousand concurrent writers cost one
//! fsync per round instead of a thousand.
//!
//! # Recovery
//! On start the log is replayed. A torn final record (the server died
//! mid-write; it was never acknowledged) is cut off. Anything else that
//! does not parse is corruption and stops the server: silently dropping
//! acknowledged data would be worse. The replayed state is then written
//! to a fresh log (temp file, fsync, rename, fsync directory) so the log
//! does not grow across restarts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;

use bytes::{Bytes, BytesMut};
use tokio::sync::watch;

use crate::db::Keyspace;
use crate::resp::{self, parse_i64, Parser};

pub const LOG_FILE: &str = "appendonly.kvlog";

/// One logged change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record<'a> {
    Set {
        key: &'a [u8],
        value: &'a [u8],
        deadline: Option<i64>,
    },
    MSet(&'a [(Bytes, Bytes)]),
    Del(&'a [&'a [u8]]),
    ExpireAt {
        key: &'a [u8],
        deadline: i64,
    },
}

impl Record<'_> {
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Record::Set {
                key,
                value,
                deadline: None,
            } => resp::command(out, &[b"SET", key, value]),
            Record::Set {
                key,
                value,
                deadline: Some(d),
            } => resp::command(
                out,
                &[b"SET", key, value, b"PXAT", d.to_string().as_bytes()],
            ),
            Record::MSet(pairs) => {
                let mut args: Vec<&[u8]> = vec![b"MSET"];
                for (k, v) in pairs.iter() {
                    args.push(k);
                    args.push(v);
                }
                resp::command(out, &args);
            }
            Record::Del(keys) => {
                let mut args: Vec<&[u8]> = vec![b"DEL"];
                args.extend_from_slice(keys);
                resp::command(out, &args);
            }
            Record::ExpireAt { key, deadline } => {
                resp::command(out, &[b"PEXPIREAT", key, deadline.to_string().as_bytes()])
            }
        }
    }
}

/// Applies one decoded log request to `ks`. `None` if it is not a valid
/// record.
fn apply(ks: &mut Keyspace, args: &[Bytes], now: i64) -> Option<()> {
    let name = args.first()?.as_ref();
    match (name, args.len()) {
        (b"SET", 3) => ks.set(&args[1], &args[2], None),
        (b"SET", 5) if args[3].as_ref() == b"PXAT" => {
            let deadline = parse_i64(&args[4])?;
            if now > deadline {
                ks.del(&args[1], now);
            } else {
                ks.set(&args[1], &args[2], Some(deadline));
            }
        }
        (b"MSET", n) if n >= 3 && n % 2 == 1 => {
            for pair in args[1..].chunks(2) {
                ks.set(&pair[0], &pair[1], None);
            }
        }
        (b"DEL", n) if n >= 2 => {
            for key in &args[1..] {
                ks.del(key, now);
            }
        }
        (b"PEXPIREAT", 3) => {
            let deadline = parse_i64(&args[2])?;
            if now > deadline {
                ks.del(&args[1], now);
            } else {
                ks.set_deadline(&args[1], deadline, now);
            }
        }
        _ => return None,
    }
    Some(())
}

/// What [`replay`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReplayStats {
    pub records: u64,
    /// Bytes of a torn final record that were ignored.
    pub torn_bytes: usize,
}

/// Rebuilds a keyspace from log bytes. `now` decides which deadlines have
/// passed. Fails on anything but a torn final record.
pub fn replay(data: &[u8], now: i64) -> io::Result<(Keyspace, ReplayStats)> {
    let mut ks = Keyspace::new();
    let mut stats = ReplayStats::default();
    // The log never holds more than what the protocol accepted, but do not
    // let a corrupt length ask for more than the data that is there.
    let mut parser = Parser::new(data.len());
    let mut buf = BytesMut::from(data);
    let corrupt = |offset: usize, what: &str| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("log corrupt at byte {offset}: {what}"),
        )
    };
    loop {
        let offset = data.len() - buf.len();
        match parser.next(&mut buf) {
            Ok(Some(args)) => {
                apply(&mut ks, &args, now).ok_or_else(|| corrupt(offset, "unknown record"))?;
                stats.records += 1;
            }
            Ok(None) => {
                stats.torn_bytes = data.len() - offset;
                return Ok((ks, stats));
            }
            Err(e) => {
                let msg = String::from_utf8_lossy(&e.message()).into_owned();
                return Err(corrupt(offset, &msg));
            }
        }
    }
}

/// Loads `dir/appendonly.kvlog` (if any) and replaces it with a compact log
/// of the resulting state. Returns the keyspace and the log file opened
/// for appending.
pub fn open(dir: &Path, now: i64) -> io::Result<(Keyspace, File, ReplayStats)> {
    fs::create_dir_all(dir)?;
    let path = dir.join(LOG_FILE);
    let mut data = Vec::new();
    match File::open(&path) {
        Ok(mut f) => {
            f.read_to_end(&mut data)?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    let (ks, stats) = replay(&data, now)?;
    drop(data);
    rewrite(dir, &path, &ks)?;
    let file = OpenOptions::new().append(true).open(&path)?;
    Ok((ks, file, stats))
}

/// Atomically replaces the log with one `SET` per live key.
fn rewrite(dir: &Path, path: &Path, ks: &Keyspace) -> io::Result<()> {
    let tmp: PathBuf = dir.join(format!("{LOG_FILE}.tmp"));
    let mut out = io::BufWriter::new(File::create(&tmp)?);
    let mut rec = Vec::new();
    for (key, entry) in ks.iter() {
        rec.clear();
        Record::Set {
            key,
            value: &entry.value,
            deadline: entry.deadline,
        }
        .encode(&mut rec);
        out.write_all(&rec)?;
    }
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    fs::rename(&tmp, path)?;
    // Make the rename itself durable.
    File::open(dir)?.sync_all()
}

/// Records waiting for the writer thread.
#[derive(Default)]
struct Pending {
    buf: Vec<u8>,
    /// Sequence number of the last record in `buf` (or written before).
    seq: u64,
    closing: bool,
}

/// Group-commit front end of the log; see the module docs.
pub struct Appender {
    pending: Mutex<Pending>,
    wake: Condvar,
    appended: AtomicU64,
    durable: watch::Sender<u64>,
}

impl Appender {
    /// Starts the writer thread for `file`.
    pub fn start(file: File) -> (Arc<Self>, JoinHandle<()>) {
        let (durable, _) = watch::channel(0);
        let appender = Arc::new(Self {
            pending: Mutex::new(Pending::default()),
            wake: Condvar::new(),
            appended: AtomicU64::new(0),
            durable,
        });
        let writer = Arc::clone(&appender);
        let handle = std::thread::Builder::new()
            .name("log-writer".into())
            .spawn(move || writer.run(file))
            .expect("spawn log writer thread");
        (appender, handle)
    }

    /// Buffers `record` and returns its sequence number. Must be called
    /// with the keyspace lock held so that log order equals apply order.
    pub fn append(&self, record: &Record<'_>) -> u64 {
        let mut p = self.pending.lock().expect("log lock poisoned");
        let was_empty = p.buf.is_empty();
        record.encode(&mut p.buf);
        p.seq += 1;
        let seq = p.seq;
        self.appended.store(seq, Ordering::Release);
        drop(p);
        if was_empty {
            // Only the first record of a batch needs to wake the writer;
            // later ones find it busy or already woken.
            self.wake.notify_one();
        }
        seq
    }

    /// Sequence number of the last record appended (durable or not).
    pub fn appended(&self) -> u64 {
        self.appended.load(Ordering::Acquire)
    }

    /// Watches the highest sequence number known to be on disk.
    pub fn durable(&self) -> watch::Receiver<u64> {
        self.durable.subscribe()
    }

    /// Asks the writer to flush what is buffered and stop.
    pub fn close(&self) {
        self.pending.lock().expect("log lock poisoned").closing = true;
        self.wake.notify_one();
    }

    fn run(&self, mut file: File) {
        let mut batch = Vec::new();
        loop {
            let seq = {
                let mut p = self.pending.lock().expect("log lock poisoned");
                while p.buf.is_empty() && !p.closing {
                    p = self.wake.wait(p).expect("log lock poisoned");
                }
                if p.buf.is_empty() {
                    return; // closing and fully flushed
                }
                // Swap buffers so appenders never wait for the disk.
                std::mem::swap(&mut p.buf, &mut batch);
                p.seq
            };
            if let Err(e) = file.write_all(&batch).and_then(|()| file.sync_data()) {
                // Like Redis with appendfsync always: an acknowledged write
                // that cannot be made durable is not acceptable, and the
                // state of the file is unknown. Stop the process.
                eprintln!("fatal: cannot write the append-only log: {e}");
                std::process::exit(1);
            }
            batch.clear();
            self.durable.send_replace(seq);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(records: &[Record<'_>]) -> Vec<u8> {
        let mut out = Vec::new();
        for r in records {
            r.encode(&mut out);
        }
        out
    }

    fn value(ks: &mut Keyspace, key: &[u8], now: i64) -> Option<Vec<u8>> {
        ks.get(key, now).map(|e| e.value.to_vec())
    }

    #[test]
    fn replay_rebuilds_state_with_absolute_deadlines() {
        let pairs = [
            (Bytes::from_static(b"m1"), Bytes::from_static(b"x")),
            (Bytes::from_static(b"m2"), Bytes::from_static(b"y")),
        ];
        let data = log(&[
            Record::Set {
                key: b"a",
                value: b"1",
                deadline: None,
            },
            Record::Set {
                key: b"b",
                value: b"2",
                deadline: Some(5_000),
            },
            Record::Set {
                key: b"old",
                value: b"3",
                deadline: Some(500),
            },
            Record::MSet(&pairs),
            Record::Del(&[b"m2", b"nope"]),
            Record::ExpireAt {
                key: b"a",
                deadline: 9_000,
            },
            Record::Set {
                key: b"bin\r\n",
                value: b"\0\r\n",
                deadline: None,
            },
        ]);
        let (mut ks, stats) = replay(&data, 1_000).unwrap();
        assert_eq!(
            stats,
            ReplayStats {
                records: 7,
                torn_bytes: 0
            }
        );
        assert_eq!(value(&mut ks, b"a", 1_000), Some(b"1".to_vec()));
        assert_eq!(ks.get(b"a", 1_000).unwrap().deadline, Some(9_000));
        assert_eq!(ks.get(b"b", 1_000).unwrap().deadline, Some(5_000));
        assert_eq!(value(&mut ks, b"old", 1_000), None);
        assert_eq!(value(&mut ks, b"m1", 1_000), Some(b"x".to_vec()));
        assert_eq!(value(&mut ks, b"m2", 1_000), None);
        assert_eq!(value(&mut ks, b"bin\r\n", 1_000), Some(b"\0\r\n".to_vec()));
        // The same log replayed later expires what is due by then.
        let (mut later, _) = replay(&data, 6_000).unwrap();
        assert_eq!(value(&mut later, b"b", 6_000), None);
        assert_eq!(value(&mut later, b"a", 6_000), Some(b"1".to_vec()));
    }

    #[test]
    fn a_torn_tail_is_ignored_at_every_cut() {
        let data = log(&[
            Record::Set {
                key: b"a",
                value: b"1",
                deadline: None,
            },
            Record::Set {
                key: b"b",
                value: b"2",
                deadline: Some(99_999),
            },
        ]);
        let first_len = log(&[Record::Set {
            key: b"a",
            value: b"1",
            deadline: None,
        }])
        .len();
        for cut in 0..data.len() {
            let (mut ks, stats) = replay(&data[..cut], 0).unwrap();
            let expect_a = cut >= first_len;
            assert_eq!(ks.contains(b"a", 0), expect_a, "cut {cut}");
            assert!(!ks.contains(b"b", 0), "cut {cut}");
            let kept = if expect_a { first_len } else { 0 };
            assert_eq!(stats.torn_bytes, cut - kept, "cut {cut}");
        }
    }

    #[test]
    fn corruption_is_an_error() {
        assert!(replay(b"*1\r\n$3\r\nFOO\r\n", 0).is_err());
        assert!(replay(b"garbage\r\n", 0).is_err());
    }

    #[test]
    fn open_compacts_and_appender_makes_records_durable() {
        let dir = std::env::temp_dir().join(format!("kv-aof-test-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        let mut data = Vec::new();
        for i in 0..100 {
            Record::Set {
                key: b"k",
                value: i.to_string().as_bytes(),
                deadline: None,
            }
            .encode(&mut data);
        }
        fs::write(dir.join(LOG_FILE), &data).unwrap();

        let (mut ks, file, _) = open(&dir, 0).unwrap();
        assert_eq!(value(&mut ks, b"k", 0), Some(b"99".to_vec()));
        let compacted = fs::metadata(dir.join(LOG_FILE)).unwrap().len() as usize;
        assert!(compacted < data.len() / 50);

        let (appender, writer) = Appender::start(file);
        let mut durable = appender.durable();
        let seq = appender.append(&Record::Set {
            key: b"n",
            value: b"1",
            deadline: Some(1 << 50),
        });
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(durable.wait_for(|&d| d >= seq))
            .unwrap();
        appender.close();
        writer.join().unwrap();

        let (mut ks, _, _) = open(&dir, 0).unwrap();
        assert_eq!(value(&mut ks, b"n", 0), Some(b"1".to_vec()));
        assert_eq!(ks.get(b"n", 0).unwrap().deadline, Some(1 << 50));
        fs::remove_dir_all(&dir).unwrap();
    }
}
