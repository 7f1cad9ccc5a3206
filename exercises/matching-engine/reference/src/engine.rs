//! The matching engine: the book, price-time priority, fills at the maker's
//! price, IOC / post-only / market orders, the four self-trade prevention
//! modes, cancels and idempotent client order ids (§4.4, §4.5).
//!
//! Pure and deterministic: one command in, its effects out (the reply is the
//! return value; execution reports and market data are appended to
//! [`Effects`] in the order they happen). No I/O, no clock, no hashing that
//! could change an order of events, no floating point. The same commands
//! always produce the same effects, which is what makes replaying the log
//! reproduce every trade exactly once.
//!
//! # Data layout
//! Every accepted order is kept forever in `orders`, indexed by its id (ids
//! are dense from 1): retries and cancels by order id must find closed orders
//! too. Resting orders are additionally linked into a doubly linked list per
//! price level (`prev`/`next` are order ids, 0 for none), so a partial fill
//! keeps its place and a cancel anywhere in a level is O(1). Levels live in
//! one `BTreeMap` per side, keyed by price.

use std::collections::{BTreeMap, HashMap};

use crate::checksum;
use crate::instrument::{Price, Qty};
use crate::reason::Reason;
use crate::request::{CancelTarget, NewOrder, OrderSpec, OrderType, Side, Stp, Tif};

pub type OrderId = u64;
pub type TradeId = u64;
pub type AccountId = u32;

const NO_ORDER: OrderId = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liquidity {
    Maker,
    Taker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The part of an IOC or market order that found no liquidity.
    Unfilled,
    /// Self-trade prevention.
    Stp,
}

/// An execution report; the account and client order id are looked up from
/// the order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Report {
    Fill {
        order_id: OrderId,
        trade_id: TradeId,
        price: Price,
        qty: Qty,
        remaining: Qty,
        liquidity: Liquidity,
    },
    Cancelled {
        order_id: OrderId,
        reason: CancelReason,
        remaining: Qty,
    },
    Decremented {
        order_id: OrderId,
        qty: Qty,
        remaining: Qty,
    },
}

/// A market-data message. Levels are `(price, new total)`, best first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Public {
    Trade {
        seq: u64,
        trade_id: TradeId,
        side: Side,
        price: Price,
        qty: Qty,
    },
    Book {
        seq: u64,
        bids: Vec<(Price, Qty)>,
        asks: Vec<(Price, Qty)>,
        checksum: u32,
    },
}

/// What a command caused besides its reply, in order.
#[derive(Debug, Default)]
pub struct Effects {
    pub reports: Vec<Report>,
    pub public: Vec<Public>,
}

impl Effects {
    pub fn clear(&mut self) {
        self.reports.clear();
        self.public.clear();
    }
}

/// How a `new` was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accepted {
    /// A new order with a fresh id: it executed, and must be logged.
    New(OrderId),
    /// A retry of an order accepted before: nothing happened.
    Retry(OrderId),
}

#[derive(Debug)]
struct Order {
    account: AccountId,
    client_order_id: Box<str>,
    spec: OrderSpec,
    /// Open quantity (while matching and while resting).
    remaining: Qty,
    resting: bool,
    prev: OrderId,
    next: OrderId,
}

#[derive(Debug, Default)]
struct Level {
    head: OrderId,
    tail: OrderId,
    total: Qty,
}

#[derive(Debug)]
struct Account {
    name: Box<str>,
    orders: HashMap<Box<str>, OrderId>,
}

/// Whether a taker on `side` with `limit` (`None`: market) may trade at `price`.
fn crosses(side: Side, limit: Option<Price>, price: Price) -> bool {
    match (limit, side) {
        (None, _) => true,
        (Some(limit), Side::Buy) => price <= limit,
        (Some(limit), Side::Sell) => price >= limit,
    }
}

