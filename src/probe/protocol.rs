//! The probe protocol: every name and value the plugin (`cachescan_probe`) and this side
//! agree on. Environment variables that configure a run, the output file's format and
//! version, and the enumerations a probe file uses (roles, test outcomes, target states,
//! observers) as typed enums. `tests/probe_protocol/protocol.json` lists the same names;
//! a test here and one in the plugin's own suite both check against it, so the two sides
//! cannot drift.
//!
//! [`ProbeFile`] mirrors one file as the plugin writes it; [`super::observation`] turns
//! the files of one run into an [`super::Observation`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::trace::ReuseProfile;

/// The directory each pytest process writes its `probe-<pid>.json` into.
pub(crate) const ENV_OUT: &str = "CACHESCAN_PROBE_OUT";
/// The target list (`{"version": 1, "targets": [...]}`).
pub(crate) const ENV_TARGETS: &str = "CACHESCAN_PROBE_TARGETS";
/// Set by the first probing process, so pytest runs started by the tests do not pose as the
/// project's run; never inherited from our own environment.
pub(crate) const ENV_OWNER: &str = "CACHESCAN_PROBE_OWNER";
/// `1`: observe the targets' calls per test (the call map).
pub(crate) const ENV_OBSERVE: &str = "CACHESCAN_PROBE_OBSERVE";
/// The node ids a run is limited to (`{"version": 1, "nodeids": [...]}`).
pub(crate) const ENV_SELECT: &str = "CACHESCAN_PROBE_SELECT";
/// `K/N`: run part K of N of the suite, split by test file.
pub(crate) const ENV_PART: &str = "CACHESCAN_PROBE_PART";
/// `1` or `RATE:SEED`: a checked run; verify (every, or a sample of the) cache hits.
pub(crate) const ENV_VERIFY: &str = "CACHESCAN_PROBE_VERIFY";
/// `1`: trace each observed target's cache keys and call times (a binary file per target).
pub(crate) const ENV_TRACE: &str = "CACHESCAN_PROBE_TRACE";

/// `format` of a probe file.
pub(crate) const FORMAT: &str = "cachescan-probe";
/// `version` of a probe file.
pub(crate) const VERSION: u32 = 2;
/// Version of the target list and of the selection file we write.
pub(crate) const INPUT_VERSION: u32 = 1;
/// The pseudo test that collects calls outside any test (wider-scoped fixtures).
pub(crate) const SESSION_KEY: &str = "<session>";

/// Which pytest process wrote a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Role {
    /// A run without xdist: outcomes and statistics.
    Single,
    /// The xdist controller: outcomes only.
    Controller,
    /// An xdist worker: statistics only.
    Worker,
}

impl Role {
    /// Every value, for the protocol test.
    #[cfg(test)]
    pub(crate) const ALL: [Role; 3] = [Role::Single, Role::Controller, Role::Worker];
}

/// One test's combined outcome (setup, call and teardown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Outcome {
    Passed,
    Failed,
    /// Setup or teardown failed.
    Error,
    Skipped,
    Xfailed,
    Xpassed,
}

impl Outcome {
    /// Every value, for the protocol test.
    #[cfg(test)]
    pub(crate) const ALL: [Outcome; 6] = [
        Outcome::Passed,
        Outcome::Failed,
        Outcome::Error,
        Outcome::Skipped,
        Outcome::Xfailed,
        Outcome::Xpassed,
    ];

    /// The name the protocol (and the JSON report) gives it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Failed => "failed",
            Outcome::Error => "error",
            Outcome::Skipped => "skipped",
            Outcome::Xfailed => "xfailed",
            Outcome::Xpassed => "xpassed",
        }
    }

    /// Failed or errored: a baseline test that does this is ignored in comparisons.
    pub(crate) fn is_failure(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Error)
    }
}

/// What the probe found of one target in one process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum TargetState {
    /// Loaded from our file and wrapped by a cache: hits and misses are real.
    Stats,
    /// No module loaded from our file.
    NotLoaded,
    /// The module was loaded from another file (`loaded_files` says which).
    OtherFile,
    /// Loaded from our file, but the function found there has no cache.
    NotWrapped,
    /// Loaded from our file, and the function is not there.
    Missing,
}

impl TargetState {
    /// Every value, for the protocol test.
    #[cfg(test)]
    pub(crate) const ALL: [TargetState; 5] = [
        TargetState::Stats,
        TargetState::NotLoaded,
        TargetState::OtherFile,
        TargetState::NotWrapped,
        TargetState::Missing,
    ];

    /// How much a state tells: a process that read the cache outranks one that never
    /// loaded the module.
    pub(crate) fn rank(self) -> u8 {
        match self {
            TargetState::Stats => 5,
            TargetState::NotWrapped => 4,
            TargetState::Missing => 3,
            TargetState::OtherFile => 2,
            TargetState::NotLoaded => 1,
        }
    }

