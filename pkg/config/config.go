// Package config reads the functions' environment once, at start, and
// validates all of it: a bad value stops the start with a message naming
// the variable, instead of failing on the first request.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

// Shared is the configuration both functions share.
type Shared struct {
	SecretID    string // ZOHO_SECRET_ID: name or ARN of the secret
	JobsTable   string // JOBS_TABLE
	TokenKeyID  string // TOKEN_KEY_ID: the KMS key that seals the shared token in the table
	DataCenter  zoho.DataCenter
	Environment zoho.Environment
	APIVersion  string // v7 or v8
	AccountsURL string // override, checked
	APIURL      string // override, checked
	// JobRetention (JOB_RETENTION_DAYS) is how long finished jobs and the
	// claims of their leads are kept.
	JobRetention time.Duration
	LogLevel     slog.Level
	// ConcurrencyBudget (ZOHO_CONCURRENCY_BUDGET, 0 to 10) bounds the CRM
	// calls in flight across the whole deployment, both functions and every
	// instance, through slots in the table; 0 leaves only each instance's
	// own cap.
	ConcurrencyBudget int
	// MinZohoCreditsLeft (MIN_ZOHO_CREDITS_LEFT, 0 to 5,000,000) is the
	// credit floor: below it, as Zoho last said in X-API-CREDITS-REMAINING,
	// the bridge starts no optional work (sweeps, resends); 0 is off.
	MinZohoCreditsLeft int
}

// Convert is the convert function's configuration.
type Convert struct {
	Shared
	DeadLetterQueueURL string // DEAD_LETTER_QUEUE_URL
	MaxZohoConcurrency int    // MAX_ZOHO_CONCURRENCY
	// ConversionQueueURL (CONVERSION_QUEUE_URL) is the function's own SQS
	// intake: API requests and accumulator wake-ups go on it. Empty turns
	// fleet-wide batching off: every request is converted at once.
	ConversionQueueURL string
	// MaxWait (MAX_WAIT_SECONDS, 1 to 900) bounds how long a lead waits
	// for its call to fill up.
	MaxWait time.Duration
	// WakeQueueURL (WAKE_QUEUE_URL) is the queue the accumulators'
	// wake-ups go on: one whose event source has no batching window, so a
	// wake-up arrives when it is due. Empty: they go on the conversion
	// queue, sent half its BatchingWindow early.
	WakeQueueURL string
	// BatchingWindow (BATCHING_WINDOW_SECONDS) is the conversion queue's
	// MaximumBatchingWindowInSeconds (without a wake queue, wake-ups spend
	// up to that long in its gatherers).
	BatchingWindow time.Duration
	// DefaultOwner (DEFAULT_OWNER_ID) is the Zoho user id that owns the
	// records converted for a request without assign_to, which Zoho's Mass
	// Convert requires. Empty: such a request is refused locally.
	DefaultOwner string
}

// Status is the status function's configuration.
type Status struct {
	Shared
	Concurrency  int           // STATUS_CONCURRENCY
	StaleAfter   time.Duration // STALE_AFTER_HOURS
	EventBusName string        // EVENT_BUS_NAME; empty: no events
	// ConversionQueueURL (CONVERSION_QUEUE_URL): leads Zoho did not convert
	// are sent back there; empty: they are released, not sent again.
	ConversionQueueURL string
	// MaxLeadAttempts (MAX_LEAD_ATTEMPTS, 1 to 10, default 2): calls that
	// may carry a lead before one Zoho did not convert is rejected.
	MaxLeadAttempts int
	// MaxWait (MAX_WAIT_SECONDS, the convert function's): a batch whose
	// first lead waited longer, and a grace, is woken again by the safety net.
	MaxWait time.Duration
	// DefaultOwner (DEFAULT_OWNER_ID, the convert function's): sweeps'
	// options are decoded with it, as the convert function decodes them.
	DefaultOwner string
}

// Authorizer is the authorizer function's configuration: it reads only
// the webhook key from the secret.
type Authorizer struct {
	SecretID string // ZOHO_SECRET_ID
	LogLevel slog.Level
}

// parser collects every problem, so one start reports all of them.
type parser struct {
	getenv func(string) string
	errs   []error
}

func (p *parser) fail(name, format string, args ...any) {
	p.errs = append(p.errs, fmt.Errorf("%s: %s", name, fmt.Sprintf(format, args...)))
}

func (p *parser) str(name, def string, required bool) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		if required {
			p.fail(name, "is required")
		}
		return def
	}
	return v
}

func (p *parser) integer(name string, def, lo, hi int) int {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		p.fail(name, "want an integer from %d to %d, got %q", lo, hi, v)
		return def
	}
	return n
}

func (p *parser) url(name string) string {
	v := strings.TrimSpace(p.getenv(name))
	if v == "" {
		return ""
	}
	u, err := zoho.CheckOverrideURL(v)
	if err != nil {
		p.fail(name, "%v", err)
	}
	return u
}

