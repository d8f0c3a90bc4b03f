//! Finds where a JSON value sits in its source text, given its JSON pointer, so that errors
//! and findings can name a line and column.
//!
//! serde_json already validated the text (and gives line/column for syntax errors), but its
//! `Value` keeps no positions. Rather than parse twice with a span-keeping parser, this walks
//! the validated text with a small scanner only when a position is needed (an error or a
//! finding), which keeps the hot path (parse, evaluate) free of span bookkeeping. It never
//! panics on any input: on text that is not valid JSON it returns `None`.

/// One step of a JSON pointer (a key is a policy string: most are stored inline).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(super::text::Text),
    Index(usize),
}

/// A JSON pointer (`/Statement/2/Action`) as a list of steps.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pointer(pub Vec<Step>);

impl Pointer {
    pub fn root() -> Self {
        Pointer(Vec::new())
    }

    /// The statement this pointer is in (`/Statement/N/...`).
    pub fn statement_index(&self) -> Option<usize> {
        match self.0.as_slice() {
            [Step::Key(k), Step::Index(i), ..] if k == "Statement" => Some(*i),
            _ => None,
        }
    }
    pub fn key(&self, k: &str) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Key(k.into()));
        Pointer(v)
    }
    pub fn index(&self, i: usize) -> Self {
        let mut v = self.0.clone();
        v.push(Step::Index(i));
        Pointer(v)
    }
}

impl std::fmt::Display for Pointer {
    /// RFC 6901 form: `/Statement/0/Condition/StringEquals/aws~1username`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.is_empty() {
            return f.write_str("/");
        }
        for s in &self.0 {
            match s {
                Step::Key(k) => write!(f, "/{}", k.replace('~', "~0").replace('/', "~1"))?,
                Step::Index(i) => write!(f, "/{i}")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column (in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

/// Position of the value that `pointer` names in `text`, or `None` if there is no such value.
pub fn locate(text: &str, pointer: &Pointer) -> Option<Position> {
    let bytes = text.as_bytes();
    let mut sc = Scanner { b: bytes, i: 0 };
    sc.ws();
    for step in &pointer.0 {
        match (step, sc.peek()?) {
            (Step::Key(k), b'{') => sc.enter_member(k)?,
            (Step::Index(n), b'[') => sc.enter_element(*n)?,
            _ => return None,
        }
    }
    Some(position_of(text, sc.i))
}

/// Converts a byte offset into a 1-based line and column.
pub fn position_of(text: &str, offset: usize) -> Position {
    let offset = offset.min(text.len());
    let before = &text.as_bytes()[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    Position { line, column }
}

struct Scanner<'a> {
    b: &'a [u8],
    i: usize,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }
    fn ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\n' | b'\r' | b'\t')) {
            self.i += 1;
        }
    }
    fn expect(&mut self, c: u8) -> Option<()> {
        self.ws();
        (self.peek()? == c).then(|| self.i += 1)
    }
    /// Reads a string literal and returns its decoded value.
    fn string(&mut self) -> Option<String> {
        self.ws();
        let start = self.i;
        self.expect(b'"')?;
        let mut escaped = false;
        loop {
            match self.peek()? {
                b'\\' => {
                    escaped = true;
                    self.i += 2
                }
                b'"' => {
                    self.i += 1;
                    break;
                }
                _ => self.i += 1,
            }
        }
        let raw = self.b.get(start..self.i)?;
        if !escaped {
            // The usual key: no escape to decode.
            return std::str::from_utf8(&raw[1..raw.len() - 1])
                .ok()
                .map(str::to_string);
        }
        serde_json::from_slice(raw).ok()
    }
    /// Skips a string literal without decoding it.
    fn skip_string(&mut self) -> Option<()> {
        self.ws();
        self.expect(b'"')?;
        loop {
            match self.peek()? {
                b'\\' => self.i += 2,
                b'"' => {
                    self.i += 1;
                    return Some(());
                }
                _ => self.i += 1,
            }
        }
    }
    /// Skips one complete value.
    fn skip_value(&mut self) -> Option<()> {
        self.ws();
        match self.peek()? {
            b'"' => self.skip_string(),
            b'{' | b'[' => {
                let mut depth = 0usize;
                loop {
                    match self.peek()? {
                        b'"' => {
                            self.skip_string()?;
                            continue;
                        }
                        b'{' | b'[' => depth += 1,
                        b'}' | b']' => {
                            depth -= 1;
                            if depth == 0 {
                                self.i += 1;
                                return Some(());
                            }
                        }
                        _ => {}
                    }
                    self.i += 1;
                }
            }
            _ => {
                while !matches!(
                    self.peek()?,
                    b',' | b'}' | b']' | b' ' | b'\n' | b'\r' | b'\t'
                ) {
                    self.i += 1;
                }
                Some(())
            }
        }
    }
    /// Positioned at `{`: moves to the value of member `key` (the last one if repeated, as
    /// serde_json keeps the last).
    fn enter_member(&mut self, key: &str) -> Option<()> {
        self.expect(b'{')?;
        let mut found = None;
        loop {
            self.ws();
            if self.peek()? == b'}' {
                break;
            }
            let k = self.string()?;
            self.expect(b':')?;
            self.ws();
            if k == key {
                found = Some(self.i);
            }
            self.skip_value()?;
            self.ws();
            if self.peek()? == b',' {
                self.i += 1;
            }
        }
        self.i = found?;
        Some(())
    }
    fn enter_element(&mut self, n: usize) -> Option<()> {
        self.expect(b'[')?;
        for _ in 0..n {
            self.skip_value()?;
            self.expect(b',')?;
        }
        self.ws();
        (self.peek()? != b']').then_some(())
    }
}

