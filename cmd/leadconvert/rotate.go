package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"
	"github.com/zoho-bridge/leadconvert/pkg/app"
	"github.com/zoho-bridge/leadconvert/pkg/zoho/oauth"
)

type rotateFlags struct {
	d      deployment
	finish bool
	show   bool
}

func newRotateKeyCmd() *cobra.Command {
	var f rotateFlags
	cmd := &cobra.Command{
		Use:   "rotate-key",
		Short: "Rotate the API's webhook key without refusing either key meanwhile",
		Long: `rotate-key replaces the API's webhook key in two steps, so that no caller
is refused while it moves to the new key.

First run: a new random key becomes webhook_key and the old one becomes
webhook_key_previous. Both are admitted: each function instance sees the new
key within a minute (a key it does not know makes it read the secret again,
at most once a minute), the old one until the rotation is finished. Then
change the X-Webhook-Key parameter of the webhook in Zoho (Setup >
Automation > Actions > Webhooks) and of every other caller.

With --finish: webhook_key_previous is removed; instances refuse the old key
once their cached secret expires (5 minutes).

Neither key is printed unless --show is given (the new key, on standard
output alone, for a script); otherwise read it from the secret:
  aws secretsmanager get-secret-value --secret-id <SecretArn> --query SecretString

Touches: Secrets Manager (DescribeSecret, GetSecretValue, PutSecretValue).`,
		Example: `  # start a rotation, then update Zoho's webhook with the new key
  leadconvert rotate-key --stack lead-convert
  # once every caller sends the new key
  leadconvert rotate-key --stack lead-convert --finish`,
		Args: func(cmd *cobra.Command, args []string) error {
			if err := cobra.NoArgs(cmd, args); err != nil {
				return usageError{err}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRotateKey(cmd.Context(), f, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f.d.addAWSFlags(cmd)
	cmd.Flags().BoolVar(&f.finish, "finish", false, "end a rotation: remove the previous key")
	cmd.Flags().BoolVar(&f.show, "show", false, "print the new key on standard output (nothing else goes there)")
	return cmd
}

func runRotateKey(ctx context.Context, f rotateFlags, stdout, stderr io.Writer) error {
	if f.finish && f.show {
		return usageError{errors.New("--show prints a new key; --finish makes none")}
	}
	sm, cur, err := f.d.openSecret(ctx)
	if err != nil {
		return err
	}
	if !cur.exists || cur.str("webhook_key") == "" {
		return fmt.Errorf("secret %s has no webhook_key to rotate: run leadconvert connect first", f.d.Secret)
	}
	_, rotating := cur.fields["webhook_key_previous"]
	next := make(map[string]any, len(cur.fields)+1)
	for k, v := range cur.fields {
		next[k] = v
	}
	var key, report string
	switch {
	case f.finish && !rotating:
		return fmt.Errorf("secret %s has no rotation under way (no webhook_key_previous): nothing to finish", f.d.Secret)
	case f.finish:
		delete(next, "webhook_key_previous")
		report = "Rotation finished: webhook_key_previous removed. Instances refuse the old key once their cached secret expires (within 5 minutes)."
	case rotating:
		return fmt.Errorf("secret %s is already rotating (it has webhook_key_previous): run rotate-key --finish once every caller sends the current key, then rotate again", f.d.Secret)
	default:
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return fmt.Errorf("generating a webhook key: %w", err)
		}
		key = base64.RawURLEncoding.EncodeToString(b)
		next["webhook_key_previous"], next["webhook_key"] = cur.fields["webhook_key"], key
		report = "Rotation started: a new webhook_key; the old one stays admitted as webhook_key_previous.\n" +
			"Next: 1. within a minute every instance admits the new key;\n" +
			"      2. set it as the X-Webhook-Key of the webhook in Zoho (Setup > Automation > Actions > Webhooks) and of every other caller;\n" +
			"      3. then run: leadconvert rotate-key --finish" + stackHint(f.d)
	}
	value, err := json.Marshal(next)
	if err != nil {
		return fmt.Errorf("encoding the secret: %w", err)
	}
	// What the functions will read must parse: check it as they do.
	if _, bad := app.ParseWebhookKeys(string(value)); bad != nil {
		return fmt.Errorf("the new secret would not parse: %w", bad)
	}
	if _, err := oauth.ParseSecret(string(value)); err != nil {
		return fmt.Errorf("the new secret would not parse: %w", err)
	}
	if err := writeSecret(ctx, sm, f.d.Secret, true, string(value)); err != nil {
		return err
	}
	fmt.Fprintln(stderr, report)
	if f.show {
		fmt.Fprintln(stdout, key)
	}
	return nil
}

// stackHint repeats how the deployment was named, for the next command.
func stackHint(d deployment) string {
	if d.Stack != "" {
		return " --stack " + d.Stack
	}
	return " --secret " + d.Secret
}
