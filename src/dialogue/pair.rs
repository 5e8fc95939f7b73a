//! What two linked partners share, as plain data: who they are, their answers to shared
//! exercises (each kept back until both have answered and neither says "not yet") and the
//! rules they proposed and agreed. Storage keeps it as a record of its own, sealed under a key
//! of the link that unlinking destroys. Nothing else of either partner is ever in it.
//!
//! The operations here are pure: the conversation applies one to the stored record with
//! compare-and-set, so a reveal happens exactly once however the two answers arrive.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How long an invitation works, in seconds.
pub const INVITATION_LIFETIME: i64 = 24 * 60 * 60;

/// Whether `text` could be an invitation token: 32 characters of `A-Z a-z 0-9 _ -`, which is
/// what a Telegram deep link's payload allows.
pub fn looks_like_invitation(text: &str) -> bool {
    text.len() == 32
        && text
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
}

/// The record two linked partners share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairState {
    /// The partners' ids: the one who invited first.
    pub partners: [i64; 2],
    /// When they linked, in seconds since the epoch.
    pub since: i64,
    /// Shared exercises, by `<flow>/<answer name>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub shared: BTreeMap<String, SharedItem>,
    /// Rules proposed by one partner, agreed once the other accepts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    /// The number the next rule gets.
    #[serde(default)]
    pub next_rule: u32,
    /// Whether each partner chose to share their check-in ratings; ratings are shared only
    /// while both have.
    #[serde(default)]
    pub share_ratings: [bool; 2],
    /// Check-in ratings shared while both chose to, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ratings: Vec<SharedRating>,
    /// Rules that went lately (an agreed one withdrawn, a proposal declined), newest last:
    /// `/rules` names them to the other partner for a while, so a neutral notice is not
    /// followed by a list that is simply shorter.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gone: Vec<GoneRule>,
    /// When each partner was last told that something new waits for them, until they next
    /// change something themselves: within [`NOTICE_QUIET`] of it, news is not told again,
    /// so a partner answering three things in a row sends one notice, not three.
    #[serde(default, skip_serializing_if = "is_never")]
    pub told: [Option<i64>; 2],
}

/// How long after a notice to a partner, in seconds, more news is not told again (unless
/// they changed something since).
pub const NOTICE_QUIET: i64 = 60 * 60;

fn is_never(told: &[Option<i64>; 2]) -> bool {
    told.iter().all(Option::is_none)
}

/// How long a rule that went is named under `/rules`, in seconds.
pub const GONE_SHOWN: i64 = 14 * 24 * 60 * 60;
/// The most rules that went kept to name.
const GONE_KEPT: usize = 5;

/// A rule that went lately.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GoneRule {
    pub text: String,
    /// Who withdrew or declined it.
    pub by: Side,
    /// Declined while it waited (`true`), or an agreed rule withdrawn (`false`).
    pub declined: bool,
    pub at: i64,
}

/// A check-in trust rating one partner shared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedRating {
    pub side: Side,
    pub rating: u8,
    pub at: i64,
}

/// The most shared ratings kept; older ones give way.
const RATINGS_KEPT: usize = 1000;

/// Which of the two partners.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Side {
    First,
    Second,
}

impl Side {
    fn index(self) -> usize {
        match self {
            Side::First => 0,
            Side::Second => 1,
        }
    }

    /// The other partner.
    pub fn other(self) -> Side {
        match self {
            Side::First => Side::Second,
            Side::Second => Side::First,
        }
    }
}

/// One shared exercise: each partner's answer, and when both were shown.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedItem {
    #[serde(default)]
    pub answers: [Option<SharedAnswer>; 2],
    /// When the answers were shown to both; `None` while they wait.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revealed: Option<i64>,
}

/// One partner's answer to a shared exercise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedAnswer {
    pub value: String,
    pub at: i64,
    /// "Not yet": nothing is revealed while this is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub held: bool,
}

/// A rule or boundary one partner proposed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub number: u32,
    pub text: String,
    pub proposed_by: Side,
    pub proposed_at: i64,
    /// When the other partner accepted it; `None` while it waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agreed_at: Option<i64>,
}

