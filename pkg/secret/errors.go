package secret

// Codes for logs and metrics (the log's code, ZohoErrors by Code) that tell
// a secret an operator must mend, or a secret that cannot be read, from a
// network error.
const (
	CodeInvalid     = "SECRET_INVALID"     // a *ConfigError
	CodeUnavailable = "SECRET_UNAVAILABLE" // no read succeeded recently enough
)

// ConfigError is a secret whose content cannot be used: an operator must
// mend the secret, and retrying will not help until then. It names the
// field at fault and never its value, so it is safe to log.
type ConfigError struct {
	Field  string // the JSON key at fault; empty when the secret as a whole is wrong
	Reason string // e.g. "must be a non-empty string"
}

func (e *ConfigError) Error() string {
	if e.Field == "" {
		return "secret: " + e.Reason
	}
	return "secret: " + e.Field + ": " + e.Reason
}
