//! Strict XML for Direct messages (protocol.md, "XML messages").
//!
//! [`parse`] turns one document into an [`Element`] tree and refuses what the
//! protocol refuses: DOCTYPE, processing instructions, comments, a byte-order
//! mark, a declaration naming anything but UTF-8, undefined entities, depth
//! over 8, more than 64 attributes on an element (namespace declarations
//! count like any other attribute), duplicate attributes, more than 4096
//! elements in a document, and non-whitespace text beside child elements.
//! [`Writer`] emits the compact form that the reference peer writes (no
//! declaration, no whitespace).
//!
//! # Cost
//!
//! The parser is linear in the size of its input, whatever the input: an
//! element's attributes are counted as they are read and the element is
//! refused at the 65th, before duplicates are looked for (a pairwise check
//! over at most 64 keys), so a start tag with 55 000 `xmlns:aN` attributes
//! costs one pass to its 65th attribute, not 55 000² comparisons. The
//! element cap bounds the tree built from a large document: 4096 is many
//! times the largest legitimate message (a `store_fetch_response` or
//! `store_ack` of [`MAX_PAGE`](crate::irp::messages::MAX_PAGE) = 256
//! envelopes, plus the root and `more`; a Direct handshake message has a few
//! dozen elements; an address record at most 16 addresses).

use quick_xml::events::{BytesStart, Event};

/// The namespace of every Direct message.
pub const NAMESPACE: &str = "urn:sixchat:direct";
/// Deepest element nesting allowed; the root is depth 1.
pub const MAX_DEPTH: usize = 8;
/// Most attributes per element, namespace declarations (`xmlns`,
/// `xmlns:*`) included.
pub const MAX_ATTRIBUTES: usize = 64;
/// Most elements in one document, the root included (see the module docs
/// for why 4096).
pub const MAX_ELEMENTS: usize = 4096;

/// Why a document was refused. Every variant maps to `decode_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    #[error("not well-formed XML: {0}")]
    Malformed(String),
    #[error("a byte-order mark is not allowed")]
    ByteOrderMark,
    #[error("DOCTYPE is not allowed")]
    Doctype,
    #[error("processing instructions are not allowed")]
    ProcessingInstruction,
    #[error("comments are not allowed")]
    Comment,
    #[error("the XML declaration must name UTF-8 or no encoding")]
    Encoding,
    #[error("entity reference &{0}; is not allowed")]
    Entity(String),
    #[error("elements nested deeper than {MAX_DEPTH}")]
    TooDeep,
    #[error("more than {MAX_ATTRIBUTES} attributes on <{0}>")]
    TooManyAttributes(String),
    #[error("more than {MAX_ELEMENTS} elements")]
    TooManyElements,
    #[error("text and child elements mixed in <{0}>")]
    MixedContent(String),
    #[error("no root element, or content after it")]
    Structure,
}

/// One element: its local name, attributes in document order, children and text.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    /// The text content (empty when the element has children).
    pub text: String,
}

impl Element {
    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|child| child.name == name)
    }
}

fn malformed(err: impl std::fmt::Display) -> XmlError {
    XmlError::Malformed(err.to_string())
}

