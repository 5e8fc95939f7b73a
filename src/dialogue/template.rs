//! Message text with `{answer}` placeholders: parsing once at load time, rendering per reply.
//! Pure: no I/O.

/// A piece of parsed text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Piece {
    Literal(String),
    Answer(String),
}

/// Text parsed into literal pieces and answer placeholders.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Template {
    pieces: Vec<Piece>,
}

/// What is wrong with a text's placeholders, and where (a byte offset into the text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

/// Shown in place of an answer that is not (or no longer) saved.
pub(crate) const MISSING_ANSWER: &str = "…";

impl Template {
    /// Parses `{name}` placeholders; `{{` and `}}` stand for literal braces.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let mut pieces = Vec::new();
        let mut literal = String::new();
        let mut chars = text.char_indices().peekable();
        while let Some((offset, c)) = chars.next() {
            match c {
                '{' if chars.peek().map(|(_, next)| *next) == Some('{') => {
                    chars.next();
                    literal.push('{');
                }
                '}' if chars.peek().map(|(_, next)| *next) == Some('}') => {
                    chars.next();
                    literal.push('}');
                }
                '{' => {
                    let rest = &text[offset + 1..];
                    let Some(close) = rest.find('}') else {
                        return Err(TemplateError {
                            offset,
                            message: "a `{` opens a placeholder that is never closed".to_owned(),
                        });
                    };
                    let name = &rest[..close];
                    if !is_answer_name(name.strip_prefix(PARTNER_PREFIX).unwrap_or(name)) {
                        return Err(TemplateError {
                            offset,
                            message: format!(
                                "\"{{{name}}}\" is not a placeholder: use lowercase letters, digits and `_` inside the braces (`partner.` before a shared answer's name), or write `{{{{` for a brace"
                            ),
                        });
                    }
                    if !literal.is_empty() {
                        pieces.push(Piece::Literal(std::mem::take(&mut literal)));
                    }
                    pieces.push(Piece::Answer(name.to_owned()));
                    // Skip the name and the closing brace.
                    for _ in 0..name.chars().count() + 1 {
                        chars.next();
                    }
                }
                '}' => {
                    return Err(TemplateError {
                        offset,
                        message: "a `}` closes nothing: write `}}` for a literal brace".to_owned(),
                    });
                }
                other => literal.push(other),
            }
        }
        if !literal.is_empty() {
            pieces.push(Piece::Literal(literal));
        }
        Ok(Template { pieces })
    }

    /// Text with no placeholders at all.
    pub fn literal(text: &str) -> Template {
        Template {
            pieces: vec![Piece::Literal(text.to_owned())],
        }
    }

    /// The answer names this text refers to, in order.
    pub(crate) fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|piece| match piece {
            Piece::Answer(name) => Some(name.as_str()),
            Piece::Literal(_) => None,
        })
    }

    /// Fills the placeholders from `answer`.
    pub fn render<'a>(&self, answer: impl Fn(&str) -> Option<&'a str>) -> String {
        let mut out = String::new();
        for piece in &self.pieces {
            match piece {
                Piece::Literal(text) => out.push_str(text),
                Piece::Answer(name) => out.push_str(answer(name).unwrap_or(MISSING_ANSWER)),
            }
        }
        out
    }

    /// The longest the rendered text can be, in characters, given the longest each answer
    /// can be.
    pub(crate) fn worst_case_length(&self, longest_answer: impl Fn(&str) -> usize) -> usize {
        self.pieces
            .iter()
            .map(|piece| match piece {
                Piece::Literal(text) => text.chars().count(),
                Piece::Answer(name) => longest_answer(name).max(MISSING_ANSWER.len()),
            })
            .sum()
    }
}

/// Whether `name` is a valid answer name: lowercase ASCII letters, digits and `_`.
pub(crate) fn is_answer_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Before an answer's name, names the partner's answer to a shared question (couples mode):
/// `{partner.need}`.
pub(crate) const PARTNER_PREFIX: &str = "partner.";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_filled_and_double_braces_are_literal() {
        let template = Template::parse("Hi {name}, {{braces}} stay.").unwrap();
        assert_eq!(template.placeholders().collect::<Vec<_>>(), ["name"]);
        let rendered = template.render(|name| (name == "name").then_some("Ana"));
        assert_eq!(rendered, "Hi Ana, {braces} stay.");
    }

    #[test]
    fn a_missing_answer_renders_as_an_ellipsis() {
        let template = Template::parse("You said: {gone}").unwrap();
        assert_eq!(template.render(|_| None), "You said: …");
    }

    #[test]
    fn unclosed_and_invalid_placeholders_are_errors_with_offsets() {
        let unclosed = Template::parse("ab {name").unwrap_err();
        assert_eq!(unclosed.offset, 3);
        let invalid = Template::parse("a {Bad Name}").unwrap_err();
        assert_eq!(invalid.offset, 2);
        let stray = Template::parse("a } b").unwrap_err();
        assert_eq!(stray.offset, 2);
    }

    #[test]
    fn worst_case_length_counts_answers_at_their_limit() {
        let template = Template::parse("ab{x}c").unwrap();
        assert_eq!(template.worst_case_length(|_| 10), 13);
    }

    #[test]
    fn non_ascii_text_survives_parsing() {
        let template = Template::parse("Grüße {name} 🌱").unwrap();
        assert_eq!(template.render(|_| Some("Zoë")), "Grüße Zoë 🌱");
    }
}
