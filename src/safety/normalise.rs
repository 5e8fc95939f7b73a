//! The text as both layers of the crisis screen read it: lowercase, apostrophes and invisible
//! characters removed, long runs of one letter cut, everything else one space.

/// The text as patterns see it: lowercase; apostrophes (straight or curly), zero-width and
/// direction marks and combining accents removed, so "don’t" reads "dont"; three or more of the
/// same letter in a row cut to one ("diiie" reads "die"); every other run of characters that are
/// not letters or digits (spaces, punctuation, emoji, control characters) made one space; no
/// space at either end.
pub fn normalise(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    // The last letter written and how many times in a row it was seen.
    let mut run: Option<(char, usize)> = None;
    for c in text.chars().flat_map(char::to_lowercase) {
        if is_removed(c) {
            continue;
        }
        if !c.is_alphanumeric() {
            space = !out.is_empty();
            run = None;
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        match run {
            Some((last, count)) if last == c && c.is_alphabetic() => {
                run = Some((c, count + 1));
                if count + 1 == 3 {
                    // "iii": drop the two already written, keep one.
                    out.pop();
                } else if count + 1 > 3 {
                    continue;
                } else {
                    out.push(c);
                }
            }
            _ => {
                run = Some((c, 1));
                out.push(c);
            }
        }
    }
    out
}

/// Characters that vanish without leaving a space: apostrophes, invisible formatting and
/// combining accents.
pub(crate) fn is_removed(c: char) -> bool {
    matches!(
        c,
        '\'' | '`' | '\u{b4}' | '\u{2018}' | '\u{2019}' | '\u{201b}' | '\u{2032}' | '\u{2bc}'
            | '\u{ff07}'
            | '\u{ad}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
            | '\u{300}'..='\u{36f}'
            | '\u{fe00}'..='\u{fe0f}'
    )
}
