//! The strict reading of a handshake document: its root, its children in
//! order with their occurrences, leaves without stray attributes.

use super::{MessageError, shape};
use crate::xml::{Element, NAMESPACE};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

/// How often a child may appear.
#[derive(Clone, Copy)]
pub(super) enum Occurs {
    One,
    OneOrMore,
    ZeroOrMore,
    Optional,
}

/// One row of a message's child list: name, occurrence, and its one allowed attribute.
pub(super) struct ChildSpec {
    pub(super) name: &'static str,
    pub(super) occurs: Occurs,
    pub(super) attribute: Option<(&'static str, &'static str)>,
}

pub(super) const fn spec(name: &'static str, occurs: Occurs) -> ChildSpec {
    ChildSpec {
        name,
        occurs,
        attribute: None,
    }
}

pub(super) const KEY_SHARE: ChildSpec = ChildSpec {
    name: "key-share",
    occurs: Occurs::One,
    attribute: Some(("group", "X25519")),
};

/// Parses a handshake document of type `expected` whose children follow `specs`
/// exactly, and returns the children grouped per spec row.
pub(super) fn parse_strict<'a>(
    root: &'a Element,
    expected: &'static str,
    specs: &[ChildSpec],
) -> Result<Vec<Vec<&'a Element>>, MessageError> {
    check_root(root, expected)?;
    let mut groups: Vec<Vec<&Element>> = specs.iter().map(|_| Vec::new()).collect();
    let mut children = root.children.iter().peekable();
    for (spec, group) in specs.iter().zip(groups.iter_mut()) {
        while let Some(child) = children.next_if(|c| c.name == spec.name) {
            group.push(child);
        }
        let count_ok = match spec.occurs {
            Occurs::One => group.len() == 1,
            Occurs::OneOrMore => !group.is_empty(),
            Occurs::ZeroOrMore => true,
            Occurs::Optional => group.len() <= 1,
        };
        if !count_ok {
            return Err(shape(format!("{expected}: <{}> count", spec.name)));
        }
        for child in group.iter() {
            check_leaf(child, spec)?;
        }
    }
    if let Some(extra) = children.next() {
        return Err(shape(format!("{expected}: unexpected <{}>", extra.name)));
    }
    Ok(groups)
}

pub(super) fn check_root(root: &Element, expected: &'static str) -> Result<(), MessageError> {
    if root.name != "message" || root.attribute("xmlns") != Some(NAMESPACE) {
        return Err(shape("root is not <message xmlns=\"urn:sixchat:direct\">"));
    }
    let got = root.attribute("type").unwrap_or_default();
    if root.attributes.len() != 3
        || root.attribute("version").is_none()
        || root.attribute("type").is_none()
    {
        return Err(shape(format!("{got}: root attributes")));
    }
    match root.attribute("version") {
        Some("2") => {}
        other => {
            return Err(MessageError::Version(
                other.unwrap_or_default().chars().take(16).collect(),
            ));
        }
    }
    if got != expected {
        return Err(MessageError::UnexpectedType {
            expected,
            got: got.chars().take(32).collect(),
        });
    }
    Ok(())
}

pub(super) fn check_leaf(child: &Element, spec: &ChildSpec) -> Result<(), MessageError> {
    if !child.children.is_empty() {
        return Err(shape(format!("<{}> has children", child.name)));
    }
    let attributes_ok = match spec.attribute {
        None => child.attributes.is_empty(),
        Some((key, value)) => child.attributes.len() == 1 && child.attribute(key) == Some(value),
    };
    if !attributes_ok {
        return Err(shape(format!("<{}> attributes", child.name)));
    }
    if child.text.trim() != child.text || child.text.is_empty() {
        return Err(shape(format!("<{}> text", child.name)));
    }
    Ok(())
}

pub(super) fn bytes32(element: &Element, name: &'static str) -> Result<[u8; 32], MessageError> {
    let bytes = BASE64
        .decode(&element.text)
        .map_err(|_| MessageError::Base64(name))?;
    bytes.try_into().map_err(|_| MessageError::Size(name))
}

pub(super) fn tokens(elements: &[&Element]) -> Result<Vec<String>, MessageError> {
    let mut out: Vec<String> = Vec::with_capacity(elements.len());
    for element in elements {
        if out.contains(&element.text) {
            return Err(MessageError::Duplicate(
                element.text.chars().take(32).collect(),
            ));
        }
        out.push(element.text.clone());
    }
    Ok(out)
}

pub(super) fn b64(bytes: &[u8]) -> String {
    BASE64.encode(bytes)
}