/// A change one partner makes to what they share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairChange {
    /// Answers a shared exercise (replacing an answer not yet revealed).
    Answer {
        item: String,
        value: String,
        at: i64,
    },
    /// Holds an answer back ("not yet") or lets it go.
    Hold { item: String, held: bool },
    /// Proposes a rule.
    Propose { text: String, at: i64 },
    /// Accepts the other partner's rule `number`.
    Accept { number: u32, at: i64 },
    /// Withdraws from rule `number` (proposed by either): it is no longer agreed.
    Withdraw { number: u32, at: i64 },
    /// Says no to rule `number`, proposed by the other partner and not yet agreed.
    Decline { number: u32, at: i64 },
    /// Chooses to share check-in ratings, or stops (every shared rating is then deleted).
    ShareRatings { on: bool },
    /// Shares a check-in rating (only while both chose to).
    Rate { rating: u8, at: i64 },
}

/// What a change brought about, for the replies and the partner's notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairNews {
    /// Nothing the partner needs to hear about.
    Quiet,
    /// Saved; the partner has not answered yet.
    Waiting,
    /// Both have answered, but one holds theirs back.
    Held,
    /// Both answers were shown, just now.
    Revealed,
    /// A rule waits for the partner's answer.
    Proposed { number: u32 },
    /// A rule is now agreed by both.
    Agreed { number: u32 },
    /// An agreed rule is no longer agreed.
    Withdrawn { number: u32 },
    /// The partner's proposal was declined: it is no longer waiting.
    Declined { number: u32 },
    /// Ratings are now shared by both (`true`), or this partner's choice waits for the other.
    SharingRatings { both: bool },
    /// Ratings are no longer shared; those shared are deleted.
    RatingsStopped,
    /// A rating was shared.
    Rated,
    /// The change could not apply (an answer already revealed, a rule that is gone).
    Refused,
}

impl PairState {
    /// A new link between `inviter` and `invited`.
    pub fn new(inviter: i64, invited: i64, since: i64) -> PairState {
        PairState {
            partners: [inviter, invited],
            since,
            shared: BTreeMap::new(),
            rules: Vec::new(),
            next_rule: 1,
            share_ratings: [false; 2],
            ratings: Vec::new(),
            gone: Vec::new(),
            told: [None; 2],
        }
    }

    /// Applies `change` by the partner on `side` at `now`, as [`PairState::apply`], and says
    /// whether the other partner is to be told of it: not when nothing came of it for them,
    /// nor when they were told within [`NOTICE_QUIET`] and have changed nothing since.
    pub fn apply_at(&mut self, side: Side, change: &PairChange, now: i64) -> (PairNews, bool) {
        let news = self.apply(side, change);
        if matches!(news, PairNews::Refused) {
            return (news, false);
        }
        // Acting here, they have been here: the next news for them is told.
        self.told[side.index()] = None;
        if matches!(news, PairNews::Quiet) {
            return (news, false);
        }
        let other = side.other().index();
        match self.told[other] {
            Some(at) if now - at < NOTICE_QUIET => (news, false),
            _ => {
                self.told[other] = Some(now);
                (news, true)
            }
        }
    }

    /// Rules that went lately by the other partner's choice, as `side` sees them at `now`.
    pub fn gone_for(&self, side: Side, now: i64) -> impl Iterator<Item = &GoneRule> {
        self.gone
            .iter()
            .filter(move |gone| gone.by != side && now - gone.at < GONE_SHOWN)
    }

    /// Remembers `rule` as gone by `side`'s choice at `at`, forgetting those past showing.
    fn went(&mut self, rule: Rule, side: Side, declined: bool, at: i64) {
        self.gone.retain(|gone| at - gone.at < GONE_SHOWN);
        self.gone.push(GoneRule {
            text: rule.text,
            by: side,
            declined,
            at,
        });
        let excess = self.gone.len().saturating_sub(GONE_KEPT);
        self.gone.drain(..excess);
    }

    /// Whether both partners chose to share their check-in ratings.
    pub fn sharing_ratings(&self) -> bool {
        self.share_ratings == [true, true]
    }

