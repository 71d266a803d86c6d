package auditdetectprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/confmap/xconfmap"

	"github.com/auditdetect/auditdetect/processor/engine"
	"github.com/auditdetect/auditdetect/processor/loader"
	"github.com/auditdetect/auditdetect/processor/rba"
	"github.com/auditdetect/auditdetect/processor/spl"
)

// Mode says what the processor does with a match.
type Mode string

const (
	// ModeFork passes the audit record on unchanged and adds one risk record per risk object per value.
	ModeFork Mode = "fork"
	// ModeEnrich adds RBA attributes to the matching record itself and adds no records.
	ModeEnrich Mode = "enrich"
	// ModeRoute is the agent tier of a scale-out deployment (docs/stateful.md): it detects nothing and sets the
	// TraceID of each audit record that a windowed rule counts from the rule's key, so that the loadbalancing
	// exporter sends every record of one key to the same gateway.
	ModeRoute Mode = "route"
)

// OnRuleError says what to do with a rule that does not load.
type OnRuleError string

const (
	// RuleErrorFail stops the collector at start-up with the file, line and reason.
	RuleErrorFail OnRuleError = "fail"
	// RuleErrorSkip logs the rule once and runs without it.
	RuleErrorSkip OnRuleError = "skip"
)

// BuiltinRules is the word in `rules:` that names the embedded rule pack.
const BuiltinRules = "builtin"

// Config is the auditdetect processor's configuration.
type Config struct {
	// Rules lists rule files, directories (every *.yml/*.yaml/*.toml inside), globs, and the word "builtin".
	Rules []string `mapstructure:"rules"`
	// Macros overrides or adds SPL macros (kube_audit, kube_allowed_*, <detection>_filter), by name.
	Macros map[string]string `mapstructure:"macros"`
	// Lookups gives SPL lookups' CSV files, by lookup name: the table of a lookup a lookup file among the rules
	// defines (its match settings kept), or a lookup of Splunk's default settings.
	Lookups map[string]string `mapstructure:"lookups"`
	// SPLTimeZone is the IANA time zone of ESCU detections' time functions and day bins (convert ctime/mktime,
	// strftime, strptime, bin span=1d): the zone of the user Splunk runs the search as, a scheduled search's owner.
	// Default UTC.
	SPLTimeZone string `mapstructure:"spl_time_zone"`
	// OnRuleError is fail (default) or skip.
	OnRuleError OnRuleError `mapstructure:"on_rule_error"`
	// Mode is fork (default), enrich or route (the agent tier of a scale-out deployment).
	Mode Mode `mapstructure:"mode"`
	// DropUnmatched forwards only matching records and risk records, cutting ingest at the edge.
	DropUnmatched bool `mapstructure:"drop_unmatched"`
	// RiskIndex is the Splunk index of risk records (com.splunk.index).
	RiskIndex string `mapstructure:"risk_index"`
	// RiskSourcetype is the sourcetype of risk records (com.splunk.sourcetype).
	RiskSourcetype string `mapstructure:"risk_sourcetype"`
	// ESCUApp is the app label in the search_name of ESCU detections' risk records, `<escu_app> - <name> - Rule`, as
	// Splunk ES names their saved searches (default ESCU). Empty: the detection's name alone.
	ESCUApp string `mapstructure:"escu_app"`
	// GeoIPDatabase is a MaxMind GeoLite2/GeoIP2 City database for `iplocation`.
	GeoIPDatabase string `mapstructure:"geoip_database"`
	// Window is the event-time window of stats rules that filter on an aggregate (`where count > 5`), unless the rule
	// has its own (an ES|QL rule's look-back).
	Window time.Duration `mapstructure:"window"`
	// MaxKeys bounds the groups one windowed rule holds, and the keys of one throttled rule.
	MaxKeys int `mapstructure:"max_keys"`
	// AllowedLateness keeps a window open for events this much older than the newest event its rule has seen.
	AllowedLateness time.Duration `mapstructure:"allowed_lateness"`
	// IdleTimeout is how long no audit event may come before the clock of windows answered at their close and of the
	// throttles moves on with the wall clock, so that they answer on an idle stream too (idle.go). 0 turns it off.
	IdleTimeout time.Duration `mapstructure:"idle_timeout"`
	// NewTermsLearning is how long (event time) new_terms rules only learn after start-up (or a reload that changes
	// them), so that their empty history does not report the whole traffic as new. 0 (default): they report from the
	// first event.
	NewTermsLearning time.Duration `mapstructure:"new_terms_learning"`
	// RuleOverrides holds per-rule settings, keyed by rule id, name or search name.
	RuleOverrides map[string]RuleOverride `mapstructure:"rule_overrides"`
	// ElasticFieldMap maps ECS fields of Elastic rules to audit-event paths, merged over the default table.
	ElasticFieldMap map[string]string `mapstructure:"elastic_field_map"`
	// RoutingAttribute, in route mode, also writes the routing key to this record attribute ("" writes none).
	RoutingAttribute string `mapstructure:"routing_attribute"`
	// MaxBodyBytes is the largest body evaluated; a larger record passes through unevaluated and is counted.
	MaxBodyBytes int `mapstructure:"max_body_bytes"`
	// MaxRiskEventsPerRecord caps the risk records one audit record yields in fork mode; past it they are shared
	// out among the matching rules (rba.Writer).
	MaxRiskEventsPerRecord int `mapstructure:"max_risk_events_per_record"`
	// Formats lists the record shapes read: native, eventlist, eks, aks, gke (unset: all). Records of other shapes
	// pass through unevaluated and are counted (sources.go).
	Formats []string `mapstructure:"formats"`
	// ReloadInterval, when positive, is how often the rule files are read again; a changed set that loads replaces
	// the running one (reload.go). 0 (default) never reloads.
	ReloadInterval time.Duration `mapstructure:"reload_interval"`
	// Storage names a storage extension (file_storage) that keeps the state of stateful rules across restarts
	// (persist.go). Unset: the state lives in memory only.
	Storage *component.ID `mapstructure:"storage"`
	// CheckpointInterval is how often the state is saved to Storage, besides at shutdown (0: at shutdown only).
	CheckpointInterval time.Duration `mapstructure:"checkpoint_interval"`
}