/// The positions of the values of a JSON text down to [`INDEX_DEPTH`] (`/Statement/N` and
/// one level more), found in one pass, so that placing many findings costs one scan rather
/// than one scan each (a hostile policy of 10,000 statements that each earn a finding stays
/// linear). A deeper pointer is followed from its deepest indexed ancestor, within that value
/// only. Lines and columns come from a table of line starts built in the same pass.
#[derive(Debug, Clone, Default)]
pub struct Index {
    offsets: std::collections::HashMap<String, usize>,
    /// Byte offset of each line's start, and whether the line is ASCII (column = bytes).
    lines: Vec<(usize, bool)>,
}

/// How deep the index goes: deeper than any pointer a finding names.
pub const INDEX_DEPTH: usize = 3;

impl Index {
    pub fn new(text: &str) -> Index {
        let b = text.as_bytes();
        let mut lines = vec![(0usize, true)];
        for (i, &c) in b.iter().enumerate() {
            if c == b'\n' {
                lines.push((i + 1, true));
            } else if c >= 0x80 {
                if let Some(l) = lines.last_mut() {
                    l.1 = false;
                }
            }
        }
        let mut idx = Index {
            offsets: std::collections::HashMap::new(),
            lines,
        };
        let mut sc = Scanner { b, i: 0 };
        let mut path = String::new();
        idx.walk(&mut sc, &mut path, 0);
        idx
    }

    /// Records the value at the scanner and everything in it (iteration over members and
    /// elements; recursion only as deep as the index goes, then values are skipped whole).
    fn walk(&mut self, sc: &mut Scanner<'_>, path: &mut String, depth: usize) -> Option<()> {
        sc.ws();
        let key = if path.is_empty() {
            "/".to_string()
        } else {
            path.clone()
        };
        self.offsets.entry(key).or_insert(sc.i);
        if depth >= INDEX_DEPTH {
            return sc.skip_value();
        }
        match sc.peek()? {
            b'{' => {
                sc.i += 1;
                loop {
                    sc.ws();
                    if sc.peek()? == b'}' {
                        sc.i += 1;
                        return Some(());
                    }
                    let k = sc.string()?;
                    sc.expect(b':')?;
                    let len = path.len();
                    path.push('/');
                    path.push_str(&k.replace('~', "~0").replace('/', "~1"));
                    // serde_json keeps the last of repeated keys: so does the index.
                    let key = path.clone();
                    self.offsets.remove(&key);
                    self.walk(sc, path, depth + 1)?;
                    path.truncate(len);
                    sc.ws();
                    if sc.peek()? == b',' {
                        sc.i += 1;
                    }
                }
            }
            b'[' => {
                sc.i += 1;
                let mut n = 0usize;
                loop {
                    sc.ws();
                    if sc.peek()? == b']' {
                        sc.i += 1;
                        return Some(());
                    }
                    let len = path.len();
                    path.push('/');
                    path.push_str(&n.to_string());
                    self.walk(sc, path, depth + 1)?;
                    path.truncate(len);
                    n += 1;
                    sc.ws();
                    if sc.peek()? == b',' {
                        sc.i += 1;
                    }
                }
            }
            _ => sc.skip_value(),
        }
    }

    /// The byte offset of the value at `pointer` (RFC 6901 text, `/` for the root).
    pub fn offset(&self, pointer: &str) -> Option<usize> {
        self.offsets.get(pointer).copied()
    }

    /// Line and column of a byte offset of the text the index was built from.
    pub fn position_at(&self, text: &str, offset: usize) -> Position {
        let offset = offset.min(text.len());
        let line = self
            .lines
            .partition_point(|(start, _)| *start <= offset)
            .max(1);
        let (start, ascii) = self.lines[line - 1];
        let column = if ascii {
            offset - start + 1
        } else {
            String::from_utf8_lossy(&text.as_bytes()[start..offset])
                .chars()
                .count()
                + 1
        };
        Position { line, column }
    }

    /// Line and column of the value at `pointer`.
    pub fn position(&self, text: &str, pointer: &str) -> Option<Position> {
        self.value_offset(text, pointer)
            .map(|o| self.position_at(text, o))
    }