    /// Whether the partner on `side` chose to share their ratings.
    pub fn shares_ratings(&self, side: Side) -> bool {
        self.share_ratings[side.index()]
    }

    /// The partner's ratings `side` may see, oldest first: each only once `side` has given a
    /// rating of their own at or after it, so neither sees the other's before giving theirs.
    pub fn partner_ratings(&self, side: Side) -> Vec<SharedRating> {
        let Some(mine) = self
            .ratings
            .iter()
            .filter(|rating| rating.side == side)
            .map(|rating| rating.at)
            .max()
        else {
            return Vec::new();
        };
        self.ratings
            .iter()
            .filter(|rating| rating.side != side && rating.at <= mine)
            .copied()
            .collect()
    }

    /// Which side `person` is on, if they are one of the two.
    pub fn side_of(&self, person: i64) -> Option<Side> {
        match self.partners {
            [first, _] if first == person => Some(Side::First),
            [_, second] if second == person => Some(Side::Second),
            _ => None,
        }
    }

    /// The id of the partner on `side`.
    pub fn partner(&self, side: Side) -> i64 {
        self.partners[side.index()]
    }

    /// The key a shared exercise is kept under.
    pub fn item_key(flow: &str, answer: &str) -> String {
        format!("{flow}/{answer}")
    }

    /// A shared item as `side` sees it: their answer, and the partner's once revealed.
    pub fn view(&self, item: &str, side: Side) -> ItemView<'_> {
        let Some(shared) = self.shared.get(item) else {
            return ItemView::default();
        };
        let mine = shared.answers[side.index()].as_ref();
        let theirs = shared.answers[side.other().index()].as_ref();
        ItemView {
            mine,
            partner_answered: theirs.is_some(),
            theirs: shared.revealed.and(theirs),
            revealed: shared.revealed,
        }
    }

    /// Applies `change` made by the partner on `side`; returns what it brought about.
    pub fn apply(&mut self, side: Side, change: &PairChange) -> PairNews {
        match change {
            PairChange::Answer { item, value, at } => {
                let shared = self.shared.entry(item.clone()).or_default();
                if shared.revealed.is_some() {
                    return PairNews::Refused;
                }
                let held = shared.answers[side.index()]
                    .as_ref()
                    .is_some_and(|answer| answer.held);
                shared.answers[side.index()] = Some(SharedAnswer {
                    value: value.clone(),
                    at: *at,
                    held,
                });
                shared.try_reveal(*at)
            }
            PairChange::Hold { item, held } => {
                let Some(shared) = self.shared.get_mut(item) else {
                    return PairNews::Refused;
                };
                if shared.revealed.is_some() {
                    return PairNews::Refused;
                }
                let Some(answer) = shared.answers[side.index()].as_mut() else {
                    return PairNews::Refused;
                };
                answer.held = *held;
                let at = answer.at;
                let latest = shared
                    .answers
                    .iter()
                    .flatten()
                    .map(|answer| answer.at)
                    .max()
                    .unwrap_or(at);
                shared.try_reveal(latest)
            }
            PairChange::Propose { text, at } => {
                let number = self.next_rule.max(1);
                self.next_rule = number + 1;
                self.rules.push(Rule {
                    number,
                    text: text.clone(),
                    proposed_by: side,
                    proposed_at: *at,
                    agreed_at: None,
                });
                PairNews::Proposed { number }
            }
            PairChange::Accept { number, at } => {
                match self.rules.iter_mut().find(|rule| rule.number == *number) {
                    Some(rule) if rule.proposed_by != side && rule.agreed_at.is_none() => {
                        rule.agreed_at = Some(*at);
                        PairNews::Agreed { number: *number }
                    }
                    _ => PairNews::Refused,
                }
            }
            PairChange::ShareRatings { on } => {
                self.share_ratings[side.index()] = *on;
                if *on {
                    PairNews::SharingRatings {
                        both: self.sharing_ratings(),
                    }
                } else {
                    self.ratings.clear();
                    PairNews::RatingsStopped
                }
            }
            PairChange::Rate { rating, at } => {
                if !self.sharing_ratings() {
                    return PairNews::Refused;
                }
                self.ratings.push(SharedRating {
                    side,
                    rating: *rating,
                    at: *at,
                });
                let excess = self.ratings.len().saturating_sub(RATINGS_KEPT);
                self.ratings.drain(..excess);
                PairNews::Rated
            }
            PairChange::Decline { number, at } => {
                let Some(index) = self.rules.iter().position(|rule| {
                    rule.number == *number && rule.agreed_at.is_none() && rule.proposed_by != side
                }) else {
                    return PairNews::Refused;
                };
                let rule = self.rules.remove(index);
                self.went(rule, side, true, *at);
                PairNews::Declined { number: *number }
            }
            PairChange::Withdraw { number, at } => {
                let Some(index) = self.rules.iter().position(|rule| rule.number == *number) else {
                    return PairNews::Refused;
                };
                let rule = self.rules.remove(index);
                if rule.agreed_at.is_some() {
                    self.went(rule, side, false, *at);
                    PairNews::Withdrawn { number: *number }
                } else {
                    PairNews::Quiet
                }
            }
        }
    }
}

