//! One request line to a typed command, or the one reject reason (§4.1, §4.2).
//!
//! The checks run in the brief's order and the first failure decides:
//! line_too_long, malformed_json, op (missing_field / unknown_op), session
//! (not_logged_in / already_logged_in), unknown_field, missing_field,
//! invalid_field, price, quantity. The checks that need the book
//! (duplicate id, post-only, cancel targets) are the engine's.
//!
//! Decoding needs only the connection's own state (logged in or not), so it
//! runs on the connection's task, off the matching engine's critical path.

use serde_json::{Map, Value};

use crate::instrument::{parse_price, parse_qty, Price, Qty};
use crate::reason::Reason;

/// Longest request line in bytes, not counting the "\n".
pub const MAX_LINE_BYTES: usize = 4096;
pub const MAX_ORDER_ID: u64 = i64::MAX as u64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Buy,
    Sell,
}

impl Side {
    pub fn as_str(self) -> &'static str {
        match self {
            Side::Buy => "buy",
            Side::Sell => "sell",
        }
    }

    pub fn opposite(self) -> Side {
        match self {
            Side::Buy => Side::Sell,
            Side::Sell => Side::Buy,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrderType {
    Limit,
    Market,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tif {
    Gtc,
    Ioc,
    PostOnly,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stp {
    CancelTaker,
    CancelMaker,
    CancelBoth,
    DecrementAndCancel,
}

/// Closed sets of wire words, for `choice` and for the log.
pub trait Word: Copy + Sized + 'static {
    const ALL: &'static [(&'static str, Self)];

    fn word(self) -> &'static str
    where
        Self: PartialEq,
    {
        Self::ALL
            .iter()
            .find(|(_, v)| *v == self)
            .map_or("", |(w, _)| w)
    }

    fn from_word(text: &str) -> Option<Self> {
        Self::ALL.iter().find(|(w, _)| *w == text).map(|&(_, v)| v)
    }
}

impl Word for Side {
    const ALL: &'static [(&'static str, Self)] = &[("buy", Side::Buy), ("sell", Side::Sell)];
}

impl Word for OrderType {
    const ALL: &'static [(&'static str, Self)] =
        &[("limit", OrderType::Limit), ("market", OrderType::Market)];
}

impl Word for Tif {
    const ALL: &'static [(&'static str, Self)] = &[
        ("gtc", Tif::Gtc),
        ("ioc", Tif::Ioc),
        ("post_only", Tif::PostOnly),
    ];
}

impl Word for Stp {
    const ALL: &'static [(&'static str, Self)] = &[
        ("cancel_taker", Stp::CancelTaker),
        ("cancel_maker", Stp::CancelMaker),
        ("cancel_both", Stp::CancelBoth),
        ("decrement_and_cancel", Stp::DecrementAndCancel),
    ];
}

