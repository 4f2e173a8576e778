package config

import (
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/zoho-bridge/leadconvert/pkg/zoho"
)

func env(kv map[string]string) func(string) string {
	return func(k string) string { return kv[k] }
}

func TestLoadConvertDefaults(t *testing.T) {
	c, err := LoadConvert(env(map[string]string{"ZOHO_SECRET_ID": "zoho", "JOBS_TABLE": "jobs", "TOKEN_KEY_ID": "alias/token"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.DataCenter != zoho.US || c.Environment != zoho.Production || c.APIVersion != "v7" ||
		c.MaxZohoConcurrency != 4 || c.JobRetention != 30*24*time.Hour || c.APIURL != "" || c.MinZohoCreditsLeft != 0 {
		t.Fatalf("defaults: %+v", c)
	}
}

func TestLoadConvertValues(t *testing.T) {
	c, err := LoadConvert(env(map[string]string{
		"ZOHO_SECRET_ID": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:zoho-AbCdEf", "JOBS_TABLE": "jobs",
		"TOKEN_KEY_ID":     "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		"ZOHO_DATA_CENTER": "CA", "ZOHO_ENVIRONMENT": "sandbox", "ZOHO_API_VERSION": "V8",
		"ZOHO_API_URL": "http://127.0.0.1:8089/", "ZOHO_ACCOUNTS_URL": "https://accounts.example.test",
		"DEAD_LETTER_QUEUE_URL": "https://sqs.eu-west-1.amazonaws.com/123456789012/dlq", "MAX_ZOHO_CONCURRENCY": "8",
		"JOB_RETENTION_DAYS": "7", "LOG_LEVEL": "debug", "MIN_ZOHO_CREDITS_LEFT": "5000",
	}))
	if err != nil {
		t.Fatal(err)
	}
	if c.TokenKeyID != "arn:aws:kms:eu-west-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab" ||
		c.DataCenter != zoho.CA || c.Environment != zoho.Sandbox || c.APIVersion != "v8" || c.APIURL != "http://127.0.0.1:8089" ||
		c.MaxZohoConcurrency != 8 || c.JobRetention != 7*24*time.Hour || c.LogLevel.String() != "DEBUG" || c.MinZohoCreditsLeft != 5000 {
		t.Fatalf("values: %+v", c)
	}
}

func TestLoadNamesEveryBadVariable(t *testing.T) {
	_, err := LoadConvert(env(map[string]string{
		"ZOHO_DATA_CENTER": "uk", "ZOHO_ENVIRONMENT": "staging", "ZOHO_API_VERSION": "v6",
		"ZOHO_API_URL": "http://zoho.example.test", "MAX_ZOHO_CONCURRENCY": "0", "JOB_RETENTION_DAYS": "x", "LOG_LEVEL": "loud",
		"MIN_ZOHO_CREDITS_LEFT": "-1",
	}))
	for _, name := range []string{"ZOHO_SECRET_ID", "JOBS_TABLE", "TOKEN_KEY_ID", "ZOHO_DATA_CENTER", "ZOHO_ENVIRONMENT", "ZOHO_API_VERSION",
		"ZOHO_API_URL", "MAX_ZOHO_CONCURRENCY", "JOB_RETENTION_DAYS", "LOG_LEVEL", "MIN_ZOHO_CREDITS_LEFT"} {
		if err == nil || !strings.Contains(err.Error(), name+":") {
			t.Errorf("error does not name %s: %v", name, err)
		}
	}
}

func TestLoadStatus(t *testing.T) {
	s, err := LoadStatus(env(map[string]string{"ZOHO_SECRET_ID": "z", "JOBS_TABLE": "j", "TOKEN_KEY_ID": "k", "EVENT_BUS_NAME": "bus", "STALE_AFTER_HOURS": "48"}))
	if err != nil || s.Concurrency != 5 || s.StaleAfter != 48*time.Hour || s.EventBusName != "bus" {
		t.Fatalf("%+v, %v", s, err)
	}
	if _, err := LoadStatus(env(map[string]string{"ZOHO_SECRET_ID": "z", "JOBS_TABLE": "j", "TOKEN_KEY_ID": "k", "STATUS_CONCURRENCY": "99"})); err == nil ||
		!strings.Contains(err.Error(), "STATUS_CONCURRENCY") {
		t.Fatalf("err = %v", err)
	}
}

func TestLoadConvertDefaultOwner(t *testing.T) {
	for _, tc := range []struct {
		value, want string
		ok          bool
	}{
		{"", "", true},
		{"3652397000000186017", "3652397000000186017", true},
		{" 3652397000000186017 ", "3652397000000186017", true},
		{"1", "1", true},
		{"0", "", false},
		{"03652397000000186017", "", false},
		{"0123", "", false},
		{"12a", "", false},
		{"-1", "", false},
		{"9223372036854775808", "", false}, // beyond Zoho's long
		{"ann@example.com", "", false},
	} {
		t.Run(tc.value, func(t *testing.T) {
			c, err := LoadConvert(env(map[string]string{"ZOHO_SECRET_ID": "z", "JOBS_TABLE": "j", "TOKEN_KEY_ID": "k", "DEFAULT_OWNER_ID": tc.value}))
			if !tc.ok {
				if err == nil || !strings.Contains(err.Error(), "DEFAULT_OWNER_ID:") {
					t.Fatalf("accepted %q (got %q): %v", tc.value, c.DefaultOwner, err)
				}
				return
			}
			if err != nil || c.DefaultOwner != tc.want {
				t.Fatalf("DefaultOwner %q, %v; want %q", c.DefaultOwner, err, tc.want)
			}
		})
	}
}

// TestLoadAuthorizer: the authorizer needs the secret and nothing else (no
// table), and names a bad variable.
func TestLoadAuthorizer(t *testing.T) {
	tests := []struct {
		name    string
		env     map[string]string
		wantErr string // "" for none
		level   slog.Level
	}{
		{"the secret alone", map[string]string{"ZOHO_SECRET_ID": "zoho"}, "", slog.LevelInfo},
		{"a log level", map[string]string{"ZOHO_SECRET_ID": "zoho", "LOG_LEVEL": "debug"}, "", slog.LevelDebug},
		{"no secret", map[string]string{"JOBS_TABLE": "jobs"}, "ZOHO_SECRET_ID", 0},
		{"a bad log level", map[string]string{"ZOHO_SECRET_ID": "zoho", "LOG_LEVEL": "LOUD"}, "LOG_LEVEL", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, err := LoadAuthorizer(env(tt.env))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one naming %s", err, tt.wantErr)
				}
				return
			}
			if err != nil || a.SecretID != "zoho" || a.LogLevel != tt.level {
				t.Fatalf("%+v, %v", a, err)
			}
		})
	}
}
