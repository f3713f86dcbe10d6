//! stub
use crate::values::FormValues;
/// Outcome.
#[derive(Debug)]
pub enum ReadOutcome { AcroForm(FormValues), Text(FormValues), NoFields { reason: String } }
/// Limits.
#[derive(Debug, Clone)]
pub struct Limits;
/// read
pub fn read_pdf(_b: &[u8]) -> ReadOutcome { ReadOutcome::NoFields { reason: String::new() } }
/// read
pub fn read_pdf_with_limits(_b: &[u8], _l: &Limits) -> ReadOutcome { ReadOutcome::NoFields { reason: String::new() } }
