//! Which offsets of each partition are settled, and how far the group's committed offset may
//! move: Kafka commits a position, not single messages, so a message acknowledged out of order
//! waits until everything before it is acknowledged too. A crash re-delivers from the committed
//! position; whatever was already stored is upserted again, never lost.

use std::collections::{BTreeMap, HashMap};

/// A partition of a topic.
pub type Partition = (String, i32);

#[derive(Debug, Default)]
pub struct Offsets {
    /// Per partition: offset → settled, from the oldest unsettled one on.
    parts: HashMap<Partition, BTreeMap<i64, bool>>,
}

impl Offsets {
    /// A message was handed to a worker.
    pub fn track(&mut self, part: &Partition, offset: i64) {
        self.parts
            .entry(part.clone())
            .or_default()
            .insert(offset, false);
    }

    pub fn is_tracked(&self, part: &Partition, offset: i64) -> bool {
        self.parts
            .get(part)
            .is_some_and(|p| p.get(&offset) == Some(&false))
    }

    /// Settles `offset`. `Err(())`: it is not ours (its partition moved to another worker
    /// since). `Ok(Some(n))`: the group may now commit `n` (the next offset to read).
    #[allow(clippy::result_unit_err)]
    pub fn settle(&mut self, part: &Partition, offset: i64) -> Result<Option<i64>, ()> {
        let offsets = self.parts.get_mut(part).ok_or(())?;
        match offsets.get_mut(&offset) {
            Some(settled @ false) => *settled = true,
            _ => return Err(()),
        }
        let mut commit = None;
        while let Some(entry) = offsets.first_entry() {
            if !*entry.get() {
                break;
            }
            commit = Some(*entry.key() + 1);
            entry.remove();
        }
        Ok(commit)
    }

    /// The partition was taken away: forget it (its unsettled messages will be delivered to its
    /// new owner from the committed position).
    pub fn revoke(&mut self, part: &Partition) {
        self.parts.remove(part);
    }

    /// Messages handed out and not yet settled.
    pub fn in_flight(&self) -> usize {
        self.parts
            .values()
            .map(|p| p.values().filter(|s| !**s).count())
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part() -> Partition {
        ("clipguard.videos".to_string(), 0)
    }

    #[test]
    fn commits_only_the_settled_prefix() {
        let mut o = Offsets::default();
        for offset in 10..14 {
            o.track(&part(), offset);
        }
        // 11 and 12 settle first: nothing can be committed while 10 is open.
        assert_eq!(o.settle(&part(), 11), Ok(None));
        assert_eq!(o.settle(&part(), 12), Ok(None));
        assert_eq!(o.in_flight(), 2);
        // 10 settles: the position jumps past 12.
        assert_eq!(o.settle(&part(), 10), Ok(Some(13)));
        assert_eq!(o.settle(&part(), 13), Ok(Some(14)));
        assert_eq!(o.in_flight(), 0);
    }

    #[test]
    fn stale_and_repeated_settles_are_refused() {
        let mut o = Offsets::default();
        o.track(&part(), 5);
        assert_eq!(o.settle(&part(), 5), Ok(Some(6)));
        assert_eq!(o.settle(&part(), 5), Err(()));
        o.track(&part(), 6);
        o.revoke(&part());
        assert_eq!(o.settle(&part(), 6), Err(()));
        assert!(!o.is_tracked(&part(), 6));
    }
}
