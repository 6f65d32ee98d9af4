//! `--name value` arguments of the internal server and client modes.

use std::collections::BTreeMap;
use std::str::FromStr;

use crate::error::BenchError;

/// Arguments as `--name value` pairs; each read at most once, the rest refused.
#[derive(Debug)]
pub(crate) struct Args {
    values: BTreeMap<String, String>,
}

impl Args {
    /// Parses `--name value` pairs.
    pub(crate) fn parse(args: &[String]) -> Result<Self, BenchError> {
        let mut values = BTreeMap::new();
        let mut it = args.iter();
        while let Some(name) = it.next() {
            let Some(name) = name.strip_prefix("--") else {
                return Err(BenchError::new(
                    "arguments",
                    format!("expected --name, got {name:?}"),
                ));
            };
            let Some(value) = it.next() else {
                return Err(BenchError::new(
                    "arguments",
                    format!("--{name} takes a value"),
                ));
            };
            if values.insert(name.to_owned(), value.clone()).is_some() {
                return Err(BenchError::new(
                    "arguments",
                    format!("--{name} given twice"),
                ));
            }
        }
        Ok(Self { values })
    }

    /// The value of `--name`, which must be there.
    pub(crate) fn required(&mut self, name: &str) -> Result<String, BenchError> {
        self.values
            .remove(name)
            .ok_or_else(|| BenchError::new("arguments", format!("--{name} is missing")))
    }

    /// The value of `--name` parsed, which must be there.
    pub(crate) fn parsed<T: FromStr>(&mut self, name: &str) -> Result<T, BenchError> {
        let text = self.required(name)?;
        text.parse()
            .map_err(|_| BenchError::new("arguments", format!("--{name}: bad value {text:?}")))
    }

    /// Fails when an argument was given that nothing read.
    pub(crate) fn finish(self) -> Result<(), BenchError> {
        match self.values.keys().next() {
            None => Ok(()),
            Some(name) => Err(BenchError::new(
                "arguments",
                format!("unknown argument --{name}"),
            )),
        }
    }
}
