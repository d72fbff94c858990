//! Network faults between members, as one shape for every backend.
//!
//! A [`NetworkCut`] is the set of directed links that are down: `(from, to)` means messages
//! from member `from` do not reach member `to`. Plans and `hzlab cluster` speak in groups
//! (`partition = [[1], [2, 3]]`), one-way cuts, an isolated member or Jepsen's majorities
//! ring; each is resolved here, once, into links, and the backends only ask
//! [`NetworkCut::blocks`]. Members are numbered from 1.

use std::collections::BTreeSet;
use std::fmt;

use super::{check_members, ClusterError};

/// Directed links that are down between members (1-based).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkCut {
    members: usize,
    blocked: BTreeSet<(usize, usize)>,
}

impl NetworkCut {
    /// No link down.
    pub fn none(members: usize) -> NetworkCut {
        NetworkCut {
            members,
            blocked: BTreeSet::new(),
        }
    }

    /// Members in different groups cannot reach each other, in both directions. Every member
    /// must be in exactly one group; at least two groups.
    pub fn partition(groups: &[Vec<usize>], members: usize) -> Result<NetworkCut, ClusterError> {
        if groups.len() < 2 {
            return Err(ClusterError::InvalidConfig(format!(
                "a partition needs at least two groups of members, got {}",
                groups.len()
            )));
        }
        let all: Vec<usize> = groups.iter().flatten().copied().collect();
        check_members(&all, members)?;
        if let Some(g) = groups.iter().position(|g| g.is_empty()) {
            return Err(ClusterError::InvalidConfig(format!(
                "group {} of the partition is empty",
                g + 1
            )));
        }
        if all.len() != members {
            let missing: Vec<String> = (1..=members)
                .filter(|m| !all.contains(m))
                .map(|m| m.to_string())
                .collect();
            return Err(ClusterError::InvalidConfig(format!(
                "a partition must put every member in a group; member(s) {} are in none",
                missing.join(", ")
            )));
        }
        let mut cut = NetworkCut::none(members);
        for (i, a) in groups.iter().enumerate() {
            for (j, b) in groups.iter().enumerate() {
                if i != j {
                    for &from in a {
                        for &to in b {
                            cut.blocked.insert((from, to));
                        }
                    }
                }
            }
        }
        Ok(cut)
    }

    /// Messages from `from` do not reach `to` (the other direction keeps working).
    pub fn one_way(
        from: &[usize],
        to: &[usize],
        members: usize,
    ) -> Result<NetworkCut, ClusterError> {
        check_members(from, members)?;
        check_members(to, members)?;
        if let Some(m) = from.iter().find(|m| to.contains(m)) {
            return Err(ClusterError::InvalidConfig(format!(
                "member {m} is on both sides of a one-way cut"
            )));
        }
        let mut cut = NetworkCut::none(members);
        for &f in from {
            for &t in to {
                cut.blocked.insert((f, t));
            }
        }
        Ok(cut)
    }

    /// `member` cannot reach any other member, nor they it.
    pub fn isolate(member: usize, members: usize) -> Result<NetworkCut, ClusterError> {
        check_members(&[member], members)?;
        let rest: Vec<usize> = (1..=members).filter(|&m| m != member).collect();
        if rest.is_empty() {
            return Err(ClusterError::InvalidConfig(
                "cannot isolate the only member of a cluster".to_string(),
            ));
        }
        NetworkCut::partition(&[vec![member], rest], members)
    }

    /// Jepsen's majorities ring: with the members on a ring in number order, each member hears
    /// from itself and the `members / 2` members after it, so every member sees a majority and
    /// no two members see the same majority. Needs at least three members.
    pub fn majorities_ring(members: usize) -> Result<NetworkCut, ClusterError> {
        if members < 3 {
            return Err(ClusterError::InvalidConfig(format!(
                "a majorities ring needs at least 3 members, the cluster has {members}"
            )));
        }
        let heard = members / 2;
        let mut cut = NetworkCut::none(members);
        for to in 1..=members {
            let sees: Vec<usize> = (1..=heard).map(|k| (to - 1 + k) % members + 1).collect();
            for from in 1..=members {
                if from != to && !sees.contains(&from) {
                    cut.blocked.insert((from, to));
                }
            }
        }
        Ok(cut)
    }

    /// A cut of exactly these directed links (as recorded); links outside 1..=members and
    /// a member's link to itself are left out.
    pub fn from_links(
        members: usize,
        links: impl IntoIterator<Item = (usize, usize)>,
    ) -> NetworkCut {
        NetworkCut {
            members,
            blocked: links
                .into_iter()
                .filter(|&(a, b)| {
                    a != b && (1..=members).contains(&a) && (1..=members).contains(&b)
                })
                .collect(),
        }
    }

    /// The union of two cuts (a link down in either is down).
    pub fn union(mut self, other: &NetworkCut) -> NetworkCut {
        self.members = self.members.max(other.members);
        self.blocked.extend(other.blocked.iter().copied());
        self
    }

