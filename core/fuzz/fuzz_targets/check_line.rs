//! `check_line` on arbitrary text in every precision: it never panics, its
//! error points inside the line and formats to a bounded sentence, and
//! every line it accepts InfluxDB 3's parser (`influxdb-line-protocol`)
//! accepts too, as one line.
#![no_main]

use std::fmt::Write as _;

use libfuzzer_sys::fuzz_target;
use linewire::{check_line, Precision};

fuzz_target!(|data: &[u8]| {
    let line = match std::str::from_utf8(data) {
        Ok(s) => s,
        Err(e) => std::str::from_utf8(&data[..e.valid_up_to()]).unwrap_or_default(),
    };
    for precision in Precision::ALL {
        match check_line(line, precision) {
            Ok(()) => {
                let parsed: Vec<_> = influxdb_line_protocol::parse_lines(line).collect();
                assert_eq!(parsed.len(), 1, "{line:?}");
                assert!(parsed[0].is_ok(), "{line:?}: {:?}", parsed[0]);
            }
            Err(e) => {
                assert!(e.offset() <= line.len());
                let (start, end) = (line.as_ptr() as usize, line.as_ptr() as usize + line.len());
                let text = e.text().as_ptr() as usize;
                assert!(e.text().is_empty() || (start..=end).contains(&text));
                assert!(text + e.text().len() <= end || e.text().is_empty());
                let mut message = String::new();
                write!(message, "{e}").unwrap();
                // 40 quoted characters of at most 4 bytes, and the sentence.
                assert!(message.len() <= 160 + 200, "{message}");
            }
        }
    }
});
