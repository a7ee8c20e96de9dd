//! Paths on the wire (files.md, "Paths and the disk"): relative, UTF-8,
//! `/`-separated, and refused with a clear reason, never followed, when
//! they could leave their root or could not be written on every platform
//! a peer may run.
//!
//! What is checked here is the name alone. Whether the disk agrees (a
//! symlink that leads out, a device, a FIFO) is the agent's to check when it
//! opens the file beneath its root.

use std::collections::HashMap;
use std::fmt;

/// Longest component, in bytes (what common file systems allow).
pub const MAX_COMPONENT_BYTES: usize = 255;
/// Most components in one path.
pub const MAX_DEPTH: usize = 64;
/// Longest path, in bytes (depth times the longest component, with slashes).
pub const MAX_PATH_BYTES: usize = 4096;

/// Names Windows reserves for devices, in any case and with any extension.
const WINDOWS_DEVICES: [&str; 22] = [
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// Characters Windows does not allow in a name.
const WINDOWS_FORBIDDEN: [char; 7] = ['<', '>', ':', '"', '|', '?', '*'];

/// Why a wire path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathProblem {
    #[error("the path is empty")]
    Empty,
    #[error("the path is absolute")]
    Absolute,
    #[error("the path is longer than {MAX_PATH_BYTES} bytes")]
    TooLong,
    #[error("the path is deeper than {MAX_DEPTH} folders")]
    TooDeep,
    #[error("the path has an empty component (two slashes, or one at the end)")]
    EmptyComponent,
    #[error("the path has a \".\" or \"..\" component")]
    DotComponent,
    #[error("a name holds a slash")]
    Slash,
    #[error("a name holds a backslash")]
    Backslash,
    #[error("a name holds a control character (or a bidi or line-separator control)")]
    Control,
    #[error("a name is longer than {MAX_COMPONENT_BYTES} bytes")]
    NameTooLong,
    #[error("\"{0}\" is a device name on Windows")]
    WindowsDevice(String),
    #[error("a name holds {0:?}, which Windows does not allow")]
    WindowsCharacter(char),
    #[error("a name ends with a dot or a space, which Windows does not allow")]
    WindowsTrailing,
    #[error("\"{0}\" and \"{1}\" differ only in case")]
    CaseCollision(String, String),
}

/// A checked relative path: every component a plain name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WirePath(String);

impl WirePath {
    /// Checks `text` as a path on the wire.
    pub fn parse(text: &str) -> Result<Self, PathProblem> {
        if text.is_empty() {
            return Err(PathProblem::Empty);
        }
        if text.len() > MAX_PATH_BYTES {
            return Err(PathProblem::TooLong);
        }
        if text.starts_with('/') || looks_like_drive(text) {
            return Err(PathProblem::Absolute);
        }
        let mut depth = 0;
        for component in text.split('/') {
            depth += 1;
            if depth > MAX_DEPTH {
                return Err(PathProblem::TooDeep);
            }
            check_name(component)?;
        }
        Ok(Self(text.to_owned()))
    }

    /// The root itself (an empty path), for a listing of the whole share.
    #[must_use]
    pub fn root() -> Self {
        Self(String::new())
    }

    pub fn is_root(&self) -> bool {
        self.0.is_empty()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Its components, outermost first.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/').filter(|c| !c.is_empty())
    }

    /// The last component (none for the root).
    pub fn name(&self) -> Option<&str> {
        self.components().last()
    }

    /// `self/name`, with `name` checked as one component.
    pub fn join(&self, name: &str) -> Result<Self, PathProblem> {
        check_name(name)?;
        if self.is_root() {
            return Ok(Self(name.to_owned()));
        }
        Self::parse(&format!("{}/{name}", self.0))
    }

    /// The folder holding this path (the root for a top-level name).
    #[must_use]
    pub fn parent(&self) -> Self {
        match self.0.rsplit_once('/') {
            Some((parent, _)) => Self(parent.to_owned()),
            None => Self::root(),
        }
    }
}

impl fmt::Display for WirePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for WirePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "WirePath({:?})", self.0)
    }
}