/// Everything that makes a retry "the same order" (§4.4): every field but the
/// client order id, with defaults applied and decimals as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderSpec {
    pub side: Side,
    pub order_type: OrderType,
    /// `None` for a market order.
    pub price: Option<Price>,
    pub qty: Qty,
    pub tif: Tif,
    pub stp: Stp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub client_order_id: String,
    pub spec: OrderSpec,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelTarget {
    ClientOrderId(String),
    OrderId(u64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Command {
    Login(String),
    New(NewOrder),
    Cancel(CancelTarget),
    Book,
}

/// A refused request: the reason and the client order id the reject echoes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    pub reason: Reason,
    pub client_order_id: Option<String>,
}

impl Rejection {
    fn new(reason: Reason, client_order_id: Option<&str>) -> Self {
        Self {
            reason,
            client_order_id: client_order_id.map(str::to_owned),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Login,
    New,
    Cancel,
    Book,
}

impl Op {
    fn allowed(self) -> &'static [&'static str] {
        match self {
            Op::Login => &["op", "account"],
            Op::New => &[
                "op",
                "client_order_id",
                "side",
                "type",
                "price",
                "qty",
                "tif",
                "stp",
            ],
            Op::Cancel => &["op", "client_order_id", "order_id"],
            Op::Book => &["op"],
        }
    }
}

/// `[A-Za-z0-9_-]{1,max}`. Anything passing this needs no JSON escaping.
fn is_name(text: &str, max: usize) -> bool {
    (1..=max).contains(&text.len())
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

pub fn is_account(text: &str) -> bool {
    is_name(text, 32)
}

pub fn is_client_order_id(text: &str) -> bool {
    is_name(text, 36)
}

fn valid_client_order_id(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .filter(|t| is_client_order_id(t))
}

/// True for a line the exchange ignores: only spaces, tabs and "\r".
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r'))
}

/// The command on `line` (without its "\n"), `None` for a blank line, or the
/// rejection.
pub fn decode(line: &[u8], logged_in: bool) -> Result<Option<Command>, Rejection> {
    if line.len() > MAX_LINE_BYTES {
        return Err(Rejection::new(Reason::LineTooLong, None));
    }
    if is_blank(line) {
        return Ok(None);
    }
    // serde_json refuses invalid UTF-8, NaN and Infinity, and anything after
    // the value but JSON whitespace (which includes a trailing "\r").
    let obj = match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(obj)) => obj,
        _ => return Err(Rejection::new(Reason::MalformedJson, None)),
    };
    let cid = valid_client_order_id(obj.get("client_order_id"));
    let reject = |reason| Rejection::new(reason, cid);

    let op = match obj.get("op") {
        None => return Err(reject(Reason::MissingField)),
        Some(Value::String(op)) => match op.as_str() {
            "login" => Op::Login,
            "new" => Op::New,
            "cancel" => Op::Cancel,
            "book" => Op::Book,
            _ => return Err(reject(Reason::UnknownOp)),
        },
        Some(_) => return Err(reject(Reason::UnknownOp)),
    };
    match op {
        Op::New | Op::Cancel if !logged_in => return Err(reject(Reason::NotLoggedIn)),
        Op::Login if logged_in => return Err(reject(Reason::AlreadyLoggedIn)),
        _ => {}
    }
    if obj.keys().any(|k| !op.allowed().contains(&k.as_str())) {
        return Err(reject(Reason::UnknownField));
    }
    let command = match op {
        Op::Login => login(&obj),
        Op::New => new_order(&obj),
        Op::Cancel => cancel(&obj),
        Op::Book => Ok(Command::Book),
    };
    command.map(Some).map_err(reject)
}

fn login(obj: &Map<String, Value>) -> Result<Command, Reason> {
    match obj.get("account") {
        None => Err(Reason::MissingField),
        Some(Value::String(account)) if is_account(account) => Ok(Command::Login(account.clone())),
        Some(_) => Err(Reason::InvalidField),
    }
}

/// `value` if it is exactly one of the words of `T`, else invalid_field.
fn choice<T: Word>(value: &Value) -> Result<T, Reason> {
    value
        .as_str()
        .and_then(T::from_word)
        .ok_or(Reason::InvalidField)
}

fn new_order(obj: &Map<String, Value>) -> Result<Command, Reason> {
    let is_limit = obj.get("type").and_then(Value::as_str) == Some("limit");
    let required: &[&str] = if is_limit {
        &["client_order_id", "side", "type", "qty", "price", "tif"]
    } else {
        &["client_order_id", "side", "type", "qty"]
    };
    if required.iter().any(|name| !obj.contains_key(*name)) {
        return Err(Reason::MissingField);
    }
    // Every wrong type or value is invalid_field, whichever field it is in.
    let side = choice::<Side>(&obj["side"])?;
    let order_type = choice::<OrderType>(&obj["type"])?;
    let stp = match obj.get("stp") {
        None => Stp::CancelTaker,
        Some(v) => choice::<Stp>(v)?,
    };
    let tif = match order_type {
        OrderType::Limit => choice::<Tif>(&obj["tif"])?,
        // A market order has no price and is always IOC.
        OrderType::Market => {
            let ioc = obj.get("tif").is_none_or(|t| t.as_str() == Some("ioc"));
            if !ioc || obj.contains_key("price") {
                return Err(Reason::InvalidField);
            }
            Tif::Ioc
        }
    };
    let client_order_id =
        valid_client_order_id(obj.get("client_order_id")).ok_or(Reason::InvalidField)?;
    let price = match order_type {
        OrderType::Limit => Some(parse_price(&obj["price"])?),
        OrderType::Market => None,
    };
    let qty = parse_qty(&obj["qty"])?;
    Ok(Command::New(NewOrder {
        client_order_id: client_order_id.to_owned(),
        spec: OrderSpec {
            side,
            order_type,
            price,
            qty,
            tif,
            stp,
        },
    }))
}

