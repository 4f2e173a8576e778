package app_test

import (
	"os"
	"regexp"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestServerlessRepoMetadata: the template carries what `sam publish`
// needs, within the Serverless Application Repository's rules (SAM's
// "Metadata section properties"), so a publish fails for no field of ours.
func TestServerlessRepoMetadata(t *testing.T) {
	raw, err := os.ReadFile("../../template.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var tmpl struct {
		Metadata struct {
			App struct {
				Name            string   `yaml:"Name"`
				Description     string   `yaml:"Description"`
				Author          string   `yaml:"Author"`
				ReadmeUrl       string   `yaml:"ReadmeUrl"`
				SemanticVersion string   `yaml:"SemanticVersion"`
				HomePageUrl     string   `yaml:"HomePageUrl"`
				SourceCodeUrl   string   `yaml:"SourceCodeUrl"`
				SpdxLicenseId   string   `yaml:"SpdxLicenseId"`
				LicenseUrl      string   `yaml:"LicenseUrl"`
				Labels          []string `yaml:"Labels"`
			} `yaml:"AWS::ServerlessRepo::Application"`
		} `yaml:"Metadata"`
	}
	if err := yaml.Unmarshal(raw, &tmpl); err != nil {
		t.Fatal(err)
	}
	app := tmpl.Metadata.App
	semver := regexp.MustCompile(`^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)$`)
	label := regexp.MustCompile(`^[a-zA-Z0-9+\-_:/@]{1,127}$`)
	for _, c := range []struct {
		what string
		ok   bool
	}{
		{"Name: 1 to 140 of [a-zA-Z0-9-]", regexp.MustCompile(`^[a-zA-Z0-9-]{1,140}$`).MatchString(app.Name)},
		{"Description: 1 to 256 characters", len(app.Description) >= 1 && len(app.Description) <= 256},
		{"Author: lower-case words joined by single hyphens, at most 127", len(app.Author) <= 127 &&
			regexp.MustCompile(`^[a-z0-9]([a-z0-9]|-[a-z0-9])*$`).MatchString(app.Author)},
		{"SemanticVersion: major.minor.patch", semver.MatchString(app.SemanticVersion)},
		{"SourceCodeUrl and HomePageUrl: https", regexp.MustCompile(`^https://`).MatchString(app.SourceCodeUrl) &&
			regexp.MustCompile(`^https://`).MatchString(app.HomePageUrl)},
		{"Labels: at most 10", len(app.Labels) <= 10},
		// A licence is the maintainers' choice and cannot be changed once
		// published: none is named until they make it.
		{"no licence named yet", app.SpdxLicenseId == "" && app.LicenseUrl == ""},
	} {
		if !c.ok {
			t.Errorf("AWS::ServerlessRepo::Application: %s", c.what)
		}
	}
	for _, l := range app.Labels {
		if !label.MatchString(l) {
			t.Errorf("label %q: 1 to 127 of [a-zA-Z0-9+-_:/@]", l)
		}
	}
	if st, err := os.Stat("../../" + app.ReadmeUrl); err != nil || st.Size() > 5<<20 {
		t.Errorf("ReadmeUrl %q: a local file of at most 5 MB (sam package uploads it): %v", app.ReadmeUrl, err)
	}
}