    /// The test process never ran our file's code: patching it cannot change a test.
    pub(crate) fn never_loaded(self) -> bool {
        matches!(self, TargetState::NotLoaded | TargetState::OtherFile)
    }
}

/// How a target's calls were observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Observer {
    /// Its code was swapped for a trampoline that counts and times calls per test.
    CodeSwap,
    /// Reserved for `sys.monitoring`; the plugin does not use it.
    Monitoring,
    /// It could not be observed (`observer_note` says why).
    Unavailable,
    /// Observation was not asked for.
    Off,
}

impl Observer {
    /// Every value, for the protocol test.
    #[cfg(test)]
    pub(crate) const ALL: [Observer; 4] =
        [Observer::CodeSwap, Observer::Monitoring, Observer::Unavailable, Observer::Off];
}

/// Why a cache hit differed from a fresh call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Kind {
    /// The cached value was changed in place since it was stored: a caller mutated it.
    Mutated,
    /// Equal arguments of another type or repr collided on one entry.
    KeyCollision,
    /// Same arguments, unchanged value, another answer: a hidden input.
    FreshDiffers,
}

impl Kind {
    /// Every value, for the protocol test.
    #[cfg(test)]
    pub(crate) const ALL: [Kind; 3] = [Kind::Mutated, Kind::KeyCollision, Kind::FreshDiffers];

    /// The name the protocol (and the JSON report) gives it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::Mutated => "mutated",
            Kind::KeyCollision => "key-collision",
            Kind::FreshDiffers => "fresh-differs",
        }
    }
}

/// The first divergent hit of a target: where, how, and the two values (reprs).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct Divergence {
    /// The test that was running; `None` outside any test.
    pub test: Option<String>,
    pub kind: Kind,
    pub args: String,
    pub cached: String,
    pub fresh: String,
}

/// What the checks of an observed run saw of one target's would-be cache hits (the
/// hits of its cache were it the only one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ProbeVerify {
    /// The fraction of hits checked (1.0: every one).
    pub rate: f64,
    pub hits: u64,
    pub verified: u64,
    pub unverified: u64,
    pub divergent: u64,
    /// Hits the sample left unchecked.
    pub skipped: u64,
    pub divergence: Option<Divergence>,
}

/// One target's key trace in one process: the file beside the probe file (`None` when no
/// call had a key), calls, calls whose key could not be hashed, distinct keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ProbeTrace {
    pub file: Option<String>,
    pub calls: u64,
    pub unhashable: u64,
    pub keys: u64,
    /// Calls made while hashing the target's own key (cached, it would recurse).
    #[serde(default)]
    pub reentrant: u64,
    /// Calls after the first reentrant one: counted in `calls`, their keys not built.
    #[serde(default)]
    pub unkeyed: u64,
}

/// Calls of one target during one test, and the time spent inside it. The plugin writes a
/// cell as `[calls, time_ns]`; serde reads a struct from a sequence in field order, and from
/// an object too (as the baseline cache stores it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
pub(crate) struct CallStats {
    pub calls: u64,
    pub time_ns: u64,
}

/// Per test node id, per target id: the call map.
pub(crate) type CallMap = BTreeMap<String, BTreeMap<String, CallStats>>;

