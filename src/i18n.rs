//! Every string the window shows, from Fluent files under `i18n/<lang>/`
//! (compiled in). A missing key falls back to English, then to the key.

use fluent_bundle::{FluentArgs, FluentBundle, FluentResource, FluentValue};
use unic_langid::LanguageIdentifier;

/// The languages SixChat speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    English,
    Chinese,
    German,
}

impl Language {
    pub const ALL: [Self; 3] = [Self::English, Self::Chinese, Self::German];

    /// The BCP 47 tag, as stored in the settings and used for the folder name.
    pub fn code(self) -> &'static str {
        match self {
            Self::English => "en",
            Self::Chinese => "zh-CN",
            Self::German => "de",
        }
    }

    /// The language's name in itself (for the language menu).
    pub fn native_name(self) -> &'static str {
        match self {
            Self::English => "English",
            Self::Chinese => "简体中文",
            Self::German => "Deutsch",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        let code = code.to_ascii_lowercase();
        if code.starts_with("zh") {
            Some(Self::Chinese)
        } else if code.starts_with("de") {
            Some(Self::German)
        } else if code.starts_with("en") {
            Some(Self::English)
        } else {
            None
        }
    }

    /// The system's language if SixChat speaks it, else English.
    pub fn from_system() -> Self {
        sys_locale::get_locale()
            .and_then(|l| Self::from_code(&l))
            .unwrap_or(Self::English)
    }

    fn source(self) -> &'static str {
        match self {
            Self::English => include_str!("../i18n/en/sixchat.ftl"),
            Self::Chinese => include_str!("../i18n/zh-CN/sixchat.ftl"),
            Self::German => include_str!("../i18n/de/sixchat.ftl"),
        }
    }
}

fn bundle(language: Language) -> FluentBundle<FluentResource> {
    let tag: LanguageIdentifier = language.code().parse().unwrap_or_default();
    let mut bundle = FluentBundle::new(vec![tag]);
    // egui draws the isolation marks as boxes; our strings are one direction.
    bundle.set_use_isolating(false);
    // The files are compiled in and checked by a test; a bad entry is skipped.
    let resource = FluentResource::try_new(language.source().to_owned())
        .unwrap_or_else(|(partial, _)| partial);
    let _ = bundle.add_resource(resource);
    bundle
}

pub struct I18n {
    language: Language,
    bundle: FluentBundle<FluentResource>,
    english: FluentBundle<FluentResource>,
}

impl std::fmt::Debug for I18n {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("I18n")
            .field("language", &self.language)
            .finish_non_exhaustive()
    }
}

impl I18n {
    pub fn new(language: Language) -> Self {
        Self {
            language,
            bundle: bundle(language),
            english: bundle(Language::English),
        }
    }

    pub fn language(&self) -> Language {
        self.language
    }

    /// Switches language at once (no restart).
    pub fn set_language(&mut self, language: Language) {
        if language != self.language {
            self.language = language;
            self.bundle = bundle(language);
        }
    }

    /// The string for `key`.
    pub fn t(&self, key: &str) -> String {
        self.format(key, None)
    }

    /// The string for `key` with its variables.
    pub fn f(&self, key: &str, args: &[(&str, FluentValue<'_>)]) -> String {
        let mut fluent_args = FluentArgs::new();
        for (name, value) in args {
            fluent_args.set(*name, value.clone());
        }
        self.format(key, Some(&fluent_args))
    }

    fn format(&self, key: &str, args: Option<&FluentArgs<'_>>) -> String {
        for bundle in [&self.bundle, &self.english] {
            if let Some(pattern) = bundle.get_message(key).and_then(|m| m.value()) {
                let mut errors = Vec::new();
                return bundle
                    .format_pattern(pattern, args, &mut errors)
                    .into_owned();
            }
        }
        key.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(language: Language) -> Vec<String> {
        let resource = FluentResource::try_new(language.source().to_owned())
            .unwrap_or_else(|(_, errors)| panic!("{}: {errors:?}", language.code()));
        let mut keys: Vec<String> = resource
            .entries()
            .filter_map(|entry| match entry {
                fluent_syntax::ast::Entry::Message(m) => Some(m.id.name.to_owned()),
                _ => None,
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn every_language_has_every_english_key() {
        let english = keys(Language::English);
        assert!(english.len() > 100, "the English file is the reference");
        for language in [Language::Chinese, Language::German] {
            let have = keys(language);
            let missing: Vec<_> = english.iter().filter(|k| !have.contains(k)).collect();
            let extra: Vec<_> = have.iter().filter(|k| !english.contains(k)).collect();
            assert!(
                missing.is_empty() && extra.is_empty(),
                "{}: missing {missing:?}, unknown {extra:?}",
                language.code()
            );
        }
    }

    #[test]
    fn arguments_are_filled_in_and_languages_differ() {
        let mut i18n = I18n::new(Language::English);
        let english = i18n.f("unread-title", &[("count", 3.into())]);
        assert!(english.contains('3'), "{english}");
        i18n.set_language(Language::Chinese);
        let chinese = i18n.f("unread-title", &[("count", 3.into())]);
        assert!(chinese.contains('3') && chinese != english, "{chinese}");
        assert_eq!(i18n.t("no-such-key"), "no-such-key");
    }
}
