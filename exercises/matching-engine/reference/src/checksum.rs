//! The Kraken WebSocket v2 book checksum (§5.2).
//!
//! Top 10 asks (lowest price first), then top 10 bids (highest first); for
//! each level the price then the quantity as written on the wire, with the
//! "." and then the leading zeros removed; CRC32 (IEEE) of the concatenation.
//!
//! On the wire a price is `units / 10` "." `units % 10` and a quantity
//! `units / 10^8` "." the remainder in 8 digits; removing the dot leaves the
//! units' decimal digits, zero-padded on the left, and removing the leading
//! zeros leaves exactly `units.to_string()` (the empty string for 0). So the
//! checksum is computed from the integers without formatting any decimal.

use std::io::Write as _;

use crate::instrument::{Price, Qty};

pub const DEPTH: usize = 10;

/// Appends the checksum form of one wire amount: its digits without leading zeros.
fn field(buf: &mut Vec<u8>, units: u64) {
    if units != 0 {
        // Writing to a Vec cannot fail.
        let _ = write!(buf, "{units}");
    }
}

/// The string the CRC is taken of; both sides best first.
pub fn checksum_string(
    asks: impl IntoIterator<Item = (Price, Qty)>,
    bids: impl IntoIterator<Item = (Price, Qty)>,
) -> Vec<u8> {
    let mut text = Vec::with_capacity(2 * DEPTH * 24);
    for (price, qty) in asks
        .into_iter()
        .take(DEPTH)
        .chain(bids.into_iter().take(DEPTH))
    {
        field(&mut text, price);
        field(&mut text, qty);
    }
    text
}

/// The checksum of a book given best first on both sides; 0 for an empty book.
pub fn checksum(
    asks: impl IntoIterator<Item = (Price, Qty)>,
    bids: impl IntoIterator<Item = (Price, Qty)>,
) -> u32 {
    crc32fast::hash(&checksum_string(asks, bids))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Kraken's published example book ("Spot Websockets (v2) Book Checksum"),
    /// in wire units: price in 0.1 USD, quantity in 1e-8 BTC. Its prices are
    /// off our tick, which does not matter to the checksum.
    const ASKS: [(Price, Qty); 10] = [
        (452_852, 100_000),
        (452_864, 154_571_953),
        (452_866, 154_571_109),
        (452_896, 154_560_911),
        (452_902, 15_890_660),
        (452_918, 154_553_491),
        (452_947, 4_454_749),
        (452_961, 35_380_000),
        (452_975, 9_945_542),
        (452_995, 18_772_827),
    ];
    const BIDS: [(Price, Qty); 10] = [
        (452_835, 10_000_000),
        (452_834, 154_582_015),
        (452_821, 10_000_000),
        (452_810, 10_000_000),
        (452_803, 154_592_586),
        (452_790, 7_990_000),
        (452_776, 3_310_103),
        (452_775, 30_000_000),
        (452_773, 154_602_737),
        (452_766, 15_445_238),
    ];

    #[test]
    fn reproduces_krakens_published_example() {
        assert_eq!(checksum(ASKS, BIDS), 3_310_070_434);
        let text = String::from_utf8(checksum_string(ASKS, BIDS)).unwrap();
        assert!(text.starts_with(&format!("{}{}", "452852100000", "4528641545719534")));
        assert!(text.ends_with("45276615445238"));
    }

    #[test]
    fn asks_come_first_and_only_ten_levels_count() {
        assert_ne!(checksum(BIDS, ASKS), 3_310_070_434);
        let deeper_asks = ASKS.iter().copied().chain([(453_000, 900_000_000)]);
        let deeper_bids = BIDS.iter().copied().chain([(452_700, 900_000_000)]);
        assert_eq!(checksum(deeper_asks, deeper_bids), 3_310_070_434);
        assert_eq!(checksum([], []), 0);
    }

    #[test]
    fn matches_the_briefs_example_session() {
        // §7: one ask 45285.5 / 0.00100000 contributes "452855100000".
        assert_eq!(checksum_string([(452_855, 100_000)], []), b"452855100000");
        assert_eq!(checksum([(452_855, 100_000)], []), 3_095_837_833);
        assert_eq!(
            checksum([(452_860, 20_100_000)], [(450_000, 25_000_000)]),
            3_913_461_626
        );
    }
}
