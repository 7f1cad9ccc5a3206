//! Turning a request (a list of arguments) into a typed [`Command`].
//!
//! Checks happen in the order Redis 7.0's `processCommand` uses, because the
//! first failing check decides which error the client sees:
//! 1. `QUIT` is accepted with any arguments;
//! 2. unknown command;
//! 3. arity (from the command table);
//! 4. subscribed-mode restriction;
//! 5. the command's own argument checks (options, integers, ...).
//!
//! Errors are returned as complete reply payloads (without the leading `-`)
//! and never close the connection.

use bytes::Bytes;

use crate::resp::{parse_i64, sanitize};

pub const ERR_NOT_INTEGER: &[u8] = b"ERR value is not an integer or out of range";
pub const ERR_OVERFLOW: &[u8] = b"ERR increment or decrement would overflow";
pub const ERR_SYNTAX: &[u8] = b"ERR syntax error";

pub type Error = Vec<u8>;

/// Condition of `SET ... NX|XX`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exists {
    Any,
    MustNotExist,
    MustExist,
}

/// The expiry part of a SET, validated except for the addition of "now",
/// which may still overflow (see `store.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetExpiry {
    /// No option: the key loses any previous deadline.
    Clear,
    /// `KEEPTTL`.
    Keep,
    /// `EX` / `PX`: milliseconds from now.
    In(i64),
    /// `EXAT` / `PXAT`: absolute Unix milliseconds.
    At(i64),
}

/// Conditions of `EXPIRE ... NX|XX|GT|LT`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExpireCond {
    pub nx: bool,
    pub xx: bool,
    pub gt: bool,
    pub lt: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Ping(Option<Bytes>),
    Echo(Bytes),
    Get(Bytes),
    Set {
        key: Bytes,
        value: Bytes,
        expiry: SetExpiry,
        exists: Exists,
        get: bool,
    },
    Del(Vec<Bytes>),
    Exists(Vec<Bytes>),
    IncrBy(Bytes, i64),
    Expire {
        key: Bytes,
        /// Relative time in milliseconds (already scaled for EXPIRE).
        millis: i64,
        cond: ExpireCond,
        /// `expire` or `pexpire`, for the error message.
        name: &'static str,
    },
    Ttl {
        key: Bytes,
        millis: bool,
    },
    MGet(Vec<Bytes>),
    MSet(Vec<(Bytes, Bytes)>),
    DbSize,
    Publish(Bytes, Bytes),
    Subscribe(Vec<Bytes>),
    Unsubscribe(Vec<Bytes>),
    Quit,
}

/// (name, arity) as in Redis' command table: a positive arity is exact, a
/// negative one is a minimum. Counts include the command name.
const TABLE: &[(&str, i32)] = &[
    ("ping", -1),
    ("echo", 2),
    ("get", 2),
    ("set", -3),
    ("del", -2),
    ("exists", -2),
    ("incr", 2),
    ("decr", 2),
    ("incrby", 3),
    ("expire", -3),
    ("pexpire", -3),
    ("ttl", 2),
    ("pttl", 2),
    ("mget", -2),
    ("mset", -3),
    ("dbsize", 1),
    ("publish", 3),
    ("subscribe", -2),
    ("unsubscribe", -1),
];

/// Commands a client may send while subscribed to at least one channel.
const ALLOWED_WHEN_SUBSCRIBED: &[&str] = &["ping", "subscribe", "unsubscribe", "quit"];

fn err(parts: &[&[u8]]) -> Error {
    parts.concat()
}

pub fn arity_error(name: &str) -> Error {
    err(&[
        b"ERR wrong number of arguments for '",
        name.as_bytes(),
        b"' command",
    ])
}

pub fn expire_time_error(name: &str) -> Error {
    err(&[
        b"ERR invalid expire time in '",
        name.as_bytes(),
        b"' command",
    ])
}

/// Bytes of a C string: Redis formats arguments with `%s`, which stops at
/// the first NUL.
fn c_str(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |end| &b[..end])
}

/// Redis' "unknown command" reply: the name (at most 128 bytes) and quoted
/// arguments until the list reaches 128 bytes, each quoted argument cut so
/// that the list does not grow past 128 bytes of argument text.
fn unknown_command(args: &[Bytes]) -> Error {
    let mut list = Vec::new();
    for arg in &args[1..] {
        if list.len() >= 128 {
            break;
        }
        let arg = c_str(arg);
        let room = 128 - list.len();
        list.push(b'\'');
        list.extend_from_slice(&arg[..arg.len().min(room)]);
        list.extend_from_slice(b"' ");
    }
    let name = c_str(&args[0]);
    let mut msg = b"ERR unknown command '".to_vec();
    msg.extend_from_slice(&name[..name.len().min(128)]);
    msg.extend_from_slice(b"', with args beginning with: ");
    msg.extend(list);
    sanitize(&msg)
}

