//! No import circles between the top-level modules of `src/`, nor between
//! the submodules of one: a module (`src/NAME.rs` or `src/NAME/`, and
//! `src/NAME/SUB.rs` or `src/NAME/SUB/` among its siblings) that uses
//! another, directly or through others, is not used back by it, so each can
//! be read, tested and changed knowing only what it stands on.
//!
//! The graph is read from the sources themselves: every `crate::`, `super::`
//! and `self::` path, outside comments and string literals, in every file
//! under `src/`, test modules included. A use through a re-export counts
//! where the re-export is, not where the item lives.
//!
//! A circle not yet taken apart is listed in [`ALLOWED`] by the use that
//! closes it, and the list only shrinks: a new circle fails, and so does an
//! entry whose circle is gone.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    reason = "a test fails by panicking"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Uses that close a circle still standing, as (user, used) (e.g.
/// `("device", "baseline")`: device uses baseline, which reaches device; or
/// `("pipeline::merge", "pipeline::dispatch")`), each with a comment saying
/// why it stands. Empty: no circle stands.
const ALLOWED: &[(&str, &str)] = &[];

/// Who uses whom: user → used → where (`src/...:line`) it first does.
type Graph = BTreeMap<String, BTreeMap<String, String>>;

#[test]
fn modules_import_no_circle() {
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

/// The uses between the modules of the crate rooted at `src`: its top-level
/// modules (`device`), and the submodules of each among themselves
/// (`pipeline::merge`).
fn read_graph(src: &Path) -> Graph {
    let modules = children(src);
    assert!(modules.len() > 5, "found the modules of {}", src.display());
    let submodules: BTreeMap<&String, BTreeSet<String>> = modules
        .iter()
        .map(|top| (top, children(&src.join(top))))
        .collect();

    let mut graph = Graph::new();
    for file in rust_files(src) {
        let relative = file.strip_prefix(src).expect("under src/");
        let mut module: Vec<String> = relative
            .iter()
            .map(|p| {
                p.to_str()
                    .expect("UTF-8")
                    .trim_end_matches(".rs")
                    .to_owned()
            })
            .collect();
        if module.last().is_some_and(|m| m == "mod") {
            module.pop();
        }
        if !modules.contains(&module[0]) {
            continue;
        }
        let text = std::fs::read_to_string(&file).expect("source reads");
        let shown = format!("src/{}", relative.display());
        for (used, line) in module_paths(&code_only(&text), &module) {
            let (user, used) = if used[0] != module[0] {
                if !modules.contains(&used[0]) {
                    continue;
                }
                (module[0].clone(), used[0].clone())
            } else if module.len() > 1
                && used.len() > 1
                && used[1] != module[1]
                && submodules[&module[0]].contains(&used[1])
            {
                (
                    format!("{}::{}", module[0], module[1]),
                    format!("{}::{}", used[0], used[1]),
                )
            } else {
                continue;
            };
            graph
                .entry(user)
                .or_default()
                .entry(used)
                .or_insert_with(|| format!("{shown}:{line}"));
        }
    }
    graph
}

/// The modules in `dir`: its `NAME.rs` files and its directories, but
/// `lib.rs`, `main.rs`, `mod.rs` and `bin/` (whose binaries use the crate by
/// its name).
fn children(dir: &Path) -> BTreeSet<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return BTreeSet::new();
    };
    entries
        .map(|entry| entry.expect("directory lists").path())
        .filter_map(|path| {
            let name = path.file_name()?.to_str()?;
            if path.is_dir() {
                (name != "bin").then(|| name.to_owned())
            } else {
                let stem = name.strip_suffix(".rs")?;
                (!["lib", "main", "mod"].contains(&stem)).then(|| stem.to_owned())
            }
        })
        .collect()
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

/// The modules that `crate::`, `super::` and `self::` paths in `code` name,
/// from the crate root and at most two deep (`["pipeline", "merge"]`), with
/// their line numbers; `module` is the file's own module path.
fn module_paths(code: &str, module: &[String]) -> Vec<(Vec<String>, usize)> {
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

    let is = |at: usize, token: &Token| tokens.get(at).is_some_and(|(t, _)| t == token);
    let word = |at: usize, text: &str| is(at, &Token::Word(text.to_owned()));
    let mut paths = Vec::new();
    let mut braces = 0usize;
    // Inline `mod name {` blocks open here, with the brace depth inside each.
    let mut inline: Vec<(usize, String)> = Vec::new();
    let mut at = 0;
    while at < tokens.len() {
        match &tokens[at].0 {
            Token::Open => {
                braces += 1;
                if at >= 2
                    && word(at - 2, "mod")
                    && let Token::Word(name) = &tokens[at - 1].0
                {
                    inline.push((braces, name.clone()));
                }
            }
            Token::Close => {
                if inline.last().is_some_and(|(depth, _)| *depth == braces) {
                    inline.pop();
                }
                braces = braces.saturating_sub(1);
            }
            Token::Word(w) if at == 0 || !is(at - 1, &Token::PathSep) => {
                let here: Vec<String> = module
                    .iter()
                    .cloned()
                    .chain(inline.iter().map(|(_, name)| name.clone()))
                    .collect();
                // Where the path starts from, and its first segment after that.
                let start = if w == "crate" && is(at + 1, &Token::PathSep) {
                    Some((Vec::new(), at + 2))
                } else if w == "self" && is(at + 1, &Token::PathSep) {
                    Some((here, at + 2))
                } else if w == "super" {
                    let mut climbs = 0;
                    let mut next = at;
                    while word(next, "super") && is(next + 1, &Token::PathSep) {
                        climbs += 1;
                        next += 2;
                    }
                    (climbs <= here.len()).then(|| (here[..here.len() - climbs].to_vec(), next))
                } else {
                    None
                };
                if let Some((base, from)) = start {
                    collect(&tokens, from, base, &mut paths);
                }
            }
            _ => {}
        }
        at += 1;
    }
    paths
}

