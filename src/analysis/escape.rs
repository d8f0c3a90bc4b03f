//! Text from input made safe for a terminal: C0 and C1 control characters, DEL and the
//! Unicode bidirectional controls become visible escapes (`\u{1b}`), so that a Sid, a
//! principal or an event id can neither clear the screen, set the window title, draw a fake
//! coloured line, nor reorder what is shown. Every table renderer passes input text through
//! [`visible`]; JSON output is escaped by serde and needs nothing more.

/// The bidirectional formatting characters (Unicode: ALM, LRM, RLM, LRE..RLO, LRI..PDI).
pub fn is_bidi(c: char) -> bool {
    matches!(c, '\u{061c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn is_unsafe(c: char) -> bool {
    c.is_control() || is_bidi(c)
}

/// `s` with every control or bidirectional character written as `\u{XXXX}`; borrowed when
/// there is none (the usual case costs no allocation).
pub fn visible(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return std::borrow::Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if is_unsafe(c) {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        } else {
            out.push(c);
        }
    }
    std::borrow::Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_become_visible() {
        assert_eq!(visible("Admin"), "Admin");
        assert_eq!(visible("a\u{1b}]0;pwned\u{7}b"), "a\\u{1b}]0;pwned\\u{7}b");
        assert_eq!(visible("x\ny"), "x\\u{a}y");
        assert_eq!(visible("\u{9b}31m"), "\\u{9b}31m");
        assert_eq!(visible("\u{7f}"), "\\u{7f}");
        assert_eq!(visible("abc\u{202e}fed"), "abc\\u{202e}fed");
    }
}
