//! No import circles between the top-level modules of `src/`: a module
//! (`src/NAME.rs` or `src/NAME/`) that uses another, directly or through
//! others, is not used back by it, so each can be read, tested and changed
//! knowing only what it stands on.
//!
//! The graph is read from the sources themselves: every `crate::NAME` path
//! (and `super::` path that climbs to the crate root), outside comments and
//! string literals, in every file under `src/`, test modules included.
//!
//! A circle not yet taken apart is listed in [`ALLOWED`] by the use that
//! closes it, and the list only shrinks: a new circle fails, and so does an
//! entry whose circle is gone.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Uses that close a circle still standing, as (user, used) (e.g.
/// `("device", "baseline")`: device uses baseline, which reaches device),
/// each with a comment saying why it stands. Empty: no circle stands.
const ALLOWED: &[(&str, &str)] = &[];

/// Who uses whom: user → used → where (`src/...:line`) it first does.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn top_level_modules_import_no_circle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = read_graph(&src);
    let mut problems = Vec::new();

    let mut rest = graph.clone();
    for &(user, used) in ALLOWED {
        match graph.get(user).and_then(|uses| uses.get(used)) {
            None => problems.push(format!(
                "{user} no longer uses {used}: take ({user:?}, {used:?}) out of ALLOWED"
            )),
            Some(_) if path(&graph, used, user).is_none() => problems.push(format!(
                "{user} -> {used} closes no circle any more: take ({user:?}, {used:?}) out of ALLOWED"
            )),
            Some(_) => {
                if let Some(uses) = rest.get_mut(user) {
                    uses.remove(used);
                }
            }
        }
    }
    let mut seen = BTreeSet::new();
    for (user, uses) in &rest {
        for used in uses.keys() {
            if let Some(back) = path(&rest, used, user) {
                let mut circle = vec![user.clone()];
                circle.extend(back);
                let key: BTreeSet<_> = circle.iter().cloned().collect();
                if seen.insert(key) {
                    problems.push(describe(&rest, &circle));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The circle `a -> b -> ... -> a`, each use with where it is.
fn describe(graph: &Graph, circle: &[String]) -> String {
    let mut text = format!("import circle: {}", circle.join(" -> "));
    for step in circle.windows(2) {
        let at = &graph[&step[0]][&step[1]];
        let _ = write!(text, "\n    {} -> {} at {at}", step[0], step[1]);
    }
    text
}

/// The shortest chain of uses from `from` to `to` (both included), if any.
fn path(graph: &Graph, from: &str, to: &str) -> Option<Vec<String>> {
    let mut came_from: BTreeMap<&str, &str> = BTreeMap::new();
    let mut queue = std::collections::VecDeque::from([from]);
    let mut visited = BTreeSet::from([from]);
    while let Some(at) = queue.pop_front() {
        if at == to {
            let mut chain = vec![to.to_owned()];
            let mut step = to;
            while step != from {
                step = came_from[step];
                chain.push(step.to_owned());
            }
            chain.reverse();
            return Some(chain);
        }
        for next in graph.get(at).into_iter().flat_map(BTreeMap::keys) {
            if visited.insert(next) {
                came_from.insert(next, at);
                queue.push_back(next);
            }
        }
    }
    None
}

/// The uses between top-level modules of the crate rooted at `src`.
fn read_graph(src: &Path) -> Graph {
    let modules: BTreeSet<String> = std::fs::read_dir(src)
        .expect("src/ lists")
        .map(|entry| entry.expect("src/ lists").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            if path.is_dir() {
                // src/bin/ holds binaries, which use the crate by its name.
                (name != "bin").then(|| name.to_owned())
            } else {
                let stem = name.strip_suffix(".rs")?;
                (stem != "lib" && stem != "main").then(|| stem.to_owned())
            }
        })
        .collect();
    assert!(modules.len() > 5, "found the modules of {}", src.display());

    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src/");
        let parts: Vec<&str> = relative
            .iter()
            .map(|p| p.to_str().expect("UTF-8"))
            .collect();
        let top = parts[0].strip_suffix(".rs").unwrap_or(parts[0]);
        if !modules.contains(top) {
            continue;
        }
        // How many `super::` climb from this file's module to the crate root.
        let depth = parts.len() - usize::from(parts.last() == Some(&"mod.rs"));
        let text = std::fs::read_to_string(&file).expect("source reads");
        let shown = format!("src/{}", parts.join("/"));
        for (used, line) in crate_uses(&code_only(&text), depth) {
            if used != top && modules.contains(&used) {
                graph
                    .entry(top.to_owned())
                    .or_default()
                    .entry(used)
                    .or_insert_with(|| format!("{shown}:{line}"));
            }
        }
    }
    graph
}

/// Every `.rs` file under `dir`, in a stable order.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("directory lists")
        .map(|entry| entry.expect("directory lists").path())
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

/// `text` with comments, string and character literals blanked out (line
/// breaks kept, so line numbers hold).
fn code_only(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let blank = |c: char| if c == '\n' { '\n' } else { ' ' };
    let word = |c: char| c.is_alphanumeric() || c == '_';
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let after_word = i > 0 && word(chars[i - 1]);
        let mut end = i + 1;
        if c == '/' && next == Some('/') {
            end = chars[i..]
                .iter()
                .position(|&c| c == '\n')
                .map_or(chars.len(), |n| i + n);
        } else if c == '/' && next == Some('*') {
            let mut nesting = 0;
            end = i;
            while end < chars.len() {
                if chars[end] == '/' && chars.get(end + 1) == Some(&'*') {
                    nesting += 1;
                    end += 2;
                } else if chars[end] == '*' && chars.get(end + 1) == Some(&'/') {
                    nesting -= 1;
                    end += 2;
                    if nesting == 0 {
                        break;
                    }
                } else {
                    end += 1;
                }
            }
        } else if (c == 'r' || (c == 'b' && next == Some('r'))) && !after_word {
            // A raw string: r"..." or r#"..."#, maybe with a leading b.
            let start = i + if c == 'b' { 2 } else { 1 };
            let hashes = chars[start..].iter().take_while(|&&c| c == '#').count();
            if chars.get(start + hashes) == Some(&'"') {
                let close: Vec<char> = std::iter::once('"')
                    .chain(std::iter::repeat_n('#', hashes))
                    .collect();
                let body = start + hashes + 1;
                end = (body..chars.len())
                    .find(|&at| chars[at..].starts_with(&close))
                    .map_or(chars.len(), |at| at + close.len());
            }
        } else if c == '"' {
            end = i + 1;
            while end < chars.len() && chars[end] != '"' {
                end += if chars[end] == '\\' { 2 } else { 1 };
            }
            end = (end + 1).min(chars.len());
        } else if c == '\'' {
            // A character literal; a lifetime or label has no closing quote.
            if next == Some('\\') {
                end = (i + 2..chars.len())
                    .find(|&at| chars[at] == '\'')
                    .map_or(chars.len(), |at| at + 1);
            } else if chars.get(i + 2) == Some(&'\'') {
                end = i + 3;
            }
        }
        if end == i + 1 {
            out.push(c);
        } else {
            out.extend(chars[i..end].iter().map(|&c| blank(c)));
        }
        i = end;
    }
    out
}

/// The top-level modules named by `crate::` paths (and `super::` paths that
/// reach the crate root) in `code`, with their line numbers; `depth` is how
/// many `super::` climb from the file's module to the crate root.
fn crate_uses(code: &str, depth: usize) -> Vec<(String, usize)> {
    #[derive(PartialEq)]
    enum Token {
        Word(String),
        PathSep,
        Open,
        Close,
        Comma,
        Other,
    }
    let mut tokens = Vec::new();
    let chars: Vec<char> = code.chars().collect();
    let mut line = 1;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_alphanumeric() || c == '_' {
            let start = i;
            while i < chars.len() && (chars[i].is_alphanumeric() || chars[i] == '_') {
                i += 1;
            }
            tokens.push((Token::Word(chars[start..i].iter().collect()), line));
            continue;
        }
        let token = match c {
            ':' if chars.get(i + 1) == Some(&':') => {
                i += 1;
                Token::PathSep
            }
            '{' => Token::Open,
            '}' => Token::Close,
            ',' => Token::Comma,
            '\n' => {
                line += 1;
                i += 1;
                continue;
            }
            c if c.is_whitespace() => {
                i += 1;
                continue;
            }
            _ => Token::Other,
        };
        tokens.push((token, line));
        i += 1;
    }

    let word =
        |at: usize, text: &str| matches!(tokens.get(at), Some((Token::Word(w), _)) if w == text);
    let mut uses = Vec::new();
    let mut braces = 0usize;
    // Brace depths at which inline `mod name {` blocks opened.
    let mut inline_modules: Vec<usize> = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        let (token, line) = &tokens[at];
        match token {
            Token::Open => {
                braces += 1;
                if at >= 2 && word(at - 2, "mod") {
                    inline_modules.push(braces);
                }
            }
            Token::Close => {
                if inline_modules.last() == Some(&braces) {
                    inline_modules.pop();
                }
                braces = braces.saturating_sub(1);
            }
            Token::Word(w) if at == 0 || tokens[at - 1].0 != Token::PathSep => {
                // Where a path starting here lands: after `crate::`, or after
                // enough `super::` to reach the root.
                let mut root = None;
                if w == "crate" && tokens.get(at + 1).map(|t| &t.0) == Some(&Token::PathSep) {
                    root = Some(at + 2);
                } else if w == "super" {
                    let mut climbs = 0;
                    let mut next = at;
                    while word(next, "super")
                        && tokens.get(next + 1).map(|t| &t.0) == Some(&Token::PathSep)
                    {
                        climbs += 1;
                        next += 2;
                    }
                    if climbs >= depth + inline_modules.len() {
                        root = Some(next);
                    }
                }
                match root.and_then(|r| tokens.get(r).map(|t| (r, &t.0))) {
                    Some((_, Token::Word(name))) => uses.push((name.clone(), *line)),
                    Some((open, Token::Open)) => {
                        // `crate::{a, b::c, d::{e, f}}`: the first word of
                        // each item at the group's own level.
                        let mut nesting = 0;
                        let mut item_start = true;
                        for (token, line) in &tokens[open..] {
                            match token {
                                Token::Open => nesting += 1,
                                Token::Close => {
                                    nesting -= 1;
                                    if nesting == 0 {
                                        break;
                                    }
                                }
                                Token::Comma if nesting == 1 => item_start = true,
                                Token::Word(name) if nesting == 1 && item_start => {
                                    uses.push((name.clone(), *line));
                                    item_start = false;
                                }
                                _ if nesting == 1 => item_start = false,
                                _ => {}
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        at += 1;
    }
    uses
}

#[test]
fn the_reader_sees_paths_and_not_their_look_alikes() {
    let code = code_only(
        r##"
use crate::alpha::X;
use crate::{beta, gamma::{Y, Z}, self as me};
// crate::commented
/* crate::blocked /* crate::nested */ */
let s = "crate::quoted \" crate::escaped";
let r = r#"crate::raw"#;
let c = '"'; let l: &'static str = crate::delta::NAME;
fn f() { super::epsilon::g(); }
mod tests { fn t() { super::zeta::h(); super::super::eta::i(); } }
"##,
    );
    let names: Vec<String> = crate_uses(&code, 1).into_iter().map(|(n, _)| n).collect();
    assert_eq!(
        names,
        ["alpha", "beta", "gamma", "self", "delta", "epsilon", "eta"]
    );
}
