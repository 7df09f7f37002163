//! Resolution (ripgrep's `hiargs`): checks what clap can't (one source, the hosts list,
//! the processors, flags that conflict) and turns the flags into a `Config`, each
//! processor's settings into its own config struct.
//!
//! What it does not do: touch the filesystem (`env` checks the input; outputs are opened
//! by the binary before the capture starts).

use std::ffi::OsString;

use clap::{CommandFactory, FromArgMatches};

use super::go::{
    check_bool_separate_values, clap_error, go_style_args, unknown_as_typed, ByteSize,
};
use super::{Cli, CliError};
use crate::config::{under_output_folder, Config, Source};
use crate::hosts::ServerSet;
use crate::processor::console::{self, ConsoleConfig};
use crate::processor::har_file::HarFileConfig;
use crate::processor::ndjson::{self, NdjsonConfig};
use crate::processor::sampled::SampledConfig;
use crate::processor::sites_stats::{self, SitesStatsConfig};
use crate::processor::sizes_stats::SizesStatsConfig;
use crate::processor::stats::group_by::GroupBy;
use crate::processor::{ProcessorConfig, NAMES};

impl Cli {
    /// Parses HttShark-style or clap-style arguments (the program name first).
    pub fn parse_go_style<I, T>(args: I) -> Result<Cli, CliError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let typed: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let args = go_style_args(typed.iter().cloned());
        check_bool_separate_values(&args)?;
        let matches = Cli::command()
            .try_get_matches_from(args)
            .map_err(|e| unknown_as_typed(clap_error(e), &typed))?;
        let mut cli = Cli::from_arg_matches(&matches).map_err(clap_error)?;
        let defaulted =
            |id| matches.value_source(id) == Some(clap::parser::ValueSource::DefaultValue);
        cli.hosts_defaulted = defaulted("hosts");
        cli.processors_defaulted = defaulted("har_processors");
        cli.live_flags_given = [("snaplen", "-snaplen"), ("buffer_size", "-buffer-size")]
            .into_iter()
            .filter(|&(id, _)| {
                matches.value_source(id) == Some(clap::parser::ValueSource::CommandLine)
            })
            .map(|(_, flag)| flag)
            .collect();
        Ok(cli)
    }

    /// A note for each HttShark flag that was given and is ignored.
    pub fn compat_notes(&self) -> Vec<String> {
        let mut notes = Vec::new();
        if let Some(engine) = &self.capture {
            notes.push(format!(
                "-capture={engine} is ignored: httshark has its own capture engine (libpcap, no tshark or httpdump)"
            ));
        }
        if self.channel_buffer.is_some() {
            notes
                .push("-channel-buffer is ignored: httshark sizes its channels itself".to_string());
        }
        if self.network_stream_channel_size.is_some() {
            notes.push(
                "-network-stream-channel-size is ignored: it worked around an httpdump bug httshark does not have"
                    .to_string(),
            );
        }
        if self.network_stream_channel_timeout.is_some() {
            notes.push(
                "-network-stream-channel-timeout is ignored: it worked around an httpdump bug httshark does not have"
                    .to_string(),
            );
        }
        if self.file.is_some() {
            for flag in &self.live_flags_given {
                notes.push(format!(
                    "{flag} is ignored with -file: it sets up a live capture (a file's records are as captured)"
                ));
            }
        }
        notes
    }

    /// Checks what clap can't (one source, the hosts list, the processors) and resolves the
    /// flags into a `Config`. Touches no file.
    pub fn into_config(mut self) -> Result<Config, CliError> {
        let command = std::mem::take(&mut self.command);
        if !command.is_empty() {
            if self.file.is_some() {
                return Err(CliError::Usage(
                    "-- COMMAND runs a program and captures its traffic live: not with -file"
                        .to_string(),
                ));
            }
            if !self.attribution {
                return Err(CliError::Usage(
                    "-- COMMAND needs process attribution: not with -attribution=false".to_string(),
                ));
            }
            if self.process.is_some() {
                return Err(CliError::Usage(
                    "-- COMMAND keeps its own process tree's traffic: not with -process"
                        .to_string(),
                ));
            }
            self.device.get_or_insert_with(|| "any".to_string());
            if self.hosts_defaulted {
                self.hosts = String::new();
            }
            if self.processors_defaulted {
                self.har_processors = console::NAME.to_string();
            }
        }
        let source = match (self.device, self.file) {
            (Some(_), Some(_)) => {
                return Err(CliError::Usage(
                    "give only one of -device and -file, not both".to_string(),
                ))
            }
            (None, None) => {
                return Err(CliError::Usage(
                    "nothing to capture from: give -device <interface> or -file <pcap file>"
                        .to_string(),
                ))
            }
            (Some(device), None) => {
                if device.is_empty() {
                    return Err(CliError::Usage(
                        "-device: the interface name is empty".to_string(),
                    ));
                }
                Source::Device(device)
            }
            (None, Some(file)) if file.as_os_str() == "-" => Source::Stdin,
            (None, Some(file)) => {
                if file.as_os_str().is_empty() {
                    return Err(CliError::Usage("-file: the path is empty".to_string()));
                }
                Source::File(file)
            }
        };
        let servers = ServerSet::parse(&self.hosts).map_err(|e| CliError::Usage(e.to_string()))?;
        let bpf_given = self.bpf.is_some();
        let filter_origin = match &self.bpf {
            Some(_) => "-bpf".to_string(),
            None => format!("-hosts {}", shell_word(&self.hosts)),
        };
        let bpf = self.bpf.unwrap_or_else(|| servers.bpf());
        let names = parse_processors(&self.har_processors).map_err(CliError::Usage)?;
        if self.output_folder.as_os_str().is_empty() {
            return Err(CliError::Usage(
                "-output-folder: the path is empty".to_string(),
            ));
        }
        let group_by = GroupBy::parse(&self.stats_group_by).map_err(CliError::Usage)?;
        let interval = self.stats_interval.0;
        // Relative output paths live under -output-folder (issue 13), absolute ones stay.
        let folder = self.output_folder.clone();
        let under = |p: &std::path::Path| under_output_folder(&folder, p);
        let mut ndjson = NdjsonConfig::from_flag(&self.ndjson_file);
        ndjson.path = ndjson.path.as_deref().map(under);
        // Every processor's settings come from the flags; the named ones run, in order.
        let candidates = [
            ProcessorConfig::File(HarFileConfig {
                folder: self.output_folder.clone(),
                split_by_host: self.split_by_host,
                interval: self.export_interval.0,
            }),
            ProcessorConfig::SitesStats(SitesStatsConfig {
                path: under(&self.sites_stats_file),
                interval,
                group_by,
                ..SitesStatsConfig::default()
            }),
            ProcessorConfig::TransactionsSizes(SizesStatsConfig {
                requests_path: under(&self.requests_sizes_stats_file),
                responses_path: under(&self.responses_sizes_stats_file),
                interval,
            }),
            ProcessorConfig::SampledTransactions(SampledConfig {
                folder: under(&self.sampled_transactions_folder),
                rate: self.sample_transactions_rate as usize,
                interval,
            }),
            ProcessorConfig::Ndjson(ndjson),
            ProcessorConfig::Console(ConsoleConfig {
                head: self.head,
                body: self.body,
                ..ConsoleConfig::default()
            }),
        ];
        let processors = names
            .iter()
            .filter_map(|n| candidates.iter().find(|c| c.name() == *n).cloned())
            .collect();

        let mut config = Config {
            source,
            servers,
            bpf,
            snaplen: self.snaplen,
            buffer_size: self.buffer_size.0,
            response_check_interval: self.response_check_interval.0,
            output_folder: self.output_folder,
            processors,
            stats_interval: interval,
            workers: usize::from(self.workers),
            har_encoding: self.har_encoding,
            overload: self.overload,
            ..Config::default()
        };
        let stdout_ndjson = matches!(
            config.processor(ndjson::NAME),
            Some(ProcessorConfig::Ndjson(NdjsonConfig { path: None }))
        );
        if config.processor(console::NAME).is_some() && stdout_ndjson {
            return Err(CliError::Usage(
                "-har-processors: console and ndjson would both write to standard output; give -ndjson-file a path"
                    .to_string(),
            ));
        }
        config.bodies = crate::transform::BodySelector::new(
            &self.drop_content_type,
            self.keep_content_type.as_deref(),
        )
        .map_err(CliError::Usage)?;
        config.metrics_listen = self.metrics_listen;
        config.redaction =
            crate::transform::Redaction::parse(self.redact_headers.as_deref().unwrap_or(""))
                .map_err(CliError::Usage)?;
        if let Some(ProcessorConfig::SitesStats(SitesStatsConfig {
            group_by: GroupBy::Header(name),
            ..
        })) = config.processor(sites_stats::NAME)
        {
            if config.redaction.covers(name) {
                return Err(CliError::Usage(format!(
                    "-stats-group-by header:{name}: that header is in -redact-headers, so every request would be one site"
                )));
            }
        }
        // Looked up now, so a misspelt user is refused before anything is opened.
        config.run_as = match &self.relinquish_privileges {
            Some(name) => Some(crate::privileges::User::lookup(name).map_err(CliError::Usage)?),
            None => None,
        };
        config.log = crate::log::LogConfig {
            verbose: self.verbose,
            aggregate_interval: self.aggregated_log_interval.0,
            max_error_chars: self.limited_error_length,
            snapshot: crate::log::SnapshotConfig {
                amount: self.log_snapshot_amount,
                file: under(&self.log_snapshot_file),
                interval: self.log_snapshot_interval.0,
                level: self.log_snapshot_level,
            },
        };
        config.filter_origin = filter_origin;
        config.hosts_defaulted = self.hosts_defaulted && command.is_empty() && !bpf_given;
        config.count = self.count;
        config.duration = self.duration.map(|d| d.0);
        config.file_pace_milli = self.file_pace;
        config.print_counters = self.counters || self.verbose >= 3;
        if self.tls_keylog.iter().any(|p| p.as_os_str().is_empty()) {
            return Err(CliError::Usage(
                "-tls-keylog: the path is empty".to_string(),
            ));
        }
        config.tls = crate::config::TlsConfig {
            keylogs: self.tls_keylog,
            wait: self.tls_keylog_wait.0,
            pickup_trial: self.tls_pickup_trial,
        };
        let live = matches!(config.source, crate::config::Source::Device(_));
        if live && self.file_pace > 0 {
            return Err(CliError::Usage(
                "-file-pace paces a capture file (-file); a live capture comes at its own pace"
                    .to_string(),
            ));
        }
        config.attribution = self.attribution && live;
        config.attribution_immediate =
            config.attribution && self.attribution_immediate.unwrap_or(!command.is_empty());
        config.process_filter = match &self.process {
            Some(p) => Some(crate::attrib::ProcessFilter::parse(p).map_err(CliError::Usage)?),
            None => None,
        };
        if config.process_filter.is_some() && !config.attribution {
            return Err(CliError::Usage(if live {
                "-process needs process attribution: not with -attribution=false".to_string()
            } else {
                "-process: processes are known on live captures only (a file's are gone)"
                    .to_string()
            }));
        }
        if let Some(ProcessorConfig::SitesStats(SitesStatsConfig {
            group_by: GroupBy::Process,
            ..
        })) = config.processor(sites_stats::NAME)
        {
            if !config.attribution {
                return Err(CliError::Usage(
                    "-stats-group-by process: processes are known on live captures with attribution only"
                        .to_string(),
                ));
            }
        }
        if let Some(har) = &self.har {
            if har.as_os_str().is_empty() {
                return Err(CliError::Usage("-har: the path is empty".to_string()));
            }
        }
        config.har = self.har.clone();
        if !command.is_empty() {
            config.command = Some(crate::config::CommandConfig {
                argv: command,
                as_root: self.command_as_root,
            });
        }
        config.http.response_timeout = self.response_timeout.0;
        config.http.max_body_keep = self.max_body_size.0;
        config.memory_limit = self.memory_limit.0;
        let per_worker = config.memory_shares().per_worker;
        if per_worker < super::go::MIN_WORKER_SHARE {
            return Err(CliError::Usage(format!(
                "-memory-limit: {} MiB leaves {} KiB to each of the {} workers (half the budget, \
                 split); give at least {} MiB, or fewer -workers",
                self.memory_limit.0 >> 20,
                per_worker >> 10,
                config.workers,
                (super::go::MIN_WORKER_SHARE * 2 * config.workers) >> 20
            )));
        }
        config.ui = match self.ui {
            None => None,
            Some(listen) => {
                let quarter = config.memory_limit / 4;
                let max_bytes = match self.ui_memory {
                    Some(ByteSize(n)) if n > quarter => {
                        return Err(CliError::Usage(format!(
                            "-ui-memory: {} MiB is more than a quarter of -memory-limit ({} MiB); raise -memory-limit or lower -ui-memory",
                            n >> 20,
                            quarter >> 20
                        )))
                    }
                    Some(ByteSize(n)) => n,
                    None => crate::ui::DEFAULT_MEMORY.min(config.memory_limit / 8),
                };
                if self.ui_max_entries == 0 {
                    return Err(CliError::Usage(
                        "-ui-max-entries: must be at least 1".into(),
                    ));
                }
                Some(crate::ui::UiConfig {
                    listen,
                    token_file: self.ui_token_file,
                    allowed_hosts: self
                        .ui_allowed_hosts
                        .as_deref()
                        .unwrap_or("")
                        .split(',')
                        .map(str::trim)
                        .filter(|h| !h.is_empty())
                        .map(str::to_string)
                        .collect(),
                    max_entries: self.ui_max_entries,
                    max_bytes,
                })
            }
        };
        Ok(config)
    }
}

/// `s` as it could be typed back to a shell: as is when plain, else single-quoted.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || ":.,[]_-/".contains(c));
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// Parses `-har-processors`: a comma list of known, distinct processor names.
fn parse_processors(list: &str) -> Result<Vec<&'static str>, String> {
    let known = || NAMES.join(", ");
    if list.trim().is_empty() {
        return Err(format!(
            "-har-processors: the list is empty (known: {})",
            known()
        ));
    }
    let mut names = Vec::new();
    for name in list.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(format!(
                "-har-processors: empty name in '{list}' (known: {})",
                known()
            ));
        }
        let known_name = NAMES.iter().find(|n| **n == name).ok_or_else(|| {
            format!(
                "-har-processors: unknown processor '{name}' (known: {})",
                known()
            )
        })?;
        if names.contains(known_name) {
            return Err(format!("-har-processors: '{name}' is listed twice"));
        }
        names.push(*known_name);
    }
    Ok(names)
}