/// Parses one document strictly (see the module docs).
#[allow(clippy::too_many_lines)] // the strict parser's single pass over quick-xml events; each arm is one rule of the grammar
pub fn parse(bytes: &[u8]) -> Result<Element, XmlError> {
    if bytes.starts_with(&[0xEF, 0xBB, 0xBF])
        || bytes.starts_with(&[0xFE, 0xFF])
        || bytes.starts_with(&[0xFF, 0xFE])
    {
        return Err(XmlError::ByteOrderMark);
    }
    let text = std::str::from_utf8(bytes).map_err(|_| XmlError::Malformed("not UTF-8".into()))?;
    let mut reader = quick_xml::Reader::from_str(text);
    let config = reader.config_mut();
    config.trim_text(false);
    config.check_end_names = true;
    config.expand_empty_elements = false;

    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    let mut seen_anything = false;
    let mut elements = 0usize;
    let mut count_element = || {
        elements += 1;
        if elements > MAX_ELEMENTS {
            Err(XmlError::TooManyElements)
        } else {
            Ok(())
        }
    };
    loop {
        let event = reader.read_event().map_err(malformed)?;
        match event {
            Event::Eof => break,
            Event::Decl(decl) => {
                if seen_anything {
                    return Err(XmlError::Structure);
                }
                if let Some(encoding) = decl.encoding() {
                    let encoding = encoding.map_err(malformed)?;
                    if !encoding.eq_ignore_ascii_case(b"utf-8") {
                        return Err(XmlError::Encoding);
                    }
                }
            }
            Event::DocType(_) => return Err(XmlError::Doctype),
            Event::PI(_) => return Err(XmlError::ProcessingInstruction),
            Event::Comment(_) => return Err(XmlError::Comment),
            Event::Start(start) => {
                if root.is_some() {
                    return Err(XmlError::Structure);
                }
                if stack.len() >= MAX_DEPTH {
                    return Err(XmlError::TooDeep);
                }
                count_element()?;
                stack.push(open_element(&start)?);
            }
            Event::Empty(start) => {
                if root.is_some() || stack.len() >= MAX_DEPTH {
                    return Err(if root.is_some() {
                        XmlError::Structure
                    } else {
                        XmlError::TooDeep
                    });
                }
                count_element()?;
                let element = open_element(&start)?;
                close_element(&mut stack, &mut root, element)?;
            }
            Event::End(_) => {
                let element = stack.pop().ok_or(XmlError::Structure)?;
                close_element(&mut stack, &mut root, element)?;
            }
            Event::Text(text) => {
                let content = text.xml_content().map_err(malformed)?;
                push_text(&mut stack, &content)?;
            }
            Event::CData(data) => {
                let content = std::str::from_utf8(&data).map_err(malformed)?.to_owned();
                push_text(&mut stack, &content)?;
            }
            Event::GeneralRef(reference) => {
                let resolved = if let Some(ch) = reference.resolve_char_ref().map_err(malformed)? {
                    ch
                } else {
                    let name = reference.decode().map_err(malformed)?;
                    match name.as_ref() {
                        "amp" => '&',
                        "lt" => '<',
                        "gt" => '>',
                        "apos" => '\'',
                        "quot" => '"',
                        other => {
                            return Err(XmlError::Entity(other.chars().take(32).collect()));
                        }
                    }
                };
                let mut buf = [0u8; 4];
                push_text(&mut stack, resolved.encode_utf8(&mut buf))?;
            }
        }
        seen_anything = true;
    }
    if !stack.is_empty() {
        return Err(XmlError::Malformed("unclosed element".into()));
    }
    root.ok_or(XmlError::Structure)
}

fn push_text(stack: &mut [Element], content: &str) -> Result<(), XmlError> {
    match stack.last_mut() {
        Some(element) => {
            element.text.push_str(content);
            Ok(())
        }
        // Only whitespace may stand outside the root element.
        None if content.chars().all(|c| c.is_ascii_whitespace()) => Ok(()),
        None => Err(XmlError::Structure),
    }
}

fn open_element(start: &BytesStart<'_>) -> Result<Element, XmlError> {
    let name = std::str::from_utf8(start.name().into_inner())
        .map_err(malformed)?
        .to_owned();
    let mut attributes: Vec<(String, String)> = Vec::new();
    // No duplicate check inside quick-xml: it compares each key with every
    // earlier one, quadratic in an element's attributes, and it would run
    // before the count below could stop a start tag with 55 000 of them.
    for attribute in start.attributes().with_checks(false) {
        if attributes.len() == MAX_ATTRIBUTES {
            return Err(XmlError::TooManyAttributes(name));
        }
        let attribute = attribute.map_err(malformed)?;
        let key = std::str::from_utf8(attribute.key.into_inner())
            .map_err(malformed)?
            .to_owned();
        let value = attribute.unescape_value().map_err(|e| match e {
            quick_xml::Error::Escape(quick_xml::escape::EscapeError::UnrecognizedEntity(
                _,
                entity,
            )) => XmlError::Entity(entity.chars().take(32).collect()),
            other => malformed(other),
        })?;
        attributes.push((key, value.into_owned()));
    }
    // At most 64 keys: at most 2016 comparisons.
    for (index, (key, _)) in attributes.iter().enumerate() {
        if attributes[..index]
            .iter()
            .any(|(earlier, _)| earlier == key)
        {
            return Err(XmlError::Malformed(format!(
                "duplicate attribute {:?} on <{name}>",
                key.chars().take(32).collect::<String>()
            )));
        }
    }
    Ok(Element {
        name,
        attributes,
        children: Vec::new(),
        text: String::new(),
    })
}

fn close_element(
    stack: &mut [Element],
    root: &mut Option<Element>,
    mut element: Element,
) -> Result<(), XmlError> {
    if !element.children.is_empty() {
        if !element.text.chars().all(|c| c.is_ascii_whitespace()) {
            return Err(XmlError::MixedContent(element.name));
        }
        element.text.clear();
    }
    match stack.last_mut() {
        Some(parent) => parent.children.push(element),
        None => *root = Some(element),
    }
    Ok(())
}