    /// Whether messages from `from` fail to reach `to`.
    pub fn blocks(&self, from: usize, to: usize) -> bool {
        self.blocked.contains(&(from, to))
    }

    /// Whether no link is down.
    pub fn is_empty(&self) -> bool {
        self.blocked.is_empty()
    }

    /// The links that are down, `(from, to)`, in order.
    pub fn links(&self) -> impl Iterator<Item = (usize, usize)> + '_ {
        self.blocked.iter().copied()
    }

    /// The members `member` hears from (itself included).
    pub fn heard_by(&self, member: usize) -> Vec<usize> {
        (1..=self.members)
            .filter(|&from| from == member || !self.blocks(from, member))
            .collect()
    }

    /// When the links that are down are symmetric and split the members into groups that
    /// reach each other fully, those groups (sorted); `None` for one-way or ring cuts.
    pub fn groups(&self) -> Option<Vec<Vec<usize>>> {
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for m in 1..=self.members {
            let side = self.heard_by(m);
            let symmetric = side
                .iter()
                .all(|&o| self.heard_by(o) == side && !self.blocks(m, o));
            if !symmetric {
                return None;
            }
            if !groups.contains(&side) {
                groups.push(side);
            }
        }
        Some(groups)
    }
}

impl fmt::Display for NetworkCut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("no cut");
        }
        if let Some(groups) = self.groups() {
            let groups: Vec<String> = groups
                .iter()
                .map(|g| {
                    let g: Vec<String> = g.iter().map(|m| m.to_string()).collect();
                    format!("[{}]", g.join(", "))
                })
                .collect();
            return write!(f, "partition {}", groups.join(" | "));
        }
        let links: Vec<String> = self.links().map(|(a, b)| format!("{a}→{b}")).collect();
        write!(f, "links down {}", links.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_cuts_both_directions_between_groups_only() {
        let cut = NetworkCut::partition(&[vec![1], vec![2, 3]], 3).unwrap();
        assert!(cut.blocks(1, 2) && cut.blocks(2, 1) && cut.blocks(1, 3) && cut.blocks(3, 1));
        assert!(!cut.blocks(2, 3) && !cut.blocks(3, 2));
        assert_eq!(cut.groups(), Some(vec![vec![1], vec![2, 3]]));
        assert_eq!(cut.to_string(), "partition [1] | [2, 3]");
        assert_eq!(cut.heard_by(2), vec![2, 3]);
    }

    #[test]
    fn a_partition_must_cover_every_member_once() {
        let e = NetworkCut::partition(&[vec![1], vec![2]], 3).unwrap_err();
        assert!(e.to_string().contains("member(s) 3 are in none"), "{e}");
        let e = NetworkCut::partition(&[vec![1, 2], vec![2, 3]], 3).unwrap_err();
        assert!(e.to_string().contains("member 2 named twice"), "{e}");
        let e = NetworkCut::partition(&[vec![1, 2, 3]], 3).unwrap_err();
        assert!(e.to_string().contains("at least two groups"), "{e}");
        let e = NetworkCut::partition(&[vec![1], vec![4]], 3).unwrap_err();
        assert!(e.to_string().contains("no member 4"), "{e}");
    }

    #[test]
    fn a_one_way_cut_keeps_the_other_direction() {
        let cut = NetworkCut::one_way(&[1], &[2, 3], 3).unwrap();
        assert!(cut.blocks(1, 2) && cut.blocks(1, 3));
        assert!(!cut.blocks(2, 1) && !cut.blocks(3, 1));
        assert_eq!(cut.groups(), None);
        assert_eq!(cut.to_string(), "links down 1→2, 1→3");
        assert!(NetworkCut::one_way(&[1], &[1], 3).is_err());
    }

    #[test]
    fn isolating_a_member_is_a_partition_of_it_from_the_rest() {
        let cut = NetworkCut::isolate(2, 3).unwrap();
        assert_eq!(
            cut,
            NetworkCut::partition(&[vec![2], vec![1, 3]], 3).unwrap()
        );
        assert!(NetworkCut::isolate(1, 1).is_err());
    }

    #[test]
    fn in_a_majorities_ring_each_member_sees_its_own_majority() {
        for n in [3, 4, 5, 7] {
            let cut = NetworkCut::majorities_ring(n).unwrap();
            let mut seen = Vec::new();
            for m in 1..=n {
                let side = cut.heard_by(m);
                assert!(side.len() > n / 2, "member {m} of {n} sees {side:?}");
                assert!(!seen.contains(&side), "two members see {side:?}");
                seen.push(side);
            }
        }
        assert!(NetworkCut::majorities_ring(2).is_err());
    }

    #[test]
    fn a_union_keeps_every_link_of_both() {
        let a = NetworkCut::one_way(&[1], &[2], 3).unwrap();
        let b = NetworkCut::one_way(&[2], &[1], 3).unwrap();
        let both = a.union(&b);
        assert!(both.blocks(1, 2) && both.blocks(2, 1) && !both.blocks(1, 3));
        assert!(NetworkCut::none(3).is_empty());
    }
}
