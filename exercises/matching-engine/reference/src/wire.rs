//! Outbound messages as JSON lines (§4, §5).
//!
//! Written by hand: every string that goes out is either a fixed word or an
//! account / client order id that passed `[A-Za-z0-9_-]`, so nothing needs
//! escaping, and prices and quantities are rendered from integers.

use std::io::Write as _;

use bytes::Bytes;

use crate::engine::{CancelReason, Liquidity, OrderId, TradeId};
use crate::instrument::{write_price, write_qty, Price, Qty};
use crate::reason::Reason;
use crate::request::Side;

/// Builds one line; `finish` adds the "\n".
pub struct Line(Vec<u8>);

impl Line {
    fn new(kind: &str) -> Self {
        let mut out = Vec::with_capacity(192);
        out.extend_from_slice(b"{\"type\":\"");
        out.extend_from_slice(kind.as_bytes());
        out.push(b'"');
        Line(out)
    }

    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        self.0.extend_from_slice(b",\"");
        self.0.extend_from_slice(key.as_bytes());
        self.0.extend_from_slice(b"\":");
        &mut self.0
    }

    fn text(mut self, key: &str, value: &str) -> Self {
        debug_assert!(value
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\'));
        let out = self.key(key);
        out.push(b'"');
        out.extend_from_slice(value.as_bytes());
        out.push(b'"');
        self
    }

    fn opt_text(mut self, key: &str, value: Option<&str>) -> Self {
        match value {
            Some(value) => self.text(key, value),
            None => {
                self.key(key).extend_from_slice(b"null");
                self
            }
        }
    }

    fn int(mut self, key: &str, value: u64) -> Self {
        // Writing to a Vec cannot fail.
        let _ = write!(self.key(key), "{value}");
        self
    }

    fn price(mut self, key: &str, price: Price) -> Self {
        let out = self.key(key);
        out.push(b'"');
        write_price(out, price);
        out.push(b'"');
        self
    }

    fn qty(mut self, key: &str, qty: Qty) -> Self {
        let out = self.key(key);
        out.push(b'"');
        write_qty(out, qty);
        out.push(b'"');
        self
    }

    fn levels(mut self, key: &str, levels: impl IntoIterator<Item = (Price, Qty)>) -> Self {
        let out = self.key(key);
        out.push(b'[');
        for (i, (price, qty)) in levels.into_iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(b"[\"");
            write_price(out, price);
            out.extend_from_slice(b"\",\"");
            write_qty(out, qty);
            out.extend_from_slice(b"\"]");
        }
        out.push(b']');
        self
    }

    fn finish(mut self) -> Bytes {
        self.0.extend_from_slice(b"}\n");
        Bytes::from(self.0)
    }
}

pub fn login_ack(account: &str) -> Bytes {
    Line::new("login_ack").text("account", account).finish()
}

pub fn ack(client_order_id: &str, order_id: OrderId) -> Bytes {
    Line::new("ack")
        .text("client_order_id", client_order_id)
        .int("order_id", order_id)
        .finish()
}

pub fn cancel_ack(client_order_id: &str, order_id: OrderId, remaining: Qty) -> Bytes {
    Line::new("cancel_ack")
        .text("client_order_id", client_order_id)
        .int("order_id", order_id)
        .qty("remaining", remaining)
        .finish()
}

pub fn reject(reason: Reason, client_order_id: Option<&str>) -> Bytes {
    Line::new("reject")
        .text("reason", reason.as_str())
        .opt_text("client_order_id", client_order_id)
        .finish()
}

/// The whole book: the `book` reply and the first line of every feed.
pub fn snapshot(
    seq: u64,
    bids: impl IntoIterator<Item = (Price, Qty)>,
    asks: impl IntoIterator<Item = (Price, Qty)>,
    checksum: u32,
) -> Bytes {
    Line::new("snapshot")
        .int("seq", seq)
        .levels("bids", bids)
        .levels("asks", asks)
        .int("checksum", checksum.into())
        .finish()
}

#[allow(clippy::too_many_arguments)] // one argument per field of the message
pub fn fill(
    order_id: OrderId,
    client_order_id: &str,
    trade_id: TradeId,
    side: Side,
    price: Price,
    qty: Qty,
    remaining: Qty,
    liquidity: Liquidity,
) -> Bytes {
    Line::new("fill")
        .int("order_id", order_id)
        .text("client_order_id", client_order_id)
        .int("trade_id", trade_id)
        .text("side", side.as_str())
        .price("price", price)
        .qty("qty", qty)
        .qty("remaining", remaining)
        .text(
            "liquidity",
            match liquidity {
                Liquidity::Maker => "maker",
                Liquidity::Taker => "taker",
            },
        )
        .finish()
}

pub fn cancelled(
    order_id: OrderId,
    client_order_id: &str,
    reason: CancelReason,
    remaining: Qty,
) -> Bytes {
    Line::new("cancelled")
        .int("order_id", order_id)
        .text("client_order_id", client_order_id)
        .text(
            "reason",
            match reason {
                CancelReason::Unfilled => "unfilled",
                CancelReason::Stp => "stp",
            },
        )
        .qty("remaining", remaining)
        .finish()
}

pub fn decremented(order_id: OrderId, client_order_id: &str, qty: Qty, remaining: Qty) -> Bytes {
    Line::new("decremented")
        .int("order_id", order_id)
        .text("client_order_id", client_order_id)
        .text("reason", "stp")
        .qty("qty", qty)
        .qty("remaining", remaining)
        .finish()
}

pub fn trade(seq: u64, trade_id: TradeId, side: Side, price: Price, qty: Qty) -> Bytes {
    Line::new("trade")
        .int("seq", seq)
        .int("trade_id", trade_id)
        .text("side", side.as_str())
        .price("price", price)
        .qty("qty", qty)
        .finish()
}

pub fn book(seq: u64, bids: &[(Price, Qty)], asks: &[(Price, Qty)], checksum: u32) -> Bytes {
    Line::new("book")
        .int("seq", seq)
        .levels("bids", bids.iter().copied())
        .levels("asks", asks.iter().copied())
        .int("checksum", checksum.into())
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_the_briefs() {
        assert_eq!(
            &fill(4, "a-2", 1, Side::Buy, 452_855, 100_000, 29_900_000, Liquidity::Taker)[..],
            &b"{\"type\":\"fill\",\"order_id\":4,\"client_order_id\":\"a-2\",\"trade_id\":1,\"side\":\"buy\",\"price\":\"45285.5\",\"qty\":\"0.00100000\",\"remaining\":\"0.29900000\",\"liquidity\":\"taker\"}\n"[..]
        );
        assert_eq!(
            &reject(Reason::UnknownOp, None)[..],
            &b"{\"type\":\"reject\",\"reason\":\"unknown_op\",\"client_order_id\":null}\n"[..]
        );
        assert_eq!(
            &book(6, &[], &[(452_855, 0), (452_860, 20_100_000)], 3_913_461_626)[..],
            &b"{\"type\":\"book\",\"seq\":6,\"bids\":[],\"asks\":[[\"45285.5\",\"0.00000000\"],[\"45286.0\",\"0.20100000\"]],\"checksum\":3913461626}\n"[..]
        );
    }
}
