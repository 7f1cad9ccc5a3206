//! Executes data commands against the keyspace and logs their effects.
//!
//! The keyspace sits behind one `std::sync::Mutex`. That is deliberate:
//! every critical section is a hash-map operation plus copying a record
//! into the log buffer (no I/O, no `.await`), so the lock is held for
//! well under a microsecond and a single lock keeps multi-key commands
//! (MSET, DEL) atomic and the log in apply order without any ordering
//! protocol between shards. Replies are encoded after the lock is dropped.

use std::sync::{Arc, Mutex, MutexGuard};

use bytes::{Bytes, BytesMut};

use crate::aof::{Appender, Record};
use crate::command::{
    expire_time_error, Command, Exists, SetExpiry, ERR_NOT_INTEGER, ERR_OVERFLOW,
};
use crate::db::{now_ms, IncrError, Keyspace};
use crate::resp;

pub struct Store {
    keyspace: Mutex<Keyspace>,
    log: Arc<Appender>,
}

impl Store {
    pub fn new(keyspace: Keyspace, log: Arc<Appender>) -> Self {
        Self {
            keyspace: Mutex::new(keyspace),
            log,
        }
    }

    pub fn log(&self) -> &Appender {
        &self.log
    }

    fn lock(&self) -> MutexGuard<'_, Keyspace> {
        self.keyspace.lock().expect("keyspace lock poisoned")
    }

    /// Active expiry: removes due keys in bounded slices, releasing the lock
    /// between slices so clients are not stalled by a mass expiry.
    pub fn expire_due(&self) -> usize {
        const SLICE: usize = 1000;
        let mut total = 0;
        loop {
            let removed = self.lock().expire_due(now_ms(), SLICE);
            total += removed;
            if removed < SLICE {
                return total;
            }
        }
    }

    /// Executes a keyspace command, appending its reply to `out`.
    /// Pub/sub and connection commands are handled by the connection.
    pub fn execute(&self, cmd: Command, out: &mut BytesMut) {
        let now = now_ms();
        match cmd {
            Command::Get(key) => {
                let value = self.lock().get(&key, now).map(|e| e.value.clone());
                bulk_or_null(out, value);
            }
            Command::Set {
                key,
                value,
                expiry,
                exists,
                get,
            } => self.set(key, value, expiry, exists, get, now, out),
            Command::Del(keys) => {
                let mut ks = self.lock();
                let deleted: Vec<&[u8]> = keys
                    .iter()
                    .filter(|k| ks.del(k, now))
                    .map(|k| k.as_ref())
                    .collect();
                if !deleted.is_empty() {
                    self.log.append(&Record::Del(&deleted));
                }
                drop(ks);
                resp::integer(out, deleted.len() as i64);
            }
            Command::Exists(keys) => {
                let mut ks = self.lock();
                let n = keys.iter().filter(|k| ks.contains(k, now)).count();
                drop(ks);
                resp::integer(out, n as i64);
            }
            Command::IncrBy(key, delta) => {
                let mut ks = self.lock();
                match ks.incr_by(&key, delta, now) {
                    Ok((n, deadline)) => {
                        let text = n.to_string();
                        self.log.append(&Record::Set {
                            key: &key,
                            value: text.as_bytes(),
                            deadline,
                        });
                        drop(ks);
                        resp::integer(out, n);
                    }
                    Err(IncrError::NotAnInteger) => resp::error(out, ERR_NOT_INTEGER),
                    Err(IncrError::Overflow) => resp::error(out, ERR_OVERFLOW),
                }
            }
            Command::Expire {
                key,
                millis,
                cond,
                name,
            } => {
                let Some(deadline) = now.checked_add(millis) else {
                    return resp::error(out, &expire_time_error(name));
                };
                let mut ks = self.lock();
                let Some(current) = ks.get(&key, now).map(|e| e.deadline) else {
                    drop(ks);
                    return resp::integer(out, 0);
                };
                // No deadline counts as infinitely far away for GT and LT.
                let refused = match current {
                    None => cond.xx || cond.gt,
                    Some(c) => cond.nx || (cond.gt && deadline <= c) || (cond.lt && deadline >= c),
                };
                if refused {
                    drop(ks);
                    return resp::integer(out, 0);
                }
                if deadline <= now {
                    ks.del(&key, now);
                    self.log.append(&Record::Del(&[&key]));
                } else {
                    ks.set_deadline(&key, deadline, now);
                    self.log.append(&Record::ExpireAt {
                        key: &key,
                        deadline,
                    });
                }
                drop(ks);
                resp::integer(out, 1);
            }
            Command::Ttl { key, millis } => {
                let ttl = match self.lock().get(&key, now) {
                    None => -2,
                    Some(e) => match e.deadline {
                        None => -1,
                        Some(d) => {
                            let ms = (d - now).max(0);
                            if millis {
                                ms
                            } else {
                                (ms + 500) / 1000 // Redis rounds to the nearest second
                            }
                        }
                    },
                };
                resp::integer(out, ttl);
            }
            Command::MGet(keys) => {
                let mut ks = self.lock();
                let values: Vec<Option<Bytes>> = keys
                    .iter()
                    .map(|k| ks.get(k, now).map(|e| e.value.clone()))
                    .collect();
                drop(ks);
                resp::array_len(out, values.len());
                for v in values {
                    bulk_or_null(out, v);
                }
            }
            Command::MSet(pairs) => {
                let mut ks = self.lock();
                for (k, v) in &pairs {
                    ks.set(k, v, None);
                }
                self.log.append(&Record::MSet(&pairs));
                drop(ks);
                resp::simple(out, "OK");
            }
            Command::DbSize => {
                let n = self.lock().len();
                resp::integer(out, n as i64);
            }
            other => unreachable!("not a keyspace command: {other:?}"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn set(
        &self,
        key: Bytes,
        value: Bytes,
        expiry: SetExpiry,
        exists: Exists,
        get: bool,
        now: i64,
        out: &mut BytesMut,
    ) {
        let deadline = match expiry {
            SetExpiry::In(ms) => match now.checked_add(ms) {
                Some(d) => Some(d),
                None => return resp::error(out, &expire_time_error("set")),
            },
            SetExpiry::At(at) => Some(at),
            SetExpiry::Clear | SetExpiry::Keep => None,
        };
        let mut ks = self.lock();
        let old = ks.get(&key, now).cloned();
        let blocked = match exists {
            Exists::Any => false,
            Exists::MustNotExist => old.is_some(),
            Exists::MustExist => old.is_none(),
        };
        if !blocked {
            let deadline = match expiry {
                SetExpiry::Keep => old.as_ref().and_then(|e| e.deadline),
                _ => deadline,
            };
            ks.set(&key, &value, deadline);
            self.log.append(&Record::Set {
                key: &key,
                value: &value,
                deadline,
            });
        }
        drop(ks);
        if get {
            bulk_or_null(out, old.map(|e| e.value));
        } else if blocked {
            resp::null(out);
        } else {
            resp::simple(out, "OK");
        }
    }
}

fn bulk_or_null(out: &mut BytesMut, value: Option<Bytes>) {
    match value {
        Some(v) => resp::bulk(out, &v),
        None => resp::null(out),
    }
}
