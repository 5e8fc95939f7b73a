//! Words about checking: a message that speaks of a partner looking at phones, screens or
//! messages and of nothing more. After an affair the hurt partner's checking is expected, so
//! from the partner who broke trust such a message is no sign of abuse by itself; fear,
//! threats, force or other control in the same message still are.

/// What can be checked.
const CHECKED: &[&str] = &[
    "phone",
    "phones",
    "laptop",
    "computer",
    "screen",
    "screens",
    "messages",
    "texts",
    "emails",
    "email",
    "inbox",
    "location",
    "whatsapp",
    "instagram",
    "facebook",
    "snapchat",
    "accounts",
    "passwords",
    "password",
    "browser",
    "history",
    "chats",
    "dms",
    "slack",
    "teams",
    "calls",
    "receipts",
    "statements",
    "car",
    "wallet",
    "tracker",
];

/// Words that make it more than checking: fear, threats, force, other control.
const MORE_THAN_CHECKING: &[&str] = &[
    "afraid",
    "scared",
    "scares",
    "scare",
    "fear",
    "frightened",
    "frightens",
    "terrified",
    "threat",
    "threats",
    "threaten",
    "threatens",
    "threatened",
    "hit",
    "hits",
    "hitting",
    "push",
    "pushed",
    "pushes",
    "shove",
    "shoved",
    "grab",
    "grabbed",
    "choke",
    "choked",
    "force",
    "forced",
    "forces",
    "allowed",
    "allow",
    "let",
    "lock",
    "locked",
    "locks",
    "money",
    "isolate",
    "isolated",
    "isolates",
    "control",
    "controls",
    "controlling",
    "controlled",
    "yell",
    "yells",
    "scream",
    "screams",
    "screaming",
    "kill",
    "weapon",
    "gun",
    "knife",
    "smash",
    "smashed",
    "punch",
    "punched",
    "slap",
    "slapped",
    "kick",
    "kicked",
    "hurt",
    "hurts",
    "hurting",
    "unsafe",
    "safe",
    "danger",
    "dangerous",
    "abuse",
    "abusive",
    "abuses",
    "violent",
    "violence",
    "stalk",
    "stalks",
    "stalking",
    "spy",
    "spies",
    "spying",
    "punish",
    "punishes",
    "takes",
    "took",
    "break",
    "broke",
    "smashes",
    "destroys",
    "destroyed",
];

/// Whose things a checked thing is said to be when it is the partner's.
const PARTNERS: &[&str] = &[
    "his",
    "her",
    "their",
    "partners",
    "husbands",
    "wifes",
    "boyfriends",
    "girlfriends",
];

fn words_of(text: &str) -> Vec<String> {
    super::normalise(text)
        .split(' ')
        .filter(|word| !word.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Whether `text` speaks of checking (something in [`CHECKED`]) and of nothing in
/// [`MORE_THAN_CHECKING`].
pub fn about_checking_only(text: &str) -> bool {
    let words = words_of(text);
    let checked = words.iter().any(|word| CHECKED.contains(&word.as_str()));
    let more = words
        .iter()
        .any(|word| MORE_THAN_CHECKING.contains(&word.as_str()));
    checked && !more
}

/// Whether `text` is about the writer checking the partner's things ("grabbing his phone
/// again at 2am"), and nothing more: only the partner's things are named, never "my".
pub fn checking_the_partners_things(text: &str) -> bool {
    let words = words_of(text);
    let owners: Vec<&str> = words
        .windows(2)
        .filter(|pair| CHECKED.contains(&pair[1].as_str()))
        .map(|pair| pair[0].as_str())
        .collect();
    about_checking_only(text)
        && !owners.is_empty()
        && owners.iter().all(|owner| PARTNERS.contains(owner))
}

#[cfg(test)]
mod tests {
    use super::about_checking_only;

    #[test]
    fn checking_alone_is_told_from_checking_with_fear_or_force() {
        assert!(about_checking_only("she goes through my phone at night"));
        assert!(about_checking_only(
            "priya's name shows up in slack and my wife can see my laptop"
        ));
        assert!(!about_checking_only(
            "she goes through my phone and i'm scared of what she'll do"
        ));
        assert!(!about_checking_only(
            "he checks my phone and won't let me see my friends"
        ));
        assert!(!about_checking_only("he took my phone and smashed it"));
        assert!(!about_checking_only("she yells at me every night"));
    }

    #[test]
    fn checking_the_partners_things_is_told_from_being_checked() {
        use super::checking_the_partners_things as theirs;
        assert!(theirs("i keep grabbing his phone when he's asleep"));
        assert!(theirs("went through her messages again last night"));
        assert!(!theirs("he goes through my phone every night"));
        assert!(!theirs("i took his phone and he grabbed my laptop"));
        assert!(!theirs("i check his phone because i'm scared of him"));
    }
}
