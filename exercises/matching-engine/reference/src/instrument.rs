//! The one instrument, BTC/USD: decimal strings on the wire, integers inside.
//!
//! A price is a whole number of 0.1 USD ("45285.5" is 452855), a quantity a
//! whole number of 1e-8 BTC ("0.00100000" is 100000). Every check and every
//! rendering is integer arithmetic; there is no floating point anywhere.

use std::fmt::Write as _;

use crate::reason::Reason;

/// Price in units of 0.1 USD.
pub type Price = u64;
/// Quantity in units of 1e-8 BTC.
pub type Qty = u64;

pub const PRICE_DECIMALS: usize = 1;
pub const QTY_DECIMALS: usize = 8;
/// 0.5 USD.
pub const TICK: Price = 5;
/// 0.0001 BTC.
pub const LOT: Qty = 10_000;
/// 1,000,000.0 USD.
pub const MAX_PRICE: Price = 10_000_000;
/// 10,000.00000000 BTC.
pub const MAX_QTY: Qty = 1_000_000_000_000;
/// Longer strings are refused before any arithmetic.
pub const MAX_DECIMAL_CHARS: usize = 32;

/// A wire price: shape, then precision, then range, then tick (§2).
pub fn parse_price(value: &serde_json::Value) -> Result<Price, Reason> {
    let units = parse_units(
        value,
        PRICE_DECIMALS,
        Reason::InvalidPrice,
        Reason::PricePrecision,
    )?;
    if units == 0 || units > MAX_PRICE {
        return Err(Reason::InvalidPrice);
    }
    if units % TICK != 0 {
        return Err(Reason::OffTick);
    }
    Ok(units)
}

/// A wire quantity: shape, then precision, then range, then lot (§2).
pub fn parse_qty(value: &serde_json::Value) -> Result<Qty, Reason> {
    let units = parse_units(
        value,
        QTY_DECIMALS,
        Reason::InvalidQuantity,
        Reason::QuantityPrecision,
    )?;
    if units == 0 || units > MAX_QTY {
        return Err(Reason::InvalidQuantity);
    }
    if units % LOT != 0 {
        return Err(Reason::OffLot);
    }
    Ok(units)
}

/// Digits, optionally a dot and at least one digit: the value in units of
/// 10^-`decimals`. Saturates instead of overflowing: anything that large is
/// over the maximum anyway, and the range check comes after this one.
fn parse_units(
    value: &serde_json::Value,
    decimals: usize,
    invalid: Reason,
    precision: Reason,
) -> Result<u64, Reason> {
    let text = match value.as_str() {
        Some(t) if t.len() <= MAX_DECIMAL_CHARS => t.as_bytes(),
        _ => return Err(invalid),
    };
    let (whole, fraction) = match text.iter().position(|&b| b == b'.') {
        Some(dot) => (&text[..dot], Some(&text[dot + 1..])),
        None => (text, None),
    };
    let digits = |s: &[u8]| !s.is_empty() && s.iter().all(u8::is_ascii_digit);
    if !digits(whole) || fraction.is_some_and(|f| !digits(f)) {
        return Err(invalid);
    }
    let fraction = fraction.unwrap_or_default();
    if fraction.len() > decimals {
        return Err(precision); // even "1.000000000": more digits than the field has
    }
    let accumulate = |acc: u64, &digit: &u8| {
        acc.saturating_mul(10)
            .saturating_add(u64::from(digit - b'0'))
    };
    let mut units = whole.iter().fold(0, accumulate);
    units = fraction.iter().fold(units, accumulate);
    for _ in fraction.len()..decimals {
        units = units.saturating_mul(10);
    }
    Ok(units)
}

/// `units` with exactly `decimals` digits after the dot and no leading zeros.
fn write_units(out: &mut Vec<u8>, units: u64, decimals: usize) {
    let scale = 10u64.pow(decimals as u32);
    let mut text = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = write!(text, "{}.{:0decimals$}", units / scale, units % scale);
    out.extend_from_slice(text.as_bytes());
}

pub fn write_price(out: &mut Vec<u8>, price: Price) {
    write_units(out, price, PRICE_DECIMALS);
}

pub fn write_qty(out: &mut Vec<u8>, qty: Qty) {
    write_units(out, qty, QTY_DECIMALS);
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn text(s: &str) -> Value {
        Value::String(s.to_owned())
    }

    #[test]
    fn prices_parse_to_integer_units() {
        for (wire, units) in [
            ("45285", 452_850),
            ("45285.5", 452_855),
            ("045285.0", 452_850),
            ("0.5", 5),
            ("1000000.0", 10_000_000),
        ] {
            assert_eq!(parse_price(&text(wire)), Ok(units), "{wire}");
        }
    }

    #[test]
    fn quantities_parse_to_integer_units() {
        for (wire, units) in [
            ("0.0001", 10_000),
            ("0.00100000", 100_000),
            ("1", 100_000_000),
            ("10000.00000000", 1_000_000_000_000),
        ] {
            assert_eq!(parse_qty(&text(wire)), Ok(units), "{wire}");
        }
    }

    #[test]
    fn price_checks_run_in_the_briefs_order() {
        use Reason::*;
        let cases: [(Value, Reason); 14] = [
            (json!(45000.5), InvalidPrice), // a JSON number is not a decimal string
            (json!(null), InvalidPrice),
            (text(""), InvalidPrice),
            (text("-45000.0"), InvalidPrice),
            (text("+45000.0"), InvalidPrice),
            (text("4.5e4"), InvalidPrice),
            (text("45000."), InvalidPrice),
            (text(".5"), InvalidPrice),
            (text(" 45000.0"), InvalidPrice),
            (text("1.2.3"), InvalidPrice),
            (text(&"1".repeat(33)), InvalidPrice), // too long, before anything else
            (text("45000.00"), PricePrecision),    // precision before range and tick
            (text("0.0"), InvalidPrice),
            (text("45000.3"), OffTick),
        ];
        for (value, reason) in cases {
            assert_eq!(parse_price(&value), Err(reason), "{value}");
        }
        assert_eq!(parse_price(&text("1000000.5")), Err(InvalidPrice));
        // 32 digits saturate instead of overflowing, and are over the maximum.
        assert_eq!(parse_price(&text(&"9".repeat(32))), Err(InvalidPrice));
        assert_eq!(
            parse_price(&text("99999999999999999999999999.99")),
            Err(PricePrecision)
        );
    }

    #[test]
    fn quantity_checks_run_in_the_briefs_order() {
        use Reason::*;
        for (wire, reason) in [
            ("0.00000000", InvalidQuantity),
            ("0", InvalidQuantity),
            ("-0.1", InvalidQuantity),
            ("10000.0001", InvalidQuantity),
            ("0.000100000", QuantityPrecision),
            ("0.000000001", QuantityPrecision),
            ("0.00015", OffLot),
        ] {
            assert_eq!(parse_qty(&text(wire)), Err(reason), "{wire}");
        }
    }

    #[test]
    fn writing_gives_exactly_the_fields_decimals() {
        let render = |f: fn(&mut Vec<u8>, u64), units| {
            let mut out = Vec::new();
            f(&mut out, units);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(write_price, 452_855), "45285.5");
        assert_eq!(render(write_price, 450_000), "45000.0");
        assert_eq!(render(write_price, 5), "0.5");
        assert_eq!(render(write_qty, 100_000), "0.00100000");
        assert_eq!(render(write_qty, 0), "0.00000000");
        assert_eq!(render(write_qty, 1_000_000_000_000), "10000.00000000");
    }
}