#[derive(Debug, Default)]
pub struct Engine {
    orders: Vec<Order>,
    bids: BTreeMap<Price, Level>,
    asks: BTreeMap<Price, Level>,
    accounts: Vec<Account>,
    account_ids: HashMap<Box<str>, AccountId>,
    next_trade_id: TradeId,
    /// The last market-data sequence number used (0: none yet).
    seq: u64,
}

impl Engine {
    pub fn new() -> Self {
        Self {
            next_trade_id: 1,
            ..Self::default()
        }
    }

    // -- accounts and orders

    /// The id of account `name`, created on first use.
    pub fn account(&mut self, name: &str) -> AccountId {
        if let Some(&id) = self.account_ids.get(name) {
            return id;
        }
        let id = AccountId::try_from(self.accounts.len()).expect("fewer than 2^32 accounts");
        self.accounts.push(Account {
            name: name.into(),
            orders: HashMap::new(),
        });
        self.account_ids.insert(name.into(), id);
        id
    }

    pub fn account_name(&self, account: AccountId) -> &str {
        &self.accounts[account as usize].name
    }

    fn order(&self, id: OrderId) -> Option<&Order> {
        let index = usize::try_from(id.checked_sub(1)?).ok()?;
        self.orders.get(index)
    }

    fn at(&self, id: OrderId) -> &Order {
        &self.orders[(id - 1) as usize]
    }

    fn at_mut(&mut self, id: OrderId) -> &mut Order {
        &mut self.orders[(id - 1) as usize]
    }

    /// Owner, client order id and side of an accepted order.
    pub fn order_info(&self, id: OrderId) -> (AccountId, &str, Side) {
        let order = self.at(id);
        (order.account, &order.client_order_id, order.spec.side)
    }

    pub fn orders_accepted(&self) -> u64 {
        self.orders.len() as u64
    }

    pub fn seq(&self) -> u64 {
        self.seq
    }

    // -- the book

    fn side(&self, side: Side) -> &BTreeMap<Price, Level> {
        match side {
            Side::Buy => &self.bids,
            Side::Sell => &self.asks,
        }
    }

    fn side_mut(&mut self, side: Side) -> &mut BTreeMap<Price, Level> {
        match side {
            Side::Buy => &mut self.bids,
            Side::Sell => &mut self.asks,
        }
    }

    fn best(&self, side: Side) -> Option<Price> {
        match side {
            Side::Buy => self.bids.last_key_value(),
            Side::Sell => self.asks.first_key_value(),
        }
        .map(|(&price, _)| price)
    }

    fn total_at(&self, side: Side, price: Price) -> Qty {
        self.side(side).get(&price).map_or(0, |level| level.total)
    }

