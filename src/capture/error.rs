//! Why a capture could not be opened ([`CaptureError`]), and the helpers that turn
//! libpcap's text into one clear line.

use std::fmt;

/// Why a capture could not be opened. Each prints as one clear line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaptureError {
    /// The interface does not exist.
    NoSuchDevice(String),
    /// Not allowed to capture: run as root or give the binary cap_net_raw,cap_net_admin.
    Permission(String),
    /// The capture file can't be opened or is not pcap/pcapng.
    File(String),
    /// The BPF filter does not compile.
    Filter(String),
    /// A link type httshark does not decode.
    UnsupportedLinkType(String),
    Other(String),
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (what, detail) = match self {
            CaptureError::NoSuchDevice(d) => ("no such network interface", d),
            CaptureError::Permission(d) => ("permission denied", d),
            CaptureError::File(d) => ("cannot read capture", d),
            CaptureError::Filter(d) => ("invalid capture filter", d),
            CaptureError::UnsupportedLinkType(d) => ("unsupported link type", d),
            CaptureError::Other(d) => ("capture error", d),
        };
        // One line, whatever libpcap put in its message.
        write!(f, "{what}: {}", one_line(detail))
    }
}

impl std::error::Error for CaptureError {}

/// libpcap's own text, without the `pcap` crate's "libpcap error: " prefix.
pub(super) fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(message) => message.clone(),
        other => other.to_string(),
    }
}

pub(super) fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_display_as_one_line() {
        let errors = [
            CaptureError::NoSuchDevice("x (available: lo)".into()),
            CaptureError::Permission("a\nb".into()),
            CaptureError::File("f.pcap: not a pcap or pcapng file".into()),
            CaptureError::Filter("\"tcp port\": syntax error\n".into()),
            CaptureError::UnsupportedLinkType("DLT 127".into()),
            CaptureError::Other("  spaced   out  ".into()),
        ];
        for e in errors {
            let shown = e.to_string();
            assert!(!shown.contains('\n') && !shown.ends_with(' '), "{shown:?}");
            assert!(!shown.contains("CaptureError"), "{shown:?}");
        }
        assert_eq!(
            CaptureError::Other("  spaced   out  ".into()).to_string(),
            "capture error: spaced out"
        );
    }
}
