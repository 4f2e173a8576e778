package deploytest

import (
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	"github.com/zoho-bridge/leadconvert/internal/rie"
	"github.com/zoho-bridge/leadconvert/internal/zohosim"
	"github.com/zoho-bridge/leadconvert/internal/zohotest"
	"github.com/zoho-bridge/leadconvert/pkg/aws/table"
)

// previousRelease is the commit of the previous release: its template is
// testdata/template-<commit>.yaml, its code is built from the commit.
const previousRelease = "8378bde"

// buildRelease builds the functions of commit into a directory laid out as
// sam build's (<LogicalId>/bootstrap), for this machine.
func (d *deployment) buildRelease(t *testing.T, commit string) string {
	t.Helper()
	src := t.TempDir()
	archive := filepath.Join(t.TempDir(), "src.tar")
	for _, args := range [][]string{
		{"git", "-C", d.root, "archive", "--format=tar", "-o", archive, commit},
		{"tar", "-xf", archive, "-C", src},
	} {
		if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s (the upgrade test needs the repository's history)", strings.Join(args, " "), err, out)
		}
	}
	build := t.TempDir()
	for _, id := range slices.Sorted(maps.Keys(functionPackages)) {
		dir := filepath.Join(build, id)
		if err := os.Mkdir(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if _, err := rie.BuildIn(src, functionPackages[id], dir, runtime.GOARCH); err != nil {
			t.Fatal(err)
		}
	}
	return build
}

// TestUpgradeFromPreviousRelease creates the stack from the previous
// release's template with its code, leaves a job open and a lead waiting
// for its wake-up, then updates the stack to this tree's template and code
// (UpdateStack). The table and the secret survive, only what README's
// upgrade notes name is replaced, and the new functions follow the job and
// the lead recorded before to their end.
func TestUpgradeFromPreviousRelease(t *testing.T) {
	d := requireBuild(t)
	oldBuild := d.buildRelease(t, previousRelease)
	params := maps.Clone(samconfig(t, d.root)["default"].params)
	params["MaxWaitSeconds"] = "1"
	name := "zoho-lead-convert-upgrade"
	before, err := Deploy(t.Context(), Options{Config: d.cfg, Endpoint: d.endpoint, Stack: name,
		Template: filepath.Join("testdata", "template-"+previousRelease+".yaml"), BuildDir: oldBuild, Python: d.python, Parameters: params})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack %s, previous release:\n%s", name, before.Summary())
	// Its status schedule had a fixed name: a second stack of it (the
	// sandbox) failed in the same account and region, which
	// TestTwoStacksSideBySide holds this release does not.
	sandbox := samconfig(t, d.root)["sandbox"]
	_, err = Deploy(t.Context(), Options{Config: d.cfg, Endpoint: d.endpoint, Stack: sandbox.stack + "-previous",
		Template: filepath.Join("testdata", "template-"+previousRelease+".yaml"), BuildDir: oldBuild, Python: d.python, Parameters: sandbox.params})
	if err == nil || !strings.Contains(err.Error(), "ConflictException") || !strings.Contains(err.Error(), "StatusFunctionSchedule") {
		t.Fatalf("a second stack of the previous release: %v; want a conflict on its schedule's name", err)
	}

	sim := zohosim.New(zohosim.Options{Clock: zohosim.NewManualClock(time.Now().UTC().Truncate(time.Second))})
	leads := sim.SeedLeadRange(3)
	zohoURL, stop := sim.Start()
	t.Cleanup(stop)
	c := d.cli(t)
	t.Cleanup(func() { t.Logf("the operator's session:\n\n%s", c.log.String()) })
	stack := []string{"--stack", name}
	c.run(t, 0, "connect", "--client-id", zohosim.DefaultClientID, "--code", sim.GrantCode(3*time.Minute),
		"--zoho-accounts-url", "us="+zohoURL, "--zoho-api-url", zohoURL, "--stack", name)
	sim.ResetStats()
	secretBefore := readSecret(t, d, before.Outputs["SecretArn"])

	// The previous release at work: two leads sent in one call (an open
	// job), a third parked with its wake-up on the way.
	old := d.startBootstrap(t, before, "ConvertFunction", zohoURL, filepath.Join(oldBuild, "ConvertFunction", "bootstrap"))
	conversions, wakeups := d.queue(before, "ConversionQueue"), d.queue(before, "WakeQueue")
	send := func(ids ...string) {
		t.Helper()
		for _, id := range ids {
			if _, err := conversions.sqs.SendMessage(t.Context(), &sqs.SendMessageInput{QueueUrl: aws.String(conversions.url),
				MessageBody: aws.String(zohotest.Body(id))}); err != nil {
				t.Fatal(err)
			}
		}
	}
	send(leads[0], leads[1])
	conversions.deliver(t, old, conversions.receive(t, 2))
	wakeups.deliver(t, old, wakeups.receive(t, 1))
	if jobs := sim.Jobs(); len(jobs) != 1 || len(jobs[0].IDs) != 2 {
		t.Fatalf("before the upgrade Zoho has jobs %+v, want one with two leads", jobs)
	}
	firstJob := sim.Jobs()[0].ID
	send(leads[2])
	conversions.deliver(t, old, conversions.receive(t, 1))
	old.Close()

	after, err := Deploy(t.Context(), Options{Config: d.cfg, Endpoint: d.endpoint, Stack: name,
		Template: filepath.Join(d.build, "template.yaml"), BuildDir: d.build, Python: d.python, Parameters: params, Previous: before})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("stack %s, upgraded:\n%s", name, after.Summary())

	// Kept: the table and the secret, with its value.
	for _, out := range []string{"JobsTableName", "SecretArn", "QueueUrl", "DeadLetterQueueUrl", "TokenKeyArn"} {
		if before.Outputs[out] != after.Outputs[out] {
			t.Errorf("output %s: %s before the upgrade, %s after", out, before.Outputs[out], after.Outputs[out])
		}
	}
	if got := readSecret(t, d, after.Outputs["SecretArn"]); !maps.Equal(got, secretBefore) {
		t.Error("the upgrade changed the secret's value")
	}
	// Replaced, added and removed, as README's upgrade notes say.
	var replaced, added, removed []string
	for id, r := range after.Created {
		switch prev, ok := before.Created[id]; {
		case !ok:
			added = append(added, id)
		case prev.Physical != r.Physical:
			replaced = append(replaced, id)
		}
	}
	for id, v := range after.StoodIn {
		switch prev, ok := before.StoodIn[id]; {
		case !ok:
			added = append(added, id)
		case prev != v:
			replaced = append(replaced, id)
		}
	}
	for id := range before.Created {
		if _, ok := after.Created[id]; !ok {
			removed = append(removed, id)
		}
	}
	slices.Sort(replaced)
	slices.Sort(added)
	if want := []string{"StatusFunctionSchedule"}; !slices.Equal(replaced, want) {
		t.Errorf("the upgrade replaced %v, want %v (README, Operations: upgrading)", replaced, want)
	}
	// Additions are whatever this release brings; nothing may go.
	if len(removed) > 0 {
		t.Errorf("the upgrade removed %v", removed)
	}
	t.Logf("the upgrade replaced %v, added %v", replaced, added)

	// The replaced schedule is gone; the functions have the new variables.
	if _, err := scheduler.NewFromConfig(d.cfg).GetSchedule(t.Context(), &scheduler.GetScheduleInput{Name: aws.String(before.StoodIn["StatusFunctionSchedule"])}); err == nil {
		t.Errorf("the previous schedule %s outlived the upgrade", before.StoodIn["StatusFunctionSchedule"])
	}

	// The new release follows what the old one left: the wake-up sends the
	// parked lead, the status function finishes both jobs.
	fns := map[string]*function{}
	for _, id := range []string{"ConvertFunction", "StatusFunction"} {
		fns[id] = d.startFunction(t, after, id, zohoURL)
	}
	if _, ok := fns["StatusFunction"].env["MAX_WAIT_SECONDS"]; !ok {
		t.Fatal("the updated status function lacks MAX_WAIT_SECONDS, which this template gives it")
	}
	wakeups.deliver(t, fns["ConvertFunction"], wakeups.receive(t, 1))
	jobs := sim.Jobs()
	if len(jobs) != 2 || !slices.Equal(jobs[1].IDs, []string{leads[2]}) {
		t.Fatalf("after the upgrade Zoho has jobs %+v, want a second one with the parked lead", jobs)
	}
	sim.Clock().(*zohosim.ManualClock).Advance(5 * time.Minute)
	fns["StatusFunction"].call(t, map[string][]string{"job_ids": {firstJob, jobs[1].ID}}, nil)
	store := table.NewJobStore(table.NewClient(d.cfg), after.Outputs["JobsTableName"])
	for _, id := range []string{firstJob, jobs[1].ID} {
		j, err := store.Job(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if j.State.Open() {
			t.Errorf("job %s is %s after the upgrade's status run, want final", id, j.State)
		}
	}
	for _, id := range leads {
		out, _ := c.run(t, 0, append([]string{"lead", id}, stack...)...)
		if !strings.Contains(out, "CONVERTED") {
			t.Errorf("lead %s after the upgrade:\n%s", id, out)
		}
	}
}
