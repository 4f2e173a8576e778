package deploytest

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/zoho-bridge/leadconvert/internal/awstest"
)

func TestMain(m *testing.M) { awstest.Main(m) }

// envBuild names sam build's output directory; make deploy-emulated sets
// it after running sam build. Without it the deploy tests skip: they deploy
// what was built, not the working tree.
const envBuild = "LEADCONVERT_DEPLOY_BUILD"

// deployment is what a deploy test needs.
type deployment struct {
	cfg              aws.Config
	root, build      string
	endpoint, python string
}

func requireBuild(t *testing.T) *deployment {
	t.Helper()
	build := os.Getenv(envBuild)
	if build == "" {
		t.Skipf("%s is not set: run `make deploy-emulated` (sam build, then these tests)", envBuild)
	}
	cfg := awstest.Require(t)
	root, err := awstest.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return &deployment{cfg: cfg, root: root, build: build, endpoint: aws.ToString(cfg.BaseEndpoint),
		python: filepath.Join(root, ".venv", "bin", "python")}
}

// deploy creates stack name from the built template with params.
func (d *deployment) deploy(t *testing.T, name string, params map[string]string) *Stack {
	t.Helper()
	s, err := Deploy(t.Context(), Options{Config: d.cfg, Endpoint: d.endpoint, Stack: name,
		Template: filepath.Join(d.build, "template.yaml"), BuildDir: d.build, Python: d.python, Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack %s:\n%s", name, s.Summary())
	return s
}

// samconfigEnv is one environment of samconfig.toml: its stack name and
// its deploy parameters.
type samconfigEnv struct {
	stack  string
	params map[string]string
}

var (
	tomlSection = regexp.MustCompile(`^\[([a-z]+)\.([a-z]+)\.parameters\]$`)
	tomlString  = regexp.MustCompile(`^([a-z_]+)\s*=\s*"((?:[^"\\]|\\.)*)"$`)
	override    = regexp.MustCompile(`(\w+)=\\?"([^"\\]*)\\?"`)
)

// samconfig reads samconfig.toml's environments: only the two keys the
// deploy needs, stack_name and parameter_overrides.
func samconfig(t *testing.T, root string) map[string]samconfigEnv {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "samconfig.toml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	envs := map[string]samconfigEnv{}
	var env string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if m := tomlSection.FindStringSubmatch(line); m != nil {
			env = m[1]
			if _, ok := envs[env]; !ok {
				envs[env] = samconfigEnv{params: map[string]string{}}
			}
			continue
		}
		m := tomlString.FindStringSubmatch(line)
		if m == nil || env == "" {
			continue
		}
		e := envs[env]
		switch m[1] {
		case "stack_name":
			e.stack = m[2]
		case "parameter_overrides":
			for _, p := range override.FindAllStringSubmatch(m[2], -1) {
				e.params[p[1]] = p[2]
			}
		}
		envs[env] = e
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return envs
}

// TestTwoStacksSideBySide: samconfig.toml's default and sandbox stacks,
// created in one account and region, both complete, none of their named
// resources shared.
func TestTwoStacksSideBySide(t *testing.T) {
	d := requireBuild(t)
	envs := samconfig(t, d.root)
	names := map[string]string{} // physical name -> stack
	for _, env := range []string{"default", "sandbox"} {
		e, ok := envs[env]
		if !ok || e.stack == "" {
			t.Fatalf("samconfig.toml has no %s stack_name", env)
		}
		s := d.deploy(t, e.stack+"-twin", e.params)
		// Each has its own parameters.
		conf := d.functionConfiguration(t, s.Physical("StatusFunction"))
		if got, want := conf.Environment.Variables["ZOHO_ENVIRONMENT"], e.params["ZohoEnvironment"]; got != want {
			t.Errorf("%s's status function has ZOHO_ENVIRONMENT %q, want samconfig's %q", s.Name, got, want)
		}
		// Every name carries the stack's: those the template gives, and
		// those CloudFormation makes up. Ids and inline policies are exempt.
		for id, r := range s.Created {
			switch r.Type {
			case "AWS::KMS::Key", "AWS::Lambda::EventSourceMapping", "AWS::Lambda::Permission", "AWS::IAM::Policy":
				continue
			}
			if !strings.Contains(r.Physical, s.Name) {
				t.Errorf("%s's %s (%s) is named %q, without the stack's name", s.Name, id, r.Type, r.Physical)
			}
		}
		for _, id := range []string{"StatusFunctionSchedule", "ZohoSecret"} {
			if !strings.Contains(s.StoodIn[id], s.Name) {
				t.Errorf("%s's %s is named %q, without the stack's name", s.Name, id, s.StoodIn[id])
			}
		}
		for id, r := range s.Created {
			if prev, ok := names[r.Physical]; ok && r.Physical != "" {
				t.Errorf("%s's %s is %s, as in %s", s.Name, id, r.Physical, prev)
			}
			names[r.Physical] = s.Name
		}
		for id, v := range s.StoodIn {
			if prev, ok := names[v]; ok && v != "$default" {
				t.Errorf("%s's stand-in %s is %s, as in %s", s.Name, id, v, prev)
			}
			names[v] = s.Name
		}
	}
}

// TestDeployFailsOnADroppedResource: a type moto's CloudFormation lacks and
// nobody stands in for fails the deploy, though moto reports the stack
// complete.
func TestDeployFailsOnADroppedResource(t *testing.T) {
	d := requireBuild(t)
	const typ = "AWS::Scheduler::Schedule"
	saved := StandIns[typ]
	delete(StandIns, typ)
	t.Cleanup(func() { StandIns[typ] = saved })
	_, err := Deploy(t.Context(), Options{Config: d.cfg, Endpoint: d.endpoint, Stack: "dropped",
		Template: filepath.Join(d.build, "template.yaml"), BuildDir: d.build, Python: d.python})
	if err == nil || !strings.Contains(err.Error(), "StatusFunctionSchedule ("+typ+") was neither created nor stood in for") {
		t.Fatalf("Deploy: %v; want the schedule reported as dropped", err)
	}
}