fn cancel(obj: &Map<String, Value>) -> Result<Command, Reason> {
    match (obj.get("client_order_id"), obj.get("order_id")) {
        (None, None) => Err(Reason::MissingField),
        (Some(_), Some(_)) => Err(Reason::InvalidField),
        (Some(cid), None) => valid_client_order_id(Some(cid))
            .map(|cid| Command::Cancel(CancelTarget::ClientOrderId(cid.to_owned())))
            .ok_or(Reason::InvalidField),
        // An integer literal only: `1.0`, `1e0`, `"1"` and `true` are not order ids.
        (None, Some(id)) => match id.as_u64() {
            Some(id @ 1..=MAX_ORDER_ID) => Ok(Command::Cancel(CancelTarget::OrderId(id))),
            _ => Err(Reason::InvalidField),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn new_line(changes: Value) -> Vec<u8> {
        let mut fields = json!({
            "op": "new", "client_order_id": "o1", "side": "buy", "type": "limit",
            "price": "45000.0", "qty": "0.1", "tif": "gtc",
        });
        for (k, v) in changes.as_object().unwrap() {
            if v.is_null() {
                fields.as_object_mut().unwrap().remove(k);
            } else {
                fields[k] = v.clone();
            }
        }
        serde_json::to_vec(&fields).unwrap()
    }

    fn rejected(line: &[u8], logged_in: bool) -> (Reason, Option<String>) {
        let r = decode(line, logged_in).expect_err("should be rejected");
        (r.reason, r.client_order_id)
    }

    /// The oracle's table of reasons and winning checks
    /// (tests/unit/test_matching_wire.py), for a logged-in connection.
    #[test]
    #[rustfmt::skip]
    fn each_bad_request_gets_its_reason() {
        use Reason::*;
        let o1 = Some("o1");
        let mut long = b"{".to_vec();
        long.extend(std::iter::repeat_n(b' ', MAX_LINE_BYTES));
        long.push(b'}');
        let cases: Vec<(&str, Vec<u8>, Reason, Option<&str>)> = vec![
            ("over the line limit", long, LineTooLong, None),
            ("not json", b"{not json".to_vec(), MalformedJson, None),
            ("not an object", b"[1,2]".to_vec(), MalformedJson, None),
            ("a json string", br#""new""#.to_vec(), MalformedJson, None),
            ("not utf-8", b"{\"op\":\"book\",\"x\":\"\xff\"}".to_vec(), MalformedJson, None),
            ("NaN", br#"{"op":"book","x":NaN}"#.to_vec(), MalformedJson, None),
            ("no op", br#"{"client_order_id":"o1"}"#.to_vec(), MissingField, o1),
            ("op not a string", br#"{"op":5}"#.to_vec(), UnknownOp, None),
            ("unknown op", br#"{"op":"fly","client_order_id":"o1"}"#.to_vec(), UnknownOp, o1),
            ("already logged in", br#"{"op":"login","account":"b"}"#.to_vec(), AlreadyLoggedIn, None),
            ("unknown field on book", br#"{"op":"book","depth":5}"#.to_vec(), UnknownField, None),
            ("unknown field beats a bad price", new_line(json!({"price": "1.23", "leverage": "5"})), UnknownField, o1),
            ("missing qty", new_line(json!({"qty": null})), MissingField, o1),
            ("limit without price", new_line(json!({"price": null})), MissingField, o1),
            ("limit without tif", new_line(json!({"tif": null})), MissingField, o1),
            ("bad side", new_line(json!({"side": "up"})), InvalidField, o1),
            ("bad type", new_line(json!({"type": "stop"})), InvalidField, o1),
            ("bad tif", new_line(json!({"tif": "fok"})), InvalidField, o1),
            ("bad stp", new_line(json!({"stp": "none"})), InvalidField, o1),
            ("market with a price", new_line(json!({"type": "market", "tif": null})), InvalidField, o1),
            ("market with gtc", new_line(json!({"type": "market", "price": null})), InvalidField, o1),
            ("cid with a space", new_line(json!({"client_order_id": "o 1"})), InvalidField, None),
            ("cid of 37 chars", new_line(json!({"client_order_id": "a".repeat(37)})), InvalidField, None),
            ("cid a number", new_line(json!({"client_order_id": 1})), InvalidField, None),
            ("invalid field beats a bad price", new_line(json!({"side": "up", "price": "1.23"})), InvalidField, o1),
            ("price as a json number", new_line(json!({"price": 45000.5})), InvalidPrice, o1),
            ("price zero", new_line(json!({"price": "0.0"})), InvalidPrice, o1),
            ("price with exponent", new_line(json!({"price": "4.5e4"})), InvalidPrice, o1),
            ("price over the maximum", new_line(json!({"price": "1000000.5"})), InvalidPrice, o1),
            ("price with a zero too many", new_line(json!({"price": "45000.00"})), PricePrecision, o1),
            ("price off tick", new_line(json!({"price": "45000.3"})), OffTick, o1),
            ("price beats quantity", new_line(json!({"price": "45000.3", "qty": "0"})), OffTick, o1),
            ("qty zero", new_line(json!({"qty": "0.00000000"})), InvalidQuantity, o1),
            ("qty with nine decimals", new_line(json!({"qty": "0.000100000"})), QuantityPrecision, o1),
            ("qty off lot", new_line(json!({"qty": "0.00015"})), OffLot, o1),
            ("cancel without an id", br#"{"op":"cancel"}"#.to_vec(), MissingField, None),
            ("cancel with both ids", br#"{"op":"cancel","client_order_id":"o1","order_id":1}"#.to_vec(), InvalidField, o1),
            ("cancel order id zero", br#"{"op":"cancel","order_id":0}"#.to_vec(), InvalidField, None),
            ("cancel order id a string", br#"{"op":"cancel","order_id":"1"}"#.to_vec(), InvalidField, None),
            ("cancel order id true", br#"{"op":"cancel","order_id":true}"#.to_vec(), InvalidField, None),
            ("cancel order id a float", br#"{"op":"cancel","order_id":1.0}"#.to_vec(), InvalidField, None),
            ("cancel order id too big", br#"{"op":"cancel","order_id":9223372036854775808}"#.to_vec(), InvalidField, None),
            ("cancel order id beyond f64", br#"{"op":"cancel","order_id":1e400}"#.to_vec(), InvalidField, None),
        ];
        for (name, line, reason, cid) in cases {
            assert_eq!(rejected(&line, true), (reason, cid.map(str::to_owned)), "{name}");
        }
    }

    #[test]
    fn session_state_is_checked_before_the_fields() {
        let line = new_line(json!({"price": "1.23"}));
        assert_eq!(
            rejected(&line, false),
            (Reason::NotLoggedIn, Some("o1".into()))
        );
        assert_eq!(decode(br#"{"op":"book"}"#, false), Ok(Some(Command::Book)));
        for account in ["", &"a".repeat(33), "a b", "é"] {
            let line = serde_json::to_vec(&json!({"op": "login", "account": account})).unwrap();
            assert_eq!(rejected(&line, false).0, Reason::InvalidField, "{account}");
        }
        assert_eq!(
            rejected(br#"{"op":"login"}"#, false).0,
            Reason::MissingField
        );
    }

    #[test]
    fn blank_lines_and_the_exact_limit() {
        assert_eq!(decode(b"", true), Ok(None));
        assert_eq!(decode(b" \t\r", true), Ok(None));
        let mut line = br#"{"op":"book"}"#.to_vec();
        line.resize(MAX_LINE_BYTES, b' ');
        assert_eq!(decode(&line, true), Ok(Some(Command::Book)));
        assert_eq!(
            decode(b"{\"op\":\"book\"}\r", true),
            Ok(Some(Command::Book))
        );
    }

    #[test]
    fn defaults_and_equal_values_make_the_same_spec() {
        let a = decode(&new_line(json!({})), true).unwrap().unwrap();
        let b = decode(
            br#"{"qty":"0.1000","price":"45000","op":"new","side":"buy","type":"limit","tif":"gtc","stp":"cancel_taker","client_order_id":"o1"}"#,
            true,
        )
        .unwrap()
        .unwrap();
        assert_eq!(a, b);
        let market = decode(
            br#"{"op":"new","client_order_id":"m","side":"sell","type":"market","qty":"1","tif":"ioc"}"#,
            true,
        )
        .unwrap()
        .unwrap();
        let Command::New(order) = market else {
            panic!("not an order")
        };
        assert_eq!((order.spec.price, order.spec.tif), (None, Tif::Ioc));
    }
}