/// `C:`, `c:\…` and the like: absolute on Windows.
fn looks_like_drive(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Checks one component: a plain name that every platform can write.
pub fn check_name(name: &str) -> Result<(), PathProblem> {
    match name {
        "" => return Err(PathProblem::EmptyComponent),
        "." | ".." => return Err(PathProblem::DotComponent),
        _ => {}
    }
    if name.len() > MAX_COMPONENT_BYTES {
        return Err(PathProblem::NameTooLong);
    }
    if name.chars().any(crate::text::needs_escape) {
        return Err(PathProblem::Control);
    }
    if name.contains('/') {
        return Err(PathProblem::Slash);
    }
    if name.contains('\\') {
        return Err(PathProblem::Backslash);
    }
    if let Some(c) = name.chars().find(|c| WINDOWS_FORBIDDEN.contains(c)) {
        return Err(PathProblem::WindowsCharacter(c));
    }
    if name.ends_with('.') || name.ends_with(' ') {
        return Err(PathProblem::WindowsTrailing);
    }
    let stem = name.split('.').next().unwrap_or(name).trim_end();
    if WINDOWS_DEVICES
        .iter()
        .any(|device| stem.eq_ignore_ascii_case(device))
    {
        return Err(PathProblem::WindowsDevice(name.to_owned()));
    }
    Ok(())
}

/// Finds two paths of one listing or offer that would be one file on a
/// case-insensitive file system (the same folder, names equal but for
/// case). Linear in the number of paths.
pub fn case_collision<'a>(
    paths: impl IntoIterator<Item = &'a WirePath>,
) -> Result<(), PathProblem> {
    let mut seen: HashMap<String, &'a WirePath> = HashMap::new();
    for path in paths {
        if let Some(earlier) = seen.insert(path.as_str().to_lowercase(), path) {
            if earlier != path {
                return Err(PathProblem::CaseCollision(
                    earlier.to_string(),
                    path.to_string(),
                ));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_relative_paths_are_taken() {
        for ok in [
            "a.txt",
            "photos/2026/IMG_0001.JPG",
            "名前/ファイル.txt",
            "a b/c-d_e.tar.gz",
            ".hidden",
            "..dots-inside..x",
            "CONSOLE.txt",
            "com10",
        ] {
            let path = WirePath::parse(ok).unwrap_or_else(|e| panic!("{ok}: {e}"));
            assert_eq!(path.as_str(), ok);
        }
    }

    #[test]
    fn every_unsafe_path_is_refused_with_its_reason() {
        let deep = vec!["d"; MAX_DEPTH + 1].join("/");
        let long = "n".repeat(MAX_COMPONENT_BYTES + 1);
        let cases: Vec<(&str, PathProblem)> = vec![
            ("", PathProblem::Empty),
            ("/etc/passwd", PathProblem::Absolute),
            ("C:/Windows", PathProblem::Absolute),
            ("c:evil", PathProblem::Absolute),
            ("../up", PathProblem::DotComponent),
            ("a/../../up", PathProblem::DotComponent),
            ("a/./b", PathProblem::DotComponent),
            ("..", PathProblem::DotComponent),
            ("a//b", PathProblem::EmptyComponent),
            ("a/", PathProblem::EmptyComponent),
            ("a\\..\\b", PathProblem::Backslash),
            ("nul\0byte", PathProblem::Control),
            ("line\nbreak", PathProblem::Control),
            ("esc\u{1b}[2J", PathProblem::Control),
            ("c1\u{85}", PathProblem::Control),
            ("gpj\u{202e}.exe", PathProblem::Control),
            ("CON", PathProblem::WindowsDevice("CON".into())),
            ("dir/nul.txt", PathProblem::WindowsDevice("nul.txt".into())),
            (
                "Com1.tar.gz",
                PathProblem::WindowsDevice("Com1.tar.gz".into()),
            ),
            ("lpt9", PathProblem::WindowsDevice("lpt9".into())),
            ("what?", PathProblem::WindowsCharacter('?')),
            ("a<b", PathProblem::WindowsCharacter('<')),
            ("ab:c", PathProblem::WindowsCharacter(':')),
            ("pipe|", PathProblem::WindowsCharacter('|')),
            ("star*", PathProblem::WindowsCharacter('*')),
            ("quote\"", PathProblem::WindowsCharacter('"')),
            ("trailing.", PathProblem::WindowsTrailing),
            ("trailing ", PathProblem::WindowsTrailing),
            (long.as_str(), PathProblem::NameTooLong),
            (deep.as_str(), PathProblem::TooDeep),
        ];
        for (text, want) in cases {
            assert_eq!(WirePath::parse(text), Err(want), "{text:?}");
        }
        assert_eq!(
            WirePath::parse(&"a/".repeat(MAX_PATH_BYTES)),
            Err(PathProblem::TooLong)
        );
    }

    #[test]
    fn names_equal_but_for_case_collide() {
        let paths: Vec<WirePath> = ["Photos/a.jpg", "photos/A.JPG", "b"]
            .iter()
            .map(|p| WirePath::parse(p).expect("path"))
            .collect();
        assert_eq!(
            case_collision(&paths),
            Err(PathProblem::CaseCollision(
                "Photos/a.jpg".into(),
                "photos/A.JPG".into()
            ))
        );
        let distinct: Vec<WirePath> = ["a/b", "a/c", "b/b"]
            .iter()
            .map(|p| WirePath::parse(p).expect("path"))
            .collect();
        assert_eq!(case_collision(&distinct), Ok(()));
    }

    #[test]
    fn join_and_parent_stay_checked() {
        let dir = WirePath::parse("a/b").expect("path");
        assert_eq!(dir.join("c.txt").expect("join").as_str(), "a/b/c.txt");
        assert_eq!(dir.join(".."), Err(PathProblem::DotComponent));
        assert_eq!(dir.join("x/y"), Err(PathProblem::Slash));
        assert_eq!(dir.parent().as_str(), "a");
        assert!(WirePath::parse("a").expect("path").parent().is_root());
        assert_eq!(WirePath::root().join("top").expect("join").as_str(), "top");
    }
}