fn int_arg(arg: &[u8]) -> Result<i64, Error> {
    parse_i64(arg).ok_or_else(|| ERR_NOT_INTEGER.to_vec())
}

/// Parses a request. `subscribed` is whether the connection is in
/// subscribed mode.
pub fn parse(args: Vec<Bytes>, subscribed: bool) -> Result<Command, Error> {
    let lower = args[0].to_ascii_lowercase();
    if lower == b"quit" {
        return Ok(Command::Quit);
    }
    let Some(&(name, arity)) = TABLE.iter().find(|(n, _)| n.as_bytes() == lower) else {
        return Err(unknown_command(&args));
    };
    let argc = args.len() as i32;
    if (arity > 0 && argc != arity) || (arity < 0 && argc < -arity) {
        return Err(arity_error(name));
    }
    if subscribed && !ALLOWED_WHEN_SUBSCRIBED.contains(&name) {
        return Err(err(&[
            b"ERR Can't execute '",
            name.as_bytes(),
            b"': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        ]));
    }

    let mut args = args.into_iter();
    args.next(); // the name
    let mut next = || args.next().expect("arity checked");
    Ok(match name {
        "ping" => {
            if argc > 2 {
                return Err(arity_error(name));
            }
            Command::Ping((argc == 2).then(&mut next))
        }
        "echo" => Command::Echo(next()),
        "get" => Command::Get(next()),
        "set" => {
            let key = next();
            let value = next();
            let rest: Vec<Bytes> = (3..argc).map(|_| next()).collect();
            parse_set(key, value, &rest)?
        }
        "del" => Command::Del((1..argc).map(|_| next()).collect()),
        "exists" => Command::Exists((1..argc).map(|_| next()).collect()),
        "incr" => Command::IncrBy(next(), 1),
        "decr" => Command::IncrBy(next(), -1),
        "incrby" => {
            let key = next();
            Command::IncrBy(key, int_arg(&next())?)
        }
        "expire" | "pexpire" => {
            let key = next();
            let amount = next();
            let opts: Vec<Bytes> = (3..argc).map(|_| next()).collect();
            parse_expire(name, key, &amount, &opts)?
        }
        "ttl" | "pttl" => Command::Ttl {
            key: next(),
            millis: name == "pttl",
        },
        "mget" => Command::MGet((1..argc).map(|_| next()).collect()),
        "mset" => {
            if argc % 2 == 0 {
                return Err(arity_error(name));
            }
            Command::MSet((1..argc).step_by(2).map(|_| (next(), next())).collect())
        }
        "dbsize" => Command::DbSize,
        "publish" => Command::Publish(next(), next()),
        "subscribe" => Command::Subscribe((1..argc).map(|_| next()).collect()),
        "unsubscribe" => Command::Unsubscribe((1..argc).map(|_| next()).collect()),
        _ => unreachable!("every table entry is handled"),
    })
}

/// `SET key value [NX|XX] [GET] [EX s|PX ms|EXAT s|PXAT ms|KEEPTTL]`, with
/// the option compatibility rules of Redis 7.0: options may repeat, and an
/// option that conflicts with an earlier one is a syntax error. The expiry
/// number is only looked at after all options parsed.
fn parse_set(key: Bytes, value: Bytes, opts: &[Bytes]) -> Result<Command, Error> {
    #[derive(PartialEq, Clone, Copy)]
    enum Unit {
        Ex,
        Px,
        ExAt,
        PxAt,
    }
    let mut exists = Exists::Any;
    let mut get = false;
    let mut keep_ttl = false;
    let mut expiry: Option<(Unit, &Bytes)> = None;
    let mut i = 0;
    while i < opts.len() {
        let opt = opts[i].to_ascii_lowercase();
        let has_next = i + 1 < opts.len();
        // An expiry option may repeat itself but not follow another kind.
        let expiry_ok = |unit: Unit| {
            let same_kind = match expiry {
                None => true,
                Some((u, _)) => u == unit,
            };
            !keep_ttl && same_kind && has_next
        };
        match opt.as_slice() {
            b"nx" if exists != Exists::MustExist => exists = Exists::MustNotExist,
            b"xx" if exists != Exists::MustNotExist => exists = Exists::MustExist,
            b"get" => get = true,
            b"keepttl" if expiry.is_none() => keep_ttl = true,
            b"ex" | b"px" | b"exat" | b"pxat" => {
                let unit = match opt.as_slice() {
                    b"ex" => Unit::Ex,
                    b"px" => Unit::Px,
                    b"exat" => Unit::ExAt,
                    _ => Unit::PxAt,
                };
                if !expiry_ok(unit) {
                    return Err(ERR_SYNTAX.to_vec());
                }
                i += 1;
                expiry = Some((unit, &opts[i]));
            }
            _ => return Err(ERR_SYNTAX.to_vec()),
        }
        i += 1;
    }
    let expiry = match expiry {
        None if keep_ttl => SetExpiry::Keep,
        None => SetExpiry::Clear,
        Some((unit, raw)) => {
            let n = int_arg(raw)?;
            let seconds = matches!(unit, Unit::Ex | Unit::ExAt);
            if n <= 0 || (seconds && n > i64::MAX / 1000) {
                return Err(expire_time_error("set"));
            }
            let ms = if seconds { n * 1000 } else { n };
            match unit {
                Unit::Ex | Unit::Px => SetExpiry::In(ms),
                Unit::ExAt | Unit::PxAt => SetExpiry::At(ms),
            }
        }
    };
    Ok(Command::Set {
        key,
        value,
        expiry,
        exists,
        get,
    })
}

/// `EXPIRE|PEXPIRE key amount [NX|XX|GT|LT ...]`. Options are checked
/// before the number, as Redis does.
fn parse_expire(
    name: &'static str,
    key: Bytes,
    amount: &[u8],
    opts: &[Bytes],
) -> Result<Command, Error> {
    let mut cond = ExpireCond::default();
    for opt in opts {
        match opt.to_ascii_lowercase().as_slice() {
            b"nx" => cond.nx = true,
            b"xx" => cond.xx = true,
            b"gt" => cond.gt = true,
            b"lt" => cond.lt = true,
            _ => {
                let mut msg = b"ERR Unsupported option ".to_vec();
                msg.extend_from_slice(c_str(opt));
                return Err(sanitize(&msg));
            }
        }
    }
    if cond.nx && (cond.xx || cond.gt || cond.lt) {
        return Err(
            b"ERR NX and XX, GT or LT options at the same time are not compatible".to_vec(),
        );
    }
    if cond.gt && cond.lt {
        return Err(b"ERR GT and LT options at the same time are not compatible".to_vec());
    }
    let n = int_arg(amount)?;
    let millis = if name == "expire" {
        n.checked_mul(1000).ok_or_else(|| expire_time_error(name))?
    } else {
        n
    };
    Ok(Command::Expire {
        key,
        millis,
        cond,
        name,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Vec<Bytes> {
        s.split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    fn parse_err(s: &str) -> String {
        String::from_utf8(parse(req(s), false).unwrap_err()).unwrap()
    }

    #[test]
    fn check_order_matches_redis() {
        assert_eq!(
            parse_err("foo a b"),
            "ERR unknown command 'foo', with args beginning with: 'a' 'b' "
        );
        assert_eq!(
            parse_err("GET"),
            "ERR wrong number of arguments for 'get' command"
        );
        assert_eq!(
            String::from_utf8(parse(req("get"), true).unwrap_err()).unwrap(),
            "ERR wrong number of arguments for 'get' command"
        );
        assert!(parse(req("get k"), true).is_err());
        assert_eq!(parse(req("QUIT now"), true).unwrap(), Command::Quit);
    }

    #[test]
    fn unknown_command_truncates_like_redis() {
        let long = format!("foo {} {} c", "a".repeat(50), "b".repeat(100));
        let want = format!(
            "ERR unknown command 'foo', with args beginning with: '{}' '{}' ",
            "a".repeat(50),
            "b".repeat(75)
        );
        assert_eq!(parse_err(&long), want);
    }

    #[test]
    fn set_options() {
        assert_eq!(parse_err("set k v nx xx"), "ERR syntax error");
        assert_eq!(parse_err("set k v ex 1 px 1"), "ERR syntax error");
        assert_eq!(parse_err("set k v ex"), "ERR syntax error");
        assert_eq!(parse_err("set k v ex abc nx xx"), "ERR syntax error");
        assert_eq!(
            parse_err("set k v ex abc"),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            parse_err("set k v ex 0"),
            "ERR invalid expire time in 'set' command"
        );
        assert!(parse(req("set k v ex 1 ex 2 nx nx"), false).is_ok());
    }

    #[test]
    fn expire_options() {
        assert_eq!(parse_err("expire k abc foo"), "ERR Unsupported option foo");
        assert_eq!(
            parse_err("expire k 1 nx gt"),
            "ERR NX and XX, GT or LT options at the same time are not compatible"
        );
        assert_eq!(
            parse_err("expire k 9999999999999999"),
            "ERR invalid expire time in 'expire' command"
        );
    }
}