/// Writes compact XML: `<message xmlns=".." version="2" type="T"[ id=".."]>`,
/// children as `<x>text</x>`, no declaration, no whitespace.
#[derive(Debug)]
pub struct Writer {
    out: String,
}

impl Writer {
    /// Starts a `<message>` root with the given type and optional id.
    pub fn message(message_type: &str, id: Option<&str>) -> Self {
        let mut out = String::with_capacity(256);
        out.push_str("<message xmlns=\"");
        out.push_str(NAMESPACE);
        out.push_str("\" version=\"2\" type=\"");
        escape_into(&mut out, message_type);
        out.push('"');
        if let Some(id) = id {
            out.push_str(" id=\"");
            escape_into(&mut out, id);
            out.push('"');
        }
        out.push('>');
        Self { out }
    }

    /// Adds `<name>text</name>`.
    #[must_use]
    pub fn child(mut self, name: &str, text: &str) -> Self {
        self.child_with_attribute(name, None, text);
        self
    }

    /// Adds `<name key="value">text</name>`.
    #[must_use]
    pub fn child_attr(mut self, name: &str, key: &str, value: &str, text: &str) -> Self {
        self.child_with_attribute(name, Some((key, value)), text);
        self
    }

    /// Adds `<name k1="v1" k2="v2" …>text</name>`.
    #[must_use]
    pub fn child_attrs(mut self, name: &str, attributes: &[(&str, &str)], text: &str) -> Self {
        self.child_with_attributes(name, attributes, text);
        self
    }

    fn child_with_attribute(&mut self, name: &str, attribute: Option<(&str, &str)>, text: &str) {
        self.child_with_attributes(name, attribute.as_slice(), text);
    }

    fn child_with_attributes(&mut self, name: &str, attributes: &[(&str, &str)], text: &str) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            escape_into(&mut self.out, value);
            self.out.push('"');
        }
        self.out.push('>');
        escape_into(&mut self.out, text);
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }

    pub fn finish(mut self) -> Vec<u8> {
        self.out.push_str("</message>");
        self.out.into_bytes()
    }
}

/// How long `text` is once [`escape_into`] wrote it (for packing messages
/// that must fit one record).
pub fn escaped_len(text: &str) -> usize {
    text.len()
        + text
            .bytes()
            .map(|b| match b {
                b'&' | b'\r' => 4,
                b'<' | b'>' => 3,
                b'"' => 5,
                _ => 0,
            })
            .sum::<usize>()
}