impl SharedItem {
    /// Reveals both answers at `at` if both are in and neither is held.
    fn try_reveal(&mut self, at: i64) -> PairNews {
        match &self.answers {
            [Some(first), Some(second)] if !first.held && !second.held => {
                self.revealed = Some(at);
                PairNews::Revealed
            }
            [Some(_), Some(_)] => PairNews::Held,
            _ => PairNews::Waiting,
        }
    }
}

/// A shared item as one partner sees it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ItemView<'a> {
    pub mine: Option<&'a SharedAnswer>,
    /// The partner's answer: only once revealed.
    pub theirs: Option<&'a SharedAnswer>,
    pub partner_answered: bool,
    pub revealed: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(item: &str, value: &str, at: i64) -> PairChange {
        PairChange::Answer {
            item: item.to_owned(),
            value: value.to_owned(),
            at,
        }
    }

    #[test]
    fn answers_are_revealed_only_when_both_are_in_and_neither_is_held() {
        let mut pair = PairState::new(1, 2, 0);
        assert_eq!(
            pair.apply(Side::First, &answer("f/a", "mine", 10)),
            PairNews::Waiting
        );
        let view = pair.view("f/a", Side::Second);
        assert!(view.partner_answered);
        assert_eq!(view.theirs, None, "nothing of the first answer shows yet");
        let hold = PairChange::Hold {
            item: "f/a".to_owned(),
            held: true,
        };
        assert_eq!(pair.apply(Side::First, &hold), PairNews::Waiting);
        assert_eq!(
            pair.apply(Side::Second, &answer("f/a", "yours", 20)),
            PairNews::Held
        );
        assert_eq!(pair.view("f/a", Side::Second).theirs, None);
        let release = PairChange::Hold {
            item: "f/a".to_owned(),
            held: false,
        };
        assert_eq!(pair.apply(Side::First, &release), PairNews::Revealed);
        let view = pair.view("f/a", Side::Second);
        assert_eq!(view.theirs.map(|a| a.value.as_str()), Some("mine"));
        assert_eq!(view.revealed, Some(20));
        assert_eq!(
            pair.apply(Side::Second, &answer("f/a", "changed", 30)),
            PairNews::Refused,
            "a revealed answer stays as it was shown"
        );
    }

    #[test]
    fn a_rating_is_shared_only_while_both_choose_and_seen_only_after_giving_ones_own() {
        let mut pair = PairState::new(1, 2, 0);
        let rate = |rating, at| PairChange::Rate { rating, at };
        assert_eq!(pair.apply(Side::First, &rate(5, 10)), PairNews::Refused);
        let on = PairChange::ShareRatings { on: true };
        assert_eq!(
            pair.apply(Side::First, &on),
            PairNews::SharingRatings { both: false }
        );
        assert_eq!(
            pair.apply(Side::Second, &on),
            PairNews::SharingRatings { both: true }
        );
        assert_eq!(pair.apply(Side::First, &rate(5, 10)), PairNews::Rated);
        assert!(
            pair.partner_ratings(Side::Second).is_empty(),
            "not before rating"
        );
        assert_eq!(pair.apply(Side::Second, &rate(8, 20)), PairNews::Rated);
        assert_eq!(pair.partner_ratings(Side::Second).len(), 1);
        assert!(
            pair.partner_ratings(Side::First).is_empty(),
            "the second's later rating waits for the first's next"
        );
        assert_eq!(pair.apply(Side::First, &rate(6, 30)), PairNews::Rated);
        assert_eq!(pair.partner_ratings(Side::First)[0].rating, 8);
        let off = PairChange::ShareRatings { on: false };
        assert_eq!(pair.apply(Side::Second, &off), PairNews::RatingsStopped);
        assert!(pair.ratings.is_empty(), "stopping deletes what was shared");
    }

    #[test]
    fn news_is_told_once_an_hour_unless_the_partner_changed_something_since() {
        let mut pair = PairState::new(1, 2, 0);
        let propose = |text: &str| PairChange::Propose {
            text: text.to_owned(),
            at: 0,
        };
        assert_eq!(
            pair.apply_at(Side::First, &propose("One"), 100),
            (PairNews::Proposed { number: 1 }, true)
        );
        assert!(!pair.apply_at(Side::First, &propose("Two"), 200).1);
        assert!(!pair.apply_at(Side::First, &propose("Three"), 300).1);
        // The partner answers: told to the first, and the next news for them is told again.
        let accept = PairChange::Accept { number: 1, at: 400 };
        assert!(pair.apply_at(Side::Second, &accept, 400).1);
        assert!(pair.apply_at(Side::First, &propose("Four"), 500).1);
        // An hour on, news is told again anyway.
        assert!(!pair.apply_at(Side::First, &propose("Five"), 600).1);
        assert!(
            pair.apply_at(Side::First, &propose("Six"), 500 + NOTICE_QUIET)
                .1
        );
        // What is refused or quiet tells nothing.
        assert!(!pair.apply_at(Side::Second, &accept, 700).1);
        let withdraw = PairChange::Withdraw { number: 2, at: 800 };
        assert_eq!(
            pair.apply_at(Side::First, &withdraw, 800),
            (PairNews::Quiet, false)
        );
    }

    #[test]
    fn a_rule_is_agreed_only_by_the_other_partner() {
        let mut pair = PairState::new(1, 2, 0);
        let propose = PairChange::Propose {
            text: "No phones at dinner".to_owned(),
            at: 5,
        };
        assert_eq!(
            pair.apply(Side::First, &propose),
            PairNews::Proposed { number: 1 }
        );
        let accept = PairChange::Accept { number: 1, at: 6 };
        assert_eq!(pair.apply(Side::First, &accept), PairNews::Refused);
        assert_eq!(
            pair.apply(Side::Second, &accept),
            PairNews::Agreed { number: 1 }
        );
        assert_eq!(
            pair.apply(Side::Second, &PairChange::Withdraw { number: 1, at: 7 }),
            PairNews::Withdrawn { number: 1 }
        );
        assert!(pair.rules.is_empty());
        // The other partner is told which rule went, for a while; the one who withdrew it
        // is not.
        let gone: Vec<_> = pair
            .gone_for(Side::First, 8)
            .map(|gone| &gone.text)
            .collect();
        assert_eq!(gone, ["No phones at dinner"]);
        assert_eq!(pair.gone_for(Side::Second, 8).count(), 0);
        assert_eq!(pair.gone_for(Side::First, 7 + GONE_SHOWN).count(), 0);
        assert_eq!(
            pair.apply(Side::First, &propose),
            PairNews::Proposed { number: 2 }
        );
        // Only the one it waits for can decline it, and only while it waits.
        let decline = PairChange::Decline { number: 2, at: 9 };
        assert_eq!(pair.apply(Side::First, &decline), PairNews::Refused);
        assert_eq!(
            pair.apply(Side::Second, &decline),
            PairNews::Declined { number: 2 }
        );
        assert!(pair.rules.is_empty());
        assert!(pair.gone_for(Side::First, 10).any(|gone| gone.declined));
        assert_eq!(pair.apply(Side::Second, &decline), PairNews::Refused);
        assert_eq!(
            pair.apply(Side::First, &propose),
            PairNews::Proposed { number: 3 }
        );
    }
}