// DefaultMaxBodyBytes is 8 MiB: the API server refuses request bodies over 3 MiB and etcd stores objects of at most
// 1.5 MiB, so a RequestResponse event carrying both its objects stays well under it.
const DefaultMaxBodyBytes = 8 << 20

// RuleOverride holds the settings of one rule: `rule_overrides: {<rule id or name>: {...}}`.
type RuleOverride struct {
	// Enabled false turns the rule off: it is still loaded and checked (a broken file still fails start-up), but not
	// evaluated, and it writes nothing. Left out or true: the rule runs.
	Enabled *bool `mapstructure:"enabled"`
	// Window replaces window for this rule's windowed stats.
	Window time.Duration `mapstructure:"window"`
	// Throttle suppresses repeats of this rule's risk events (fork mode).
	Throttle *ThrottleConfig `mapstructure:"throttle"`
	// RiskObjects replaces the rule's risk objects (Sigma and Elastic rules default to user.username).
	RiskObjects []RiskObjectConfig `mapstructure:"risk_objects"`
	// ThreatObjects replaces the rule's threat objects (Sigma and Elastic rules default to src_ip, the client).
	ThreatObjects []ThreatObjectConfig `mapstructure:"threat_objects"`
	// Message replaces the rule's risk message: text with $field$ tokens filled from the result row, as ESCU's
	// rba.message.
	Message string `mapstructure:"message"`
}

// ThrottleConfig lets one risk event per key through per window; later matches of the key in the window are
// counted and the count is reported later (suppressed_count).
type ThrottleConfig struct {
	// Fields are the result-row fields that make the key; empty: the rule's risk object fields.
	Fields []string `mapstructure:"fields"`
	// Window is the suppression window, opened by the match that goes out.
	Window time.Duration `mapstructure:"window"`
}

var _ xconfmap.Validator = (*Config)(nil)

func createDefaultConfig() *Config {
	return &Config{
		Rules:          []string{BuiltinRules},
		OnRuleError:    RuleErrorFail,
		Mode:           ModeFork,
		RiskIndex:      "risk",
		RiskSourcetype: "stash",
		ESCUApp:        loader.DefaultESCUApp,
		SPLTimeZone:    "UTC",
		Window:         time.Hour,
		MaxKeys:        100000,
		MaxBodyBytes:   DefaultMaxBodyBytes,
		// A real event yields a handful of risk records; 100 keeps them all and bounds a hostile one.
		MaxRiskEventsPerRecord: rba.DefaultMaxRiskEvents,
		// Enough for the seconds by which API servers and collection agents reorder events, well under a window.
		AllowedLateness: 5 * time.Minute,
		// A minute without one audit event: an API server whose audit policy logs anything writes several a minute.
		// Shorter than allowed_lateness, so that an idle stream's windows answer when a busy stream's would.
		IdleTimeout: time.Minute,
		// What a crash (not a shutdown, which saves) may lose: a minute of counting, against a write per minute.
		CheckpointInterval: time.Minute,
	}
}

