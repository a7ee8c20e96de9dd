//! Chunk ranges on the wire: which 1 KiB BLAKE3 chunks of a file a receiver
//! still wants (files.md: a new file asks for all, a resume for what is
//! missing). Written `a-b` (chunks a up to, not including, b) or `a-` (from
//! a to the end), comma-separated, in increasing order, apart from each
//! other; at most [`MAX_RANGES`] of them.

use std::fmt;
use std::str::FromStr;

/// Most ranges in one set (a resume after many drops stays well below).
pub const MAX_RANGES: usize = 256;

/// A set of chunk ranges, sorted and disjoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkRangeSet {
    /// `(start, end)`, `end` `None` for "to the end of the file".
    ranges: Vec<(u64, Option<u64>)>,
}

/// Why a range set was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RangeProblem {
    #[error("not a range: {0:?}")]
    Syntax(String),
    #[error("ranges out of order, touching, or overlapping")]
    Order,
    #[error("more than {MAX_RANGES} ranges")]
    TooMany,
}

impl ChunkRangeSet {
    /// Every chunk of the file.
    pub fn all() -> Self {
        Self {
            ranges: vec![(0, None)],
        }
    }

    /// No chunk at all (the file is complete).
    pub fn empty() -> Self {
        Self { ranges: Vec::new() }
    }

    /// Builds a set from sorted, disjoint, non-touching ranges.
    pub fn from_ranges(ranges: Vec<(u64, Option<u64>)>) -> Result<Self, RangeProblem> {
        if ranges.len() > MAX_RANGES {
            return Err(RangeProblem::TooMany);
        }
        let mut previous_end: Option<u64> = None;
        for (i, &(start, end)) in ranges.iter().enumerate() {
            if end.is_some_and(|end| end <= start) {
                return Err(RangeProblem::Order);
            }
            if i > 0 && previous_end.is_none_or(|previous| start <= previous) {
                return Err(RangeProblem::Order);
            }
            previous_end = end;
        }
        Ok(Self { ranges })
    }

    pub fn ranges(&self) -> &[(u64, Option<u64>)] {
        &self.ranges
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.is_empty()
    }
}

impl fmt::Display for ChunkRangeSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (start, end)) in self.ranges.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            match end {
                Some(end) => write!(f, "{start}-{end}")?,
                None => write!(f, "{start}-")?,
            }
        }
        Ok(())
    }
}

impl FromStr for ChunkRangeSet {
    type Err = RangeProblem;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Ok(Self::empty());
        }
        // Counted before anything is collected.
        if text.split(',').nth(MAX_RANGES).is_some() {
            return Err(RangeProblem::TooMany);
        }
        let number = |digits: &str| -> Result<u64, RangeProblem> {
            if digits.is_empty() || digits.len() > 20 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(RangeProblem::Syntax(digits.chars().take(24).collect()));
            }
            digits
                .parse()
                .map_err(|_| RangeProblem::Syntax(digits.chars().take(24).collect()))
        };
        let ranges = text
            .split(',')
            .map(|range| {
                let (start, end) = range
                    .split_once('-')
                    .ok_or_else(|| RangeProblem::Syntax(range.chars().take(24).collect()))?;
                let end = if end.is_empty() {
                    None
                } else {
                    Some(number(end)?)
                };
                Ok((number(start)?, end))
            })
            .collect::<Result<Vec<_>, RangeProblem>>()?;
        Self::from_ranges(ranges)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_round_trip_through_their_text() {
        for text in ["", "0-", "0-16", "0-16,32-48,64-", "5-6"] {
            let set: ChunkRangeSet = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(set.to_string(), text);
        }
        assert_eq!(ChunkRangeSet::all().to_string(), "0-");
        assert!(ChunkRangeSet::empty().is_empty());
    }

    #[test]
    fn malformed_or_unordered_sets_are_refused() {
        for bad in [
            "-",
            "a-b",
            "1",
            "1-2-3",
            "+1-2",
            "0-16,",
            ",0-1",
            "1-99999999999999999999999",
        ] {
            assert!(
                matches!(bad.parse::<ChunkRangeSet>(), Err(RangeProblem::Syntax(_))),
                "{bad}"
            );
        }
        for bad in [
            "5-5",
            "6-5",
            "0-10,10-20",
            "0-10,5-20",
            "10-20,0-5",
            "0-,5-6",
        ] {
            assert_eq!(
                bad.parse::<ChunkRangeSet>(),
                Err(RangeProblem::Order),
                "{bad}"
            );
        }
        let many = (0..=MAX_RANGES as u64)
            .map(|i| format!("{}-{}", 2 * i, 2 * i + 1))
            .collect::<Vec<_>>()
            .join(",");
        assert_eq!(many.parse::<ChunkRangeSet>(), Err(RangeProblem::TooMany));
    }
}
