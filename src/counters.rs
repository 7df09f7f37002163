//! Named counters. Every stage owns a plain struct of `u64` counters (no atomics on the hot
//! path); the pipeline sums them for the exit summary, the stats line and the metrics.
//!
//! A counter's name is its documentation key: docs/counters.md lists every one.

/// A set of named counters that can be visited and summed.
pub trait CounterSet {
    /// Calls `f(name, value)` for every counter, in a fixed order.
    fn visit(&self, f: &mut dyn FnMut(&'static str, u64));
    /// Adds every counter of `other` into `self`.
    fn merge(&mut self, other: &Self);
}

/// Declares a counter struct: its fields, their docs, `visit` and `merge`.
#[macro_export]
macro_rules! counters {
    ($(#[$meta:meta])* $vis:vis struct $name:ident { $($(#[$fmeta:meta])* $field:ident),* $(,)? }) => {
        $(#[$meta])*
        #[derive(Clone, Debug, Default, PartialEq, Eq)]
        $vis struct $name { $($(#[$fmeta])* pub $field: u64),* }

        impl $crate::counters::CounterSet for $name {
            fn visit(&self, f: &mut dyn FnMut(&'static str, u64)) {
                $(f(stringify!($field), self.$field);)*
            }
            fn merge(&mut self, other: &Self) {
                $(self.$field += other.$field;)*
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::CounterSet;

    counters! {
        struct Demo { a, b }
    }

    #[test]
    fn visit_and_merge() {
        let mut x = Demo { a: 1, b: 2 };
        x.merge(&Demo { a: 10, b: 20 });
        let mut seen = Vec::new();
        x.visit(&mut |n, v| seen.push((n, v)));
        assert_eq!(seen, vec![("a", 11), ("b", 22)]);
    }
}