pub fn escape_into(out: &mut String, text: &str) {
    // Most text (base64, numbers, names) has nothing to escape.
    if !text
        .bytes()
        .any(|b| matches!(b, b'&' | b'<' | b'>' | b'"' | b'\r'))
    {
        out.push_str(text);
        return;
    }
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\r' => out.push_str("&#13;"),
            _ => out.push(ch),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    #[test]
    fn parses_compact_messages() {
        let doc = br#"<message xmlns="urn:sixchat:direct" version="2" type="chat" id="x"><sent>t</sent><body>a &amp; b &#x2713;</body></message>"#;
        let root = parse(doc).unwrap();
        assert_eq!(root.attribute("type"), Some("chat"));
        assert_eq!(root.child("body").unwrap().text, "a & b \u{2713}");
    }

    #[test]
    fn refuses_what_the_protocol_refuses() {
        let cases: &[(&[u8], XmlError)] = &[
            (
                b"<!DOCTYPE m [<!ENTITY x \"y\">]><m>&x;</m>",
                XmlError::Doctype,
            ),
            (b"<m>&x;</m>", XmlError::Entity("x".into())),
            (b"<?pi x?><m/>", XmlError::ProcessingInstruction),
            (b"<m><!-- c --></m>", XmlError::Comment),
            (b"\xEF\xBB\xBF<m/>", XmlError::ByteOrderMark),
            (
                b"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><m/>",
                XmlError::Encoding,
            ),
            (b"<m>text<c/></m>", XmlError::MixedContent("m".into())),
            (b"<m/><n/>", XmlError::Structure),
        ];
        for (doc, expected) in cases {
            assert_eq!(
                parse(doc).as_ref(),
                Err(expected),
                "{}",
                String::from_utf8_lossy(doc)
            );
        }
        assert!(parse(b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><m/>").is_ok());
        assert!(matches!(
            parse(b"<m a=\"1\" a=\"2\"/>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(parse(b"<m><n></m>"), Err(XmlError::Malformed(_))));
        assert!(matches!(parse(b"<m>"), Err(XmlError::Malformed(_))));
    }

    #[test]
    fn limits_depth_and_attributes() {
        let deep = |n: usize| format!("{}{}", "<a>".repeat(n), "</a>".repeat(n));
        assert!(parse(deep(8).as_bytes()).is_ok());
        assert_eq!(parse(deep(9).as_bytes()), Err(XmlError::TooDeep));
        // The namespace declaration is one of the 64.
        let attrs = |n: usize| {
            format!(
                "<m xmlns=\"u\" {}/>",
                (0..n)
                    .map(|i| format!("a{i}=\"1\""))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        assert!(parse(attrs(63).as_bytes()).is_ok());
        assert_eq!(
            parse(attrs(64).as_bytes()),
            Err(XmlError::TooManyAttributes("m".into()))
        );
    }

    fn namespace_declarations(n: usize) -> String {
        let mut doc = String::from("<m");
        for i in 0..n {
            let _ = write!(doc, " xmlns:a{i}=\"u\"");
        }
        doc.push_str("/>");
        doc
    }

    #[test]
    fn namespace_declarations_count_as_attributes() {
        assert!(parse(namespace_declarations(64).as_bytes()).is_ok());
        assert_eq!(
            parse(namespace_declarations(65).as_bytes()),
            Err(XmlError::TooManyAttributes("m".into()))
        );
        // Mixed: 32 declarations and 33 plain attributes are 65.
        let mut mixed = namespace_declarations(32);
        mixed.truncate(mixed.len() - 2);
        for i in 0..33 {
            let _ = write!(mixed, " b{i}=\"1\"");
        }
        mixed.push_str("/>");
        assert_eq!(
            parse(mixed.as_bytes()),
            Err(XmlError::TooManyAttributes("m".into()))
        );
    }

    #[test]
    fn a_mebibyte_start_tag_of_namespace_declarations_is_refused() {
        // The attack of issue 9: one start tag, 55 000 `xmlns:aN` attributes
        // (refused at the 65th; this used to take seconds per frame).
        let mut doc = namespace_declarations(55_000);
        assert!(doc.len() > 700_000 && doc.len() <= 1 << 20);
        assert_eq!(
            parse(doc.as_bytes()),
            Err(XmlError::TooManyAttributes("m".into()))
        );
        // The same as the body of an element nested in the root.
        doc.insert_str(0, "<message>");
        doc.push_str("</message>");
        assert_eq!(
            parse(doc.as_bytes()),
            Err(XmlError::TooManyAttributes("m".into()))
        );
    }

    #[test]
    fn duplicates_are_found_among_up_to_64_attributes() {
        assert!(matches!(
            parse(b"<m xmlns:a=\"1\" b=\"2\" xmlns:a=\"3\"/>"),
            Err(XmlError::Malformed(_))
        ));
        assert!(matches!(
            parse(b"<m xmlns=\"1\" xmlns=\"1\"/>"),
            Err(XmlError::Malformed(_))
        ));
        let mut last_repeats = namespace_declarations(63);
        last_repeats.truncate(last_repeats.len() - 2);
        last_repeats.push_str(" xmlns:a0=\"u\"/>");
        assert!(matches!(
            parse(last_repeats.as_bytes()),
            Err(XmlError::Malformed(_))
        ));
    }

    #[test]
    fn elements_per_document_are_limited() {
        let flat = |n: usize| format!("<m>{}</m>", "<e/>".repeat(n - 1));
        assert!(parse(flat(MAX_ELEMENTS).as_bytes()).is_ok());
        assert_eq!(
            parse(flat(MAX_ELEMENTS + 1).as_bytes()),
            Err(XmlError::TooManyElements)
        );
        let open_close = format!("<m>{}</m>", "<e>x</e>".repeat(MAX_ELEMENTS));
        assert_eq!(parse(open_close.as_bytes()), Err(XmlError::TooManyElements));
        // A mebibyte of empty elements is refused, not built into a tree.
        let many = format!("<m>{}</m>", "<e/>".repeat(250_000));
        assert_eq!(parse(many.as_bytes()), Err(XmlError::TooManyElements));
    }

    #[test]
    fn writer_escapes_and_round_trips() {
        let bytes = Writer::message("chat", Some("id-1"))
            .child("body", "<&>\"\r\n")
            .finish();
        let root = parse(&bytes).unwrap();
        assert_eq!(root.child("body").unwrap().text, "<&>\"\r\n");
    }
}
