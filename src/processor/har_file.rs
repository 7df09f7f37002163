//! The `file` processor: HAR files in `-output-folder`, one per host when split, written
//! atomically every `-export-interval`.
