package auditdetectprocessor

import (
	"errors"
	"fmt"
	"time"

	"go.opentelemetry.io/collector/confmap/xconfmap"
)

// Mode says what the processor does with a match.
type Mode string

const (
	// ModeFork passes the audit record on unchanged and adds one risk record per risk object per value.
	ModeFork Mode = "fork"
	// ModeEnrich adds RBA attributes to the matching record itself and adds no records.
	ModeEnrich Mode = "enrich"
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
	// Rules lists rule files, directories (every *.yml/*.yaml inside), globs, and the word "builtin".
	Rules []string `mapstructure:"rules"`
	// Macros overrides or adds SPL macros (kube_audit, kube_allowed_*, <detection>_filter), by name.
	Macros map[string]string `mapstructure:"macros"`
	// OnRuleError is fail (default) or skip.
	OnRuleError OnRuleError `mapstructure:"on_rule_error"`
	// Mode is fork (default) or enrich.
	Mode Mode `mapstructure:"mode"`
	// DropUnmatched forwards only matching records and risk records, cutting ingest at the edge.
	DropUnmatched bool `mapstructure:"drop_unmatched"`
	// RiskIndex is the Splunk index of risk records (com.splunk.index).
	RiskIndex string `mapstructure:"risk_index"`
	// RiskSourcetype is the sourcetype of risk records (com.splunk.sourcetype).
	RiskSourcetype string `mapstructure:"risk_sourcetype"`
	// GeoIPDatabase is a MaxMind GeoLite2/GeoIP2 City database for `iplocation`.
	GeoIPDatabase string `mapstructure:"geoip_database"`
	// Window is the event-time window of stats rules that filter on an aggregate (`where count > 5`).
	Window time.Duration `mapstructure:"window"`
	// MaxKeys bounds the groups one windowed rule holds.
	MaxKeys int `mapstructure:"max_keys"`
}

var _ xconfmap.Validator = (*Config)(nil)

func createDefaultConfig() *Config {
	return &Config{
		Rules:          []string{BuiltinRules},
		OnRuleError:    RuleErrorFail,
		Mode:           ModeFork,
		RiskIndex:      "risk",
		RiskSourcetype: "stash",
		Window:         time.Hour,
		MaxKeys:        100000,
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
	case ModeFork, ModeEnrich:
	default:
		errs = errors.Join(errs, fmt.Errorf("mode: %q is not fork or enrich", cfg.Mode))
	}
	if cfg.Mode == ModeFork && cfg.RiskIndex == "" {
		errs = errors.Join(errs, errors.New("risk_index: must not be empty in fork mode"))
	}
	if cfg.Window <= 0 {
		errs = errors.Join(errs, fmt.Errorf("window: must be positive, got %s", cfg.Window))
	}
	if cfg.MaxKeys <= 0 {
		errs = errors.Join(errs, fmt.Errorf("max_keys: must be positive, got %d", cfg.MaxKeys))
	}
	if errs != nil {
		return errs
	}
	_, err := buildDetector(cfg, nil)
	return err
}
