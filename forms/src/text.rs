//! stub
use crate::values::FormValues;
/// read
pub fn read_text(_t: &str) -> FormValues { FormValues::new() }