func (p *parser) zoho() Shared {
	z := Shared{
		SecretID:    p.str("ZOHO_SECRET_ID", "", true),
		JobsTable:   p.str("JOBS_TABLE", "", true),
		TokenKeyID:  p.str("TOKEN_KEY_ID", "", true),
		AccountsURL: p.url("ZOHO_ACCOUNTS_URL"),
		APIURL:      p.url("ZOHO_API_URL"),
	}
	var err error
	if z.DataCenter, err = zoho.ParseDataCenter(p.str("ZOHO_DATA_CENTER", "us", false)); err != nil {
		p.fail("ZOHO_DATA_CENTER", "%v", err)
	}
	if z.Environment, err = zoho.ParseEnvironment(p.str("ZOHO_ENVIRONMENT", "production", false)); err != nil {
		p.fail("ZOHO_ENVIRONMENT", "%v", err)
	}
	switch z.APIVersion = strings.ToLower(p.str("ZOHO_API_VERSION", "v7", false)); z.APIVersion {
	case "v7", "v8":
	default:
		p.fail("ZOHO_API_VERSION", "want v7 or v8, got %q", z.APIVersion)
	}
	z.JobRetention = time.Duration(p.integer("JOB_RETENTION_DAYS", 30, 1, 3650)) * 24 * time.Hour
	z.ConcurrencyBudget = p.integer("ZOHO_CONCURRENCY_BUDGET", 0, 0, 10)
	// The largest org has 5 million credits a day (zoho-crm-api.md section 4).
	z.MinZohoCreditsLeft = p.integer("MIN_ZOHO_CREDITS_LEFT", 0, 0, 5_000_000)
	if err := z.LogLevel.UnmarshalText([]byte(p.str("LOG_LEVEL", "INFO", false))); err != nil {
		p.fail("LOG_LEVEL", "want DEBUG, INFO, WARN or ERROR")
	}
	return z
}

func (p *parser) err() error { return errors.Join(p.errs...) }

// LoadConvert reads the convert function's configuration through getenv
// (os.Getenv in Lambda).
func LoadConvert(getenv func(string) string) (Convert, error) {
	p := &parser{getenv: getenv}
	c := Convert{
		Shared:             p.zoho(),
		DeadLetterQueueURL: p.str("DEAD_LETTER_QUEUE_URL", "", false),
		// Zoho's sub-concurrency for complex APIs is 10 per org, shared by
		// every instance and the status function: keep each instance low.
		MaxZohoConcurrency: p.integer("MAX_ZOHO_CONCURRENCY", 4, 1, 25),
		ConversionQueueURL: p.str("CONVERSION_QUEUE_URL", "", false),
		WakeQueueURL:       p.str("WAKE_QUEUE_URL", "", false),
		MaxWait:            time.Duration(p.integer("MAX_WAIT_SECONDS", 60, 1, 900)) * time.Second,
		BatchingWindow:     time.Duration(p.integer("BATCHING_WINDOW_SECONDS", 0, 0, 300)) * time.Second,
		DefaultOwner:       p.str("DEFAULT_OWNER_ID", "", false),
	}
	if c.DefaultOwner != "" && !zoho.IsRecordID(c.DefaultOwner) {
		p.fail("DEFAULT_OWNER_ID", "want a Zoho user id (1 to 19 digits, no leading zero), got %q", c.DefaultOwner)
	}
	if c.BatchingWindow >= c.MaxWait && c.ConversionQueueURL != "" && c.WakeQueueURL == "" {
		p.fail("BATCHING_WINDOW_SECONDS", "must be shorter than MAX_WAIT_SECONDS (%s), or no wake-up can be on time", c.MaxWait)
	}
	return c, p.err()
}

// LoadStatus reads the status function's configuration.
func LoadStatus(getenv func(string) string) (Status, error) {
	p := &parser{getenv: getenv}
	s := Status{
		Shared:             p.zoho(),
		Concurrency:        p.integer("STATUS_CONCURRENCY", 5, 1, 25),
		StaleAfter:         time.Duration(p.integer("STALE_AFTER_HOURS", 24, 1, 24*90)) * time.Hour,
		EventBusName:       p.str("EVENT_BUS_NAME", "", false),
		ConversionQueueURL: p.str("CONVERSION_QUEUE_URL", "", false),
		MaxLeadAttempts:    p.integer("MAX_LEAD_ATTEMPTS", 2, 1, 10),
		MaxWait:            time.Duration(p.integer("MAX_WAIT_SECONDS", 60, 1, 900)) * time.Second,
		DefaultOwner:       p.str("DEFAULT_OWNER_ID", "", false),
	}
	if s.DefaultOwner != "" && !zoho.IsRecordID(s.DefaultOwner) {
		p.fail("DEFAULT_OWNER_ID", "want a Zoho user id (1 to 19 digits, no leading zero), got %q", s.DefaultOwner)
	}
	return s, p.err()
}

// LoadAuthorizer reads the authorizer function's configuration.
func LoadAuthorizer(getenv func(string) string) (Authorizer, error) {
	p := &parser{getenv: getenv}
	a := Authorizer{SecretID: p.str("ZOHO_SECRET_ID", "", true)}
	if err := a.LogLevel.UnmarshalText([]byte(p.str("LOG_LEVEL", "INFO", false))); err != nil {
		p.fail("LOG_LEVEL", "want DEBUG, INFO, WARN or ERROR")
	}
	return a, p.err()
}