#[derive(PartialEq)]
enum Token {
    Word(String),
    PathSep,
    Open,
    Close,
    Comma,
    Other,
}

/// The paths that start at `tokens[at]` under `prefix`, cut to two segments:
/// one for `a::b::c`, one per item for `a::{b, c::{d, e}}`.
fn collect(
    tokens: &[(Token, usize)],
    mut at: usize,
    mut path: Vec<String>,
    out: &mut Vec<(Vec<String>, usize)>,
) {
    let mut line = tokens.get(at).map_or(0, |(_, line)| *line);
    while let Some((token, at_line)) = tokens.get(at) {
        match token {
            Token::Word(name) => {
                path.push(name.clone());
                line = *at_line;
                if tokens
                    .get(at + 1)
                    .is_some_and(|(t, _)| *t == Token::PathSep)
                {
                    at += 2;
                    continue;
                }
            }
            Token::Open => {
                let mut nesting = 0;
                for (offset, (token, _)) in tokens[at..].iter().enumerate() {
                    match token {
                        Token::Open => {
                            nesting += 1;
                            if nesting == 1 {
                                collect(tokens, at + offset + 1, path.clone(), out);
                            }
                        }
                        Token::Close => {
                            nesting -= 1;
                            if nesting == 0 {
                                break;
                            }
                        }
                        Token::Comma if nesting == 1 => {
                            collect(tokens, at + offset + 1, path.clone(), out);
                        }
                        _ => {}
                    }
                }
                return;
            }
            _ => {}
        }
        break;
    }
    if !path.is_empty() {
        path.truncate(2);
        out.push((path, line));
    }
}

#[test]
fn the_reader_sees_paths_and_not_their_look_alikes() {
    let code = code_only(
        r##"
use crate::alpha::X;
use crate::{beta, gamma::{Y, Z}};
// crate::commented
/* crate::blocked /* crate::nested */ */
let s = "crate::quoted \" crate::escaped";
let r = r#"crate::raw"#;
let c = '"'; let l: &'static str = crate::delta::NAME;
fn f() { super::epsilon::g(); self::theta(); }
mod tests { fn t() { super::zeta::h(); super::super::eta::i(); } }
"##,
    );
    let module = ["here".to_owned(), "inner".to_owned()];
    let paths: Vec<String> = module_paths(&code, &module)
        .into_iter()
        .map(|(path, _)| path.join("::"))
        .collect();
    assert_eq!(
        paths,
        [
            "alpha::X",
            "beta",
            "gamma::Y",
            "gamma::Z",
            "delta::NAME",
            "here::epsilon",
            "here::inner",
            "here::inner",
            "here::eta",
        ]
    );
}

/// Every `pub const MAX_*` of the crate, as `module::path::NAME`, from the
/// sources (outside inline test modules).
fn limits(src: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut files = Vec::new();
    collect_rs(src, &mut files);
    for file in files {
        let rel = file.strip_prefix(src).expect("under src");
        let mut parts: Vec<String> = rel
            .with_extension("")
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect();
        if parts.last().is_some_and(|p| p == "mod" || p == "lib") {
            parts.pop();
        }
        let module = parts.join("::");
        let text = std::fs::read_to_string(&file).expect("source");
        let lines: Vec<&str> = text.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            // An inline test module ends what is the crate's own.
            if line.starts_with("#[cfg(test)]")
                && lines
                    .get(i + 1)
                    .is_some_and(|l| l.trim_end().ends_with('{'))
            {
                break;
            }
            if let Some(rest) = line.strip_prefix("pub const MAX_") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                    .collect();
                found.insert(format!("{module}::MAX_{name}"));
            }
        }
    }
    found
}

fn collect_rs(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("directory").flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_rs(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs")
            && !path
                .file_stem()
                .is_some_and(|s| s.to_string_lossy().ends_with("tests"))
        {
            out.push(path);
        }
    }
}

#[test]
fn architecture_md_lists_every_limit() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let in_code = limits(&root.join("src"));
    assert!(in_code.len() > 100, "{in_code:?}");
    let doc = std::fs::read_to_string(root.join("ARCHITECTURE.md")).expect("ARCHITECTURE.md");
    // The first column of the limits' table rows: | `module::MAX_NAME` | …
    let in_doc: BTreeSet<String> = doc
        .lines()
        .filter_map(|l| l.strip_prefix("| `"))
        .filter_map(|l| l.split('`').next())
        .filter(|w| w.contains("::MAX_"))
        .map(str::to_owned)
        .collect();
    let missing: Vec<&String> = in_code.difference(&in_doc).collect();
    let stale: Vec<&String> = in_doc.difference(&in_code).collect();
    assert!(
        missing.is_empty() && stale.is_empty(),
        "ARCHITECTURE.md's limits: missing {missing:?}; no such constant {stale:?}"
    );
}