    /// Where the value at `pointer` starts and where it ends (just past its last character).
    pub fn span(&self, text: &str, pointer: &str) -> Option<(Position, Position)> {
        let start = self.value_offset(text, pointer)?;
        let mut sc = Scanner {
            b: text.as_bytes(),
            i: start,
        };
        sc.skip_value()?;
        Some((self.position_at(text, start), self.position_at(text, sc.i)))
    }

    /// The byte offset of the value at `pointer`, indexed or found from its deepest indexed
    /// ancestor.
    fn value_offset(&self, text: &str, pointer: &str) -> Option<usize> {
        if let Some(o) = self.offset(pointer) {
            return Some(o);
        }
        // The deepest indexed ancestor, then the rest of the way within it.
        let mut cut = pointer.len();
        while let Some(i) = pointer[..cut].rfind('/') {
            let prefix = if i == 0 { "/" } else { &pointer[..i] };
            if let Some(o) = self.offset(prefix) {
                let mut sc = Scanner {
                    b: text.as_bytes(),
                    i: o,
                };
                for raw in pointer[i..].split('/').filter(|s| !s.is_empty()) {
                    let step = raw.replace("~1", "/").replace("~0", "~");
                    match (sc.peek()?, step.parse::<usize>()) {
                        (b'[', Ok(n)) => sc.enter_element(n)?,
                        (b'{', _) => sc.enter_member(&step)?,
                        _ => return None,
                    }
                    sc.ws();
                }
                return Some(sc.i);
            }
            if i == 0 {
                break;
            }
            cut = i;
        }
        None
    }
}

/// A serde_json error as kmsdoctor shows it: the message without serde's own
/// " at line L column C" (the place is given separately, in the `FILE:LINE:COL` form), and
/// the position when serde knows it.
pub fn json_error(e: &serde_json::Error) -> (String, Option<Position>) {
    let full = e.to_string();
    let message = match full.rfind(" at line ") {
        Some(i) => full[..i].to_string(),
        None => full,
    };
    let position = (e.line() > 0).then(|| Position {
        line: e.line(),
        column: e.column(),
    });
    (message, position)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n    {\"Sid\": \"a\\\"}\", \"Action\": \"kms:*\"},\n    {\n      \"Sid\": \"b\",\n      \"Action\": [\"kms:Get*\", \"kms:Put*\"]\n    }\n  ]\n}";

    #[test]
    fn finds_nested_values() {
        let p = Pointer::root()
            .key("Statement")
            .index(1)
            .key("Action")
            .index(1);
        assert_eq!(
            locate(DOC, &p),
            Some(Position {
                line: 7,
                column: 30
            })
        );
        let p = Pointer::root().key("Statement").index(0).key("Action");
        assert_eq!(
            locate(DOC, &p),
            Some(Position {
                line: 4,
                column: 31
            })
        );
        assert_eq!(
            locate(DOC, &Pointer::root()),
            Some(Position { line: 1, column: 1 })
        );
    }

    #[test]
    fn the_index_agrees_with_locate() {
        let idx = Index::new(DOC);
        for p in [
            Pointer::root(),
            Pointer::root().key("Statement"),
            Pointer::root().key("Statement").index(0).key("Sid"),
            Pointer::root()
                .key("Statement")
                .index(1)
                .key("Action")
                .index(1),
        ] {
            assert_eq!(idx.position(DOC, &p.to_string()), locate(DOC, &p), "{p}");
        }
        assert_eq!(idx.position(DOC, "/Nope"), None);
        assert_eq!(idx.position(DOC, "/Statement/1/Action/5"), None);
        let deep = "{\"a\": {\"b\": {\"c\": {\"d\": [1, {\"e/f\": 2}]}}}}";
        let i = Index::new(deep);
        let p = Pointer::root()
            .key("a")
            .key("b")
            .key("c")
            .key("d")
            .index(1)
            .key("e/f");
        assert_eq!(i.position(deep, &p.to_string()), locate(deep, &p));
        assert!(i.position(deep, &p.to_string()).is_some());
        let text = "{\"a\": \"é\", \"b\": 1}";
        let i = Index::new(text);
        assert_eq!(
            i.position(text, "/b"),
            locate(text, &Pointer::root().key("b"))
        );
    }

    #[test]
    fn missing_paths_and_garbage_give_none() {
        assert_eq!(locate(DOC, &Pointer::root().key("Nope")), None);
        assert_eq!(
            locate(DOC, &Pointer::root().key("Statement").index(5)),
            None
        );
        assert_eq!(
            locate("{\"a\": [1, 2", &Pointer::root().key("a").index(3)),
            None
        );
        assert_eq!(locate("", &Pointer::root().key("a")), None);
        assert_eq!(locate("{\"a\": \"\\", &Pointer::root().key("b")), None);
    }

    #[test]
    fn pointer_display_escapes() {
        let p = Pointer::root().key("Condition").key("a/b~c").index(0);
        assert_eq!(p.to_string(), "/Condition/a~1b~0c/0");
    }
}