// Validate checks the settings, then loads and compiles the rules, so that `otelcol validate` reports a bad rule
// file with its file, line and reason before the collector is ever started.
func (cfg *Config) Validate() error {
	var errs error
	if len(cfg.Rules) == 0 {
		errs = errors.Join(errs, errors.New("rules: at least one entry is required (use [builtin] for the embedded pack)"))
	}
	switch cfg.OnRuleError {
	case RuleErrorFail, RuleErrorSkip:
	default:
		errs = errors.Join(errs, fmt.Errorf("on_rule_error: %q is not fail or skip", cfg.OnRuleError))
	}
	switch cfg.Mode {
	case ModeFork, ModeEnrich, ModeRoute:
	default:
		errs = errors.Join(errs, fmt.Errorf("mode: %q is not fork, enrich or route", cfg.Mode))
	}
	if cfg.Mode == ModeFork && cfg.RiskIndex == "" {
		errs = errors.Join(errs, errors.New("risk_index: must not be empty in fork mode"))
	}
	if cfg.Mode == ModeFork && cfg.RiskSourcetype == "" {
		// Risk events are found by their sourcetype (stash, by default, as Splunk ES's own): an empty one is a
		// mistake, not a choice.
		errs = errors.Join(errs, errors.New("risk_sourcetype: must not be empty in fork mode"))
	}
	errs = errors.Join(errs, loader.CheckLookups(cfg.Lookups))
	if _, err := spl.LoadTimeZone(cfg.SPLTimeZone); err != nil {
		errs = errors.Join(errs, fmt.Errorf("spl_time_zone: %w", err))
	}
	if cfg.Window <= 0 {
		errs = errors.Join(errs, fmt.Errorf("window: must be positive, got %s", cfg.Window))
	}
	errs = errors.Join(errs, atMostAYear("window", cfg.Window))
	if cfg.MaxKeys <= 0 {
		errs = errors.Join(errs, fmt.Errorf("max_keys: must be positive, got %d", cfg.MaxKeys))
	}
	errs = errors.Join(errs, cfg.validateStateful())
	if cfg.MaxBodyBytes <= 0 {
		errs = errors.Join(errs, fmt.Errorf("max_body_bytes: must be positive, got %d", cfg.MaxBodyBytes))
	}
	if cfg.MaxRiskEventsPerRecord <= 0 {
		errs = errors.Join(errs, fmt.Errorf("max_risk_events_per_record: must be positive, got %d", cfg.MaxRiskEventsPerRecord))
	}
	errs = errors.Join(errs, interval("checkpoint_interval", cfg.CheckpointInterval),
		interval("reload_interval", cfg.ReloadInterval), interval("idle_timeout", cfg.IdleTimeout),
		atMostAYear("idle_timeout", cfg.IdleTimeout))
	if _, err := newNormalizer(cfg); err != nil {
		errs = errors.Join(errs, err)
	}
	if errs != nil {
		return errs
	}
	d, err := buildDetector(cfg, nil)
	if err != nil {
		return err
	}
	d.close() // the GeoIP database it opened
	return nil
}

func atMostAYear(key string, d time.Duration) error {
	if d > engine.MaxStateDuration {
		return fmt.Errorf("%s: must be at most %s (366 days), got %s", key, engine.MaxStateDuration, d)
	}
	return nil
}

// minInterval is the shortest reload or checkpoint interval: shorter, re-reading every rule file or encoding the
// whole state would keep a core busy.
const minInterval = time.Second

// interval checks a period that is off at 0.
func interval(key string, d time.Duration) error {
	switch {
	case d < 0:
		return fmt.Errorf("%s: must not be negative, got %s", key, d)
	case d > 0 && d < minInterval:
		return fmt.Errorf("%s: must be 0 (off) or at least %s, got %s", key, minInterval, d)
	}
	return nil
}
