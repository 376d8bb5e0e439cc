//! Code colours and code kinds, with their stable wire numbers and labels.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The colour a health code shows.
///
/// `Pending` is the "black" code of the seeds: no health information yet, or
/// under review (which can take up to 12 hours).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Pending,
    Green,
    Yellow,
    Orange,
    Red,
}

impl Colour {
    pub const ALL: [Colour; 5] = [
        Colour::Pending,
        Colour::Green,
        Colour::Yellow,
        Colour::Orange,
        Colour::Red,
    ];

    /// The number carried in a signed code. Stable: never renumber.
    pub const fn wire(self) -> u8 {
        match self {
            Colour::Pending => 0,
            Colour::Green => 1,
            Colour::Yellow => 2,
            Colour::Orange => 3,
            Colour::Red => 4,
        }
    }

    pub const fn from_wire(n: u64) -> Option<Colour> {
        match n {
            0 => Some(Colour::Pending),
            1 => Some(Colour::Green),
            2 => Some(Colour::Yellow),
            3 => Some(Colour::Orange),
            4 => Some(Colour::Red),
            _ => None,
        }
    }

    /// Stable snake_case name used in JSON and on the command line.
    pub const fn as_str(self) -> &'static str {
        match self {
            Colour::Pending => "pending",
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Orange => "orange",
            Colour::Red => "red",
        }
    }

    pub const fn label_en(self) -> &'static str {
        match self {
            Colour::Pending => "Pending (black): no health information yet",
            Colour::Green => "Green",
            Colour::Yellow => "Yellow",
            Colour::Orange => "Orange",
            Colour::Red => "Red",
        }
    }

    pub const fn label_zh(self) -> &'static str {
        match self {
            Colour::Pending => "待定（黑码）：尚无健康信息",
            Colour::Green => "绿码",
            Colour::Yellow => "黄码",
            Colour::Orange => "橙码",
            Colour::Red => "红码",
        }
    }
}

impl fmt::Display for Colour {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error for a colour name that is not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown colour {0:?}: expected one of pending (black), green, yellow, orange, red / 未知颜色"
)]
pub struct UnknownColour(pub String);

impl FromStr for Colour {
    type Err = UnknownColour;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "pending" | "black" | "黑" | "黑码" => Ok(Colour::Pending),
            "green" | "绿" | "绿码" => Ok(Colour::Green),
            "yellow" | "黄" | "黄码" => Ok(Colour::Yellow),
            "orange" | "橙" | "橙码" => Ok(Colour::Orange),
            "red" | "红" | "红码" => Ok(Colour::Red),
            _ => Err(UnknownColour(s.to_owned())),
        }
    }
}

/// Which version of the code: a mainland resident's, the traveller
/// version for people without a mainland ID (passport, permits), or the
/// itinerary card's QR (行程卡), whose colour is the card's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Resident,
    Traveller,
    ItineraryCard,
}

impl CodeKind {
    pub const fn wire(self) -> u8 {
        match self {
            CodeKind::Resident => 0,
            CodeKind::Traveller => 1,
            CodeKind::ItineraryCard => 2,
        }
    }

    pub const fn from_wire(n: u64) -> Option<CodeKind> {
        match n {
            0 => Some(CodeKind::Resident),
            1 => Some(CodeKind::Traveller),
            2 => Some(CodeKind::ItineraryCard),
            _ => None,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            CodeKind::Resident => "resident",
            CodeKind::Traveller => "traveller",
            CodeKind::ItineraryCard => "itinerary_card",
        }
    }
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown code kind {0:?}: expected resident, traveller or itinerary_card / 未知码类型")]
pub struct UnknownCodeKind(pub String);

impl FromStr for CodeKind {
    type Err = UnknownCodeKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "resident" => Ok(CodeKind::Resident),
            "traveller" | "traveler" => Ok(CodeKind::Traveller),
            "itinerary_card" | "itinerary" => Ok(CodeKind::ItineraryCard),
            _ => Err(UnknownCodeKind(s.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_numbers_round_trip() {
        for c in Colour::ALL {
            assert_eq!(Colour::from_wire(u64::from(c.wire())), Some(c));
            assert_eq!(c.as_str().parse::<Colour>(), Ok(c));
        }
        assert_eq!(Colour::from_wire(5), None);
        assert_eq!("black".parse::<Colour>(), Ok(Colour::Pending));
        assert!("purple".parse::<Colour>().is_err());
    }

    #[test]
    fn kinds_parse() {
        assert_eq!("traveler".parse::<CodeKind>(), Ok(CodeKind::Traveller));
        assert_eq!(CodeKind::from_wire(0), Some(CodeKind::Resident));
        assert_eq!(CodeKind::from_wire(2), Some(CodeKind::ItineraryCard));
        assert_eq!(
            "itinerary_card".parse::<CodeKind>(),
            Ok(CodeKind::ItineraryCard)
        );
        assert_eq!(CodeKind::from_wire(3), None);
    }
}
