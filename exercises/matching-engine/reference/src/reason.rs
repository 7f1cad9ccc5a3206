//! The fixed list of reject reasons (§4.2), as the wire spells them.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    LineTooLong,
    MalformedJson,
    UnknownOp,
    NotLoggedIn,
    AlreadyLoggedIn,
    UnknownField,
    MissingField,
    InvalidField,
    InvalidPrice,
    PricePrecision,
    OffTick,
    InvalidQuantity,
    QuantityPrecision,
    OffLot,
    DuplicateClientOrderId,
    PostOnlyWouldCross,
    UnknownOrder,
    NotYourOrder,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::LineTooLong => "line_too_long",
            Reason::MalformedJson => "malformed_json",
            Reason::UnknownOp => "unknown_op",
            Reason::NotLoggedIn => "not_logged_in",
            Reason::AlreadyLoggedIn => "already_logged_in",
            Reason::UnknownField => "unknown_field",
            Reason::MissingField => "missing_field",
            Reason::InvalidField => "invalid_field",
            Reason::InvalidPrice => "invalid_price",
            Reason::PricePrecision => "price_precision",
            Reason::OffTick => "off_tick",
            Reason::InvalidQuantity => "invalid_quantity",
            Reason::QuantityPrecision => "quantity_precision",
            Reason::OffLot => "off_lot",
            Reason::DuplicateClientOrderId => "duplicate_client_order_id",
            Reason::PostOnlyWouldCross => "post_only_would_cross",
            Reason::UnknownOrder => "unknown_order",
            Reason::NotYourOrder => "not_your_order",
        }
    }
}