/// One probe file, as one pytest process wrote it: the keys this side reads. (Serialize
/// only lets the protocol test list them.)
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct ProbeFile {
    pub format: String,
    pub version: u32,
    pub role: Role,
    #[serde(default)]
    pub python: Option<String>,
    #[serde(default)]
    pub exitstatus: Option<i64>,
    #[serde(default)]
    pub collected: Option<u64>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub collect_errors: Vec<CollectError>,
    #[serde(default)]
    pub tests: Vec<ProbeTest>,
    #[serde(default)]
    pub targets: Vec<ProbeTargetReport>,
    #[serde(default)]
    pub test_calls: CallMap,
    #[serde(default)]
    pub deselected: Option<u64>,
    #[serde(default)]
    pub parted_out: Option<u64>,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct CollectError {
    pub nodeid: String,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct ProbeTest {
    pub nodeid: String,
    pub outcome: Outcome,
    #[serde(default)]
    pub message: Option<String>,
}

#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct ProbeTargetReport {
    pub id: String,
    pub state: TargetState,
    #[serde(default)]
    pub loaded_files: Vec<String>,
    #[serde(default)]
    pub hits: Option<u64>,
    #[serde(default)]
    pub misses: Option<u64>,
    #[serde(default)]
    pub currsize: Option<u64>,
    #[serde(default)]
    pub observer: Option<Observer>,
    /// `None` unless the run checks hits.
    #[serde(default)]
    pub verify: Option<ProbeVerify>,
    /// `None` unless the run traces keys.
    #[serde(default)]
    pub trace: Option<ProbeTrace>,
    /// The trace's profile, read from its file when the run is collected (not in the JSON).
    #[serde(skip)]
    pub reuse: Option<ReuseProfile>,
}

#[cfg(test)]
mod tests {
    //! The shared protocol files under `tests/probe_protocol/` (the plugin's own tests read
    //! them too): every name here must be the one they list, and the sample files of real
    //! runs must read into these types.

    use std::collections::BTreeSet;

    use serde_json::Value;

    use super::*;

    fn shared(name: &str) -> Value {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/probe_protocol")
            .join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|error| panic!("read {}: {error}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
    }

    /// The names a list of the protocol file holds.
    fn names(protocol: &Value, list: &str) -> Vec<String> {
        protocol[list]
            .as_array()
            .unwrap_or_else(|| panic!("`{list}` is not a list"))
            .iter()
            .map(|name| name.as_str().expect("a name").to_owned())
            .collect()
    }

    /// The names serde gives every value of an enum.
    fn serialized<T: Serialize>(values: &[T]) -> Vec<String> {
        values
            .iter()
            .map(|value| {
                serde_json::to_value(value)
                    .expect("serializes")
                    .as_str()
                    .expect("a name")
                    .to_owned()
            })
            .collect()
    }

    /// The keys of a serialized value: every field this side reads.
    fn keys(value: &impl Serialize) -> BTreeSet<String> {
        let value = serde_json::to_value(value).expect("serializes");
        value.as_object().expect("an object").keys().cloned().collect()
    }

    #[test]
    fn every_name_is_the_one_the_shared_protocol_file_lists() {
        let protocol = shared("protocol.json");
        assert_eq!(protocol["format"], FORMAT);
        assert_eq!(protocol["version"], VERSION);
        assert_eq!(protocol["session_key"], SESSION_KEY);
        let env = &protocol["env"];
        for (short, variable) in [
            ("out", ENV_OUT),
            ("targets", ENV_TARGETS),
            ("owner", ENV_OWNER),
            ("observe", ENV_OBSERVE),
            ("select", ENV_SELECT),
            ("part", ENV_PART),
            ("verify", ENV_VERIFY),
            ("trace", ENV_TRACE),
        ] {
            assert_eq!(env[short], variable, "env.{short}");
        }
        assert_eq!(env.as_object().map(|env| env.len()), Some(8), "every variable is named here");
        assert_eq!(serialized(&Role::ALL), names(&protocol, "roles"));
        assert_eq!(serialized(&Outcome::ALL), names(&protocol, "outcomes"));
        assert_eq!(serialized(&TargetState::ALL), names(&protocol, "states"));
        assert_eq!(serialized(&Observer::ALL), names(&protocol, "observers"));
        assert_eq!(serialized(&Kind::ALL), names(&protocol, "kinds"));
        let kinds: Vec<&str> = Kind::ALL.iter().map(|kind| kind.as_str()).collect();
        assert_eq!(kinds, names(&protocol, "kinds"), "Kind::as_str");
        assert_eq!(names(&protocol, "call_cell"), ["calls", "time_ns"]);
        let outcomes: Vec<&str> = Outcome::ALL.iter().map(|outcome| outcome.as_str()).collect();
        assert_eq!(outcomes, names(&protocol, "outcomes"), "Outcome::as_str");
    }

    #[test]
    fn the_sample_files_read_into_these_types_and_every_key_read_is_in_the_protocol() {
        let protocol = shared("protocol.json");
        let listed =
            |list: &str| -> BTreeSet<String> { names(&protocol, list).into_iter().collect() };
        let mut divergences = 0;
        let mut traces = 0;
        for sample in ["single.json", "controller.json", "worker.json"] {
            let file: ProbeFile = serde_json::from_value(shared(sample))
                .unwrap_or_else(|error| panic!("{sample}: {error}"));
            assert_eq!((file.format.as_str(), file.version), (FORMAT, VERSION), "{sample}");
            let read = keys(&file);
            assert!(read.is_subset(&listed("file_keys")), "{sample}: {read:?}");
            for test in &file.tests {
                assert!(keys(test).is_subset(&listed("test_keys")), "{sample}: {test:?}");
            }
            for error in &file.collect_errors {
                assert!(
                    keys(error).is_subset(&listed("collect_error_keys")),
                    "{sample}: {error:?}"
                );
            }
            for target in &file.targets {
                assert!(keys(target).is_subset(&listed("target_keys")), "{sample}: {target:?}");
                if let Some(trace) = &target.trace {
                    assert_eq!(keys(trace), listed("trace_keys"), "{sample}: {trace:?}");
                    traces += 1;
                }
                if let Some(verify) = &target.verify {
                    assert_eq!(keys(verify), listed("verify_keys"), "{sample}: {verify:?}");
                    if let Some(divergence) = &verify.divergence {
                        let read = keys(divergence);
                        assert_eq!(read, listed("divergence_keys"), "{sample}: {divergence:?}");
                        divergences += 1;
                    }
                }
            }
        }
        assert!(divergences > 0, "the samples show a divergence");
        assert!(traces > 0, "the samples show key traces");
    }
}