    /// `(price, total)` per bid level, highest price first.
    pub fn bids(&self) -> impl Iterator<Item = (Price, Qty)> + '_ {
        self.bids
            .iter()
            .rev()
            .map(|(&price, level)| (price, level.total))
    }

    /// `(price, total)` per ask level, lowest price first.
    pub fn asks(&self) -> impl Iterator<Item = (Price, Qty)> + '_ {
        self.asks.iter().map(|(&price, level)| (price, level.total))
    }

    pub fn checksum(&self) -> u32 {
        checksum::checksum(self.asks(), self.bids())
    }

    /// Appends a resting order at the back of its level.
    fn rest(&mut self, id: OrderId) {
        let (side, price, qty) = {
            let order = self.at(id);
            (
                order.spec.side,
                order.spec.price.unwrap_or(0),
                order.remaining,
            )
        };
        let level = self.side_mut(side).entry(price).or_default();
        let tail = level.tail;
        level.tail = id;
        if tail == NO_ORDER {
            level.head = id;
        }
        level.total += qty;
        if tail != NO_ORDER {
            self.at_mut(tail).next = id;
        }
        let order = self.at_mut(id);
        order.prev = tail;
        order.next = NO_ORDER;
        order.resting = true;
    }

    /// Takes a resting order out of the book with whatever it has open.
    fn unlink(&mut self, id: OrderId) {
        let order = self.at_mut(id);
        let (side, price, qty, prev, next) = (
            order.spec.side,
            order.spec.price.unwrap_or(0),
            order.remaining,
            order.prev,
            order.next,
        );
        order.resting = false;
        order.prev = NO_ORDER;
        order.next = NO_ORDER;
        if prev != NO_ORDER {
            self.at_mut(prev).next = next;
        }
        if next != NO_ORDER {
            self.at_mut(next).prev = prev;
        }
        let levels = self.side_mut(side);
        let level = levels.get_mut(&price).expect("a resting order has a level");
        level.total -= qty;
        if level.head == id {
            level.head = next;
        }
        if level.tail == id {
            level.tail = prev;
        }
        if level.head == NO_ORDER {
            levels.remove(&price);
        }
    }

    /// Takes `qty` off a resting order (a fill or a decrement), keeping its
    /// place; removes it when nothing is left.
    fn reduce(&mut self, id: OrderId, qty: Qty) {
        let order = self.at_mut(id);
        order.remaining -= qty;
        let (side, price, left) = (
            order.spec.side,
            order.spec.price.unwrap_or(0),
            order.remaining,
        );
        self.side_mut(side)
            .get_mut(&price)
            .expect("a resting order has a level")
            .total -= qty;
        if left == 0 {
            self.unlink(id);
        }
    }

    // -- commands

    pub fn new_order(
        &mut self,
        account: AccountId,
        order: &NewOrder,
        fx: &mut Effects,
    ) -> Result<Accepted, Reason> {
        let spec = order.spec;
        let known = self.accounts[account as usize]
            .orders
            .get(order.client_order_id.as_str());
        if let Some(&id) = known {
            return if self.at(id).spec == spec {
                Ok(Accepted::Retry(id)) // the original ack; nothing executes again
            } else {
                Err(Reason::DuplicateClientOrderId)
            };
        }
        let opposite = spec.side.opposite();
        if spec.tif == Tif::PostOnly
            && self
                .best(opposite)
                .is_some_and(|best| crosses(spec.side, spec.price, best))
        {
            return Err(Reason::PostOnlyWouldCross);
        }

        let id = self.orders.len() as OrderId + 1;
        let client_order_id: Box<str> = order.client_order_id.as_str().into();
        self.accounts[account as usize]
            .orders
            .insert(client_order_id.clone(), id);
        self.orders.push(Order {
            account,
            client_order_id,
            spec,
            remaining: spec.qty,
            resting: false,
            prev: NO_ORDER,
            next: NO_ORDER,
        });

        let mut touched = Touched::default();
        let taker_cancelled = self.match_taker(id, &mut touched, fx);
        let remaining = self.at(id).remaining;
        if remaining > 0 && !taker_cancelled {
            if spec.order_type == OrderType::Limit && spec.tif != Tif::Ioc {
                let price = spec.price.unwrap_or(0);
                touched.note(spec.side, price, self.total_at(spec.side, price));
                self.rest(id);
            } else {
                fx.reports.push(Report::Cancelled {
                    order_id: id,
                    reason: CancelReason::Unfilled,
                    remaining,
                });
            }
        }
        self.publish_book(&touched, fx);
        Ok(Accepted::New(id))
    }

    /// Cancels an open order of `account`; returns its id and what was open.
    pub fn cancel(
        &mut self,
        account: AccountId,
        target: &CancelTarget,
        fx: &mut Effects,
    ) -> Result<(OrderId, Qty), Reason> {
        let id = match target {
            CancelTarget::OrderId(id) => match self.order(*id) {
                Some(order) if order.account != account => return Err(Reason::NotYourOrder),
                Some(_) => Some(*id),
                None => None,
            },
            CancelTarget::ClientOrderId(cid) => self.accounts[account as usize]
                .orders
                .get(cid.as_str())
                .copied(),
        };
        let Some(id) = id.filter(|&id| self.at(id).resting) else {
            return Err(Reason::UnknownOrder);
        };
        let (side, price, remaining) = {
            let order = self.at(id);
            (
                order.spec.side,
                order.spec.price.unwrap_or(0),
                order.remaining,
            )
        };
        let mut touched = Touched::default();
        touched.note(side, price, self.total_at(side, price));
        self.unlink(id);
        self.publish_book(&touched, fx);
        Ok((id, remaining))
    }

    // -- matching

    /// Trades `taker` against the opposite side; true if self-trade
    /// prevention cancelled it.
    fn match_taker(&mut self, taker: OrderId, touched: &mut Touched, fx: &mut Effects) -> bool {
        let (account, spec) = {
            let order = self.at(taker);
            (order.account, order.spec)
        };
        let opposite = spec.side.opposite();
        while self.at(taker).remaining > 0 {
            let Some(best) = self.best(opposite) else {
                return false;
            };
            if !crosses(spec.side, spec.price, best) {
                return false;
            }
            let level = &self.side(opposite)[&best];
            let maker = level.head;
            touched.note(opposite, best, level.total);
            if self.at(maker).account == account {
                if self.prevent_self_trade(taker, maker, spec.stp, fx) {
                    return true;
                }
                continue;
            }
            let qty = self.at(taker).remaining.min(self.at(maker).remaining);
            let trade_id = self.next_trade_id;
            self.next_trade_id += 1;
            self.reduce(maker, qty);
            self.at_mut(taker).remaining -= qty;
            // For each trade the taker's fill comes before the maker's.
            for (order_id, liquidity) in [(taker, Liquidity::Taker), (maker, Liquidity::Maker)] {
                fx.reports.push(Report::Fill {
                    order_id,
                    trade_id,
                    price: best,
                    qty,
                    remaining: self.at(order_id).remaining,
                    liquidity,
                });
            }
            self.seq += 1;
            fx.public.push(Public::Trade {
                seq: self.seq,
                trade_id,
                side: spec.side,
                price: best,
                qty,
            });
        }
        false
    }

    /// Applies the taker's STP mode to one would-be self-trade; true if the
    /// taker is now cancelled. Reports go out maker first, then taker.
    fn prevent_self_trade(
        &mut self,
        taker: OrderId,
        maker: OrderId,
        mode: Stp,
        fx: &mut Effects,
    ) -> bool {
        let cancelled = |order_id, remaining| Report::Cancelled {
            order_id,
            reason: CancelReason::Stp,
            remaining,
        };
        if matches!(mode, Stp::CancelMaker | Stp::CancelBoth) {
            fx.reports.push(cancelled(maker, self.at(maker).remaining));
            self.unlink(maker);
        }
        match mode {
            Stp::CancelTaker | Stp::CancelBoth => {
                fx.reports.push(cancelled(taker, self.at(taker).remaining));
                return true;
            }
            Stp::CancelMaker => return false,
            Stp::DecrementAndCancel => {}
        }
        // The smaller order is cancelled, the larger loses the smaller's
        // quantity; equal sizes cancel both. No trade is printed.
        let maker_open = self.at(maker).remaining;
        let taker_open = self.at(taker).remaining;
        let qty = maker_open.min(taker_open);
        if maker_open == qty {
            fx.reports.push(cancelled(maker, maker_open));
            self.unlink(maker);
        } else {
            self.reduce(maker, qty);
            fx.reports.push(Report::Decremented {
                order_id: maker,
                qty,
                remaining: maker_open - qty,
            });
        }
        if taker_open == qty {
            fx.reports.push(cancelled(taker, taker_open));
            self.at_mut(taker).remaining = 0;
            return true;
        }
        self.at_mut(taker).remaining = taker_open - qty;
        fx.reports.push(Report::Decremented {
            order_id: taker,
            qty,
            remaining: taker_open - qty,
        });
        false
    }

    /// One book message per command: every level whose total changed.
    fn publish_book(&mut self, touched: &Touched, fx: &mut Effects) {
        let mut bids = Vec::new();
        let mut asks = Vec::new();
        for &(side, price, before) in &touched.0 {
            let now = self.total_at(side, price);
            if now != before {
                match side {
                    Side::Buy => bids.push((price, now)),
                    Side::Sell => asks.push((price, now)),
                }
            }
        }
        if bids.is_empty() && asks.is_empty() {
            return;
        }
        bids.sort_unstable_by_key(|&(price, _)| std::cmp::Reverse(price));
        asks.sort_unstable_by_key(|&(price, _)| price);
        self.seq += 1;
        fx.public.push(Public::Book {
            seq: self.seq,
            bids,
            asks,
            checksum: self.checksum(),
        });
    }
}

/// Level totals as they were before a command, to report only what changed.
///
/// A command visits opposite-side levels in priority order, each in one
/// consecutive run (matching never comes back to a level it left), then at
/// most one level of its own side (where it rests); a cancel touches one
/// level. So a level already noted is always the last one noted.
#[derive(Debug, Default)]
struct Touched(Vec<(Side, Price, Qty)>);

impl Touched {
    fn note(&mut self, side: Side, price: Price, total: Qty) {
        if self
            .0
            .last()
            .is_some_and(|&(s, p, _)| s == side && p == price)
        {
            return;
        }
        debug_assert!(
            !self.0.iter().any(|&(s, p, _)| s == side && p == price),
            "level noted twice"
        );
        self.0.push((side, price, total));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::{OrderType, Tif};

    const LOT: Qty = 1_000_000; // 0.01 BTC, to keep the numbers short

    fn limit(cid: &str, side: Side, price: Price, lots: u64, tif: Tif, stp: Stp) -> NewOrder {
        NewOrder {
            client_order_id: cid.into(),
            spec: OrderSpec {
                side,
                order_type: OrderType::Limit,
                price: Some(price),
                qty: lots * LOT,
                tif,
                stp,
            },
        }
    }

    fn gtc(cid: &str, side: Side, price: Price, lots: u64) -> NewOrder {
        limit(cid, side, price, lots, Tif::Gtc, Stp::CancelTaker)
    }

    type Levels = Vec<(Price, Qty)>;

    fn book(engine: &Engine) -> (Levels, Levels) {
        (engine.bids().collect(), engine.asks().collect())
    }

    fn place(engine: &mut Engine, account: AccountId, order: NewOrder) -> Effects {
        let mut fx = Effects::default();
        engine.new_order(account, &order, &mut fx).unwrap();
        fx
    }

    /// b rests 10 lots @ 4500, a rests 30 @ 4500 behind it and 50 @ 4510.
    fn self_trade_setup() -> (Engine, AccountId) {
        let mut engine = Engine::new();
        let (a, b) = (engine.account("a"), engine.account("b"));
        place(&mut engine, b, gtc("b-ask", Side::Sell, 4500, 10));
        place(&mut engine, a, gtc("a-ask", Side::Sell, 4500, 30));
        place(&mut engine, a, gtc("a-ask2", Side::Sell, 4510, 50));
        (engine, a)
    }

    #[test]
    fn price_time_priority_and_the_makers_price() {
        let mut engine = Engine::new();
        let (a, b) = (engine.account("a"), engine.account("b"));
        place(&mut engine, a, gtc("1", Side::Sell, 4510, 10));
        place(&mut engine, a, gtc("2", Side::Sell, 4505, 10));
        place(&mut engine, a, gtc("3", Side::Sell, 4505, 10));
        let fx = place(&mut engine, b, gtc("t", Side::Buy, 4520, 15));
        let fills: Vec<_> = fx
            .reports
            .iter()
            .filter_map(|r| match r {
                Report::Fill {
                    order_id,
                    price,
                    qty,
                    ..
                } => Some((*order_id, *price, *qty)),
                _ => None,
            })
            .collect();
        assert_eq!(
            fills,
            [
                (4, 4505, 10 * LOT),
                (2, 4505, 10 * LOT),
                (4, 4505, 5 * LOT),
                (3, 4505, 5 * LOT)
            ]
        );
        assert_eq!(
            book(&engine),
            (vec![], vec![(4505, 5 * LOT), (4510, 10 * LOT)])
        );
        let Some(Public::Book { asks, bids, .. }) = fx.public.last() else {
            panic!("no book update")
        };
        assert_eq!(
            (bids.as_slice(), asks.as_slice()),
            (&[][..], &[(4505, 5 * LOT)][..])
        );
    }

    #[test]
    fn stp_decrement_and_cancel_smaller_maker_then_continues() {
        let (mut engine, a) = self_trade_setup();
        let order = limit("t", Side::Buy, 4510, 100, Tif::Gtc, Stp::DecrementAndCancel);
        let fx = place(&mut engine, a, order);
        assert_eq!(
            fx.reports[2..],
            [
                Report::Cancelled {
                    order_id: 2,
                    reason: CancelReason::Stp,
                    remaining: 30 * LOT
                },
                Report::Decremented {
                    order_id: 4,
                    qty: 30 * LOT,
                    remaining: 60 * LOT
                },
                Report::Cancelled {
                    order_id: 3,
                    reason: CancelReason::Stp,
                    remaining: 50 * LOT
                },
                Report::Decremented {
                    order_id: 4,
                    qty: 50 * LOT,
                    remaining: 10 * LOT
                },
            ]
        );
        assert_eq!(book(&engine), (vec![(4510, 10 * LOT)], vec![]));
    }

    #[test]
    fn stp_cancel_both_and_cancel_maker() {
        let (mut engine, a) = self_trade_setup();
        let fx = place(
            &mut engine,
            a,
            limit("t", Side::Buy, 4510, 100, Tif::Gtc, Stp::CancelBoth),
        );
        assert_eq!(
            fx.reports[2..],
            [
                Report::Cancelled {
                    order_id: 2,
                    reason: CancelReason::Stp,
                    remaining: 30 * LOT
                },
                Report::Cancelled {
                    order_id: 4,
                    reason: CancelReason::Stp,
                    remaining: 90 * LOT
                },
            ]
        );
        assert_eq!(book(&engine), (vec![], vec![(4510, 50 * LOT)]));

        let (mut engine, a) = self_trade_setup();
        place(
            &mut engine,
            a,
            limit("t", Side::Buy, 4510, 100, Tif::Gtc, Stp::CancelMaker),
        );
        assert_eq!(book(&engine), (vec![(4510, 90 * LOT)], vec![]));
    }

    #[test]
    fn retries_post_only_and_cancels() {
        let mut engine = Engine::new();
        let (a, b) = (engine.account("a"), engine.account("b"));
        let mut fx = Effects::default();
        let ask = gtc("x", Side::Sell, 4500, 10);
        assert_eq!(engine.new_order(a, &ask, &mut fx), Ok(Accepted::New(1)));
        fx.clear();
        assert_eq!(engine.new_order(a, &ask, &mut fx), Ok(Accepted::Retry(1)));
        assert!(fx.reports.is_empty() && fx.public.is_empty());
        let changed = gtc("x", Side::Sell, 4500, 11);
        assert_eq!(
            engine.new_order(a, &changed, &mut fx),
            Err(Reason::DuplicateClientOrderId)
        );
        let crossing = limit("p", Side::Buy, 4500, 1, Tif::PostOnly, Stp::CancelTaker);
        assert_eq!(
            engine.new_order(b, &crossing, &mut fx),
            Err(Reason::PostOnlyWouldCross)
        );
        assert_eq!(
            engine.cancel(b, &CancelTarget::OrderId(1), &mut fx),
            Err(Reason::NotYourOrder)
        );
        assert_eq!(
            engine.cancel(a, &CancelTarget::OrderId(2), &mut fx),
            Err(Reason::UnknownOrder)
        );
        let by_cid = CancelTarget::ClientOrderId("x".into());
        assert_eq!(engine.cancel(a, &by_cid, &mut fx), Ok((1, 10 * LOT)));
        assert_eq!(
            engine.cancel(a, &by_cid, &mut fx),
            Err(Reason::UnknownOrder)
        );
        assert_eq!(engine.seq(), 2);
        assert_eq!(engine.checksum(), 0);
    }
}
