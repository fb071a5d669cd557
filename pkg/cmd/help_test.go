package cmd

import (
	"bytes"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
)

func helpRoot(t *testing.T) *cobra.Command {
	t.Helper()
	var none bytes.Buffer
	return NewRootCmd(genericiooptions.IOStreams{In: &none, Out: &none, ErrOut: &none})
}

func subcommand(t *testing.T, root *cobra.Command, name string) *cobra.Command {
	t.Helper()
	c, _, err := root.Find([]string{name})
	if err != nil || c == root {
		t.Fatalf("no subcommand %s: %v", name, err)
	}
	return c
}

// The one-line descriptions that speak of the mechanism name both, and the root's exit codes cover every
// command that has --exit-code.
func TestHelpNamesBothMechanisms(t *testing.T) {
	t.Parallel()
	root := helpRoot(t)
	texts := map[string]string{"root short": root.Short, "root long": root.Long}
	for _, name := range []string{"bind", "doctor"} {
		texts[name+" short"] = subcommand(t, root, name).Short
	}
	for what, text := range texts {
		if !strings.Contains(text, "IRSA") || !strings.Contains(text, "EKS Pod Identity") {
			t.Errorf("%s names one mechanism only: %q", what, text)
		}
	}
	for _, c := range root.Commands() {
		if c.Flags().Lookup("exit-code") == nil {
			continue
		}
		for _, code := range []string{"0  ", "2  "} {
			_, line, _ := strings.Cut(root.Long, "\n  "+code)
			line, _, _ = strings.Cut(line, "\n")
			if !strings.Contains(line, c.Name()) {
				t.Errorf("the root help's exit code %s line leaves out %s, which has --exit-code: %q", strings.TrimSpace(code), c.Name(), line)
			}
		}
	}
}

// Placeholders are upper-case words (pflag's back-quoted convention), never a Go type name. kubectl's
// standard flags (cli-runtime's) are left as kubectl spells them, hidden flags are not shown, and -v's
// "count" is how pflag marks a flag that is repeated (-vv) rather than given a value.
func TestHelpPlaceholdersAreNames(t *testing.T) {
	t.Parallel()
	standard := pflag.NewFlagSet("kubectl", pflag.ContinueOnError)
	genericclioptions.NewConfigFlags(true).AddFlags(standard)
	root := helpRoot(t)
	checked := 0
	for _, c := range append(root.Commands(), root) {
		c.Flags().VisitAll(func(f *pflag.Flag) {
			if standard.Lookup(f.Name) != nil || f.Hidden || f.Value.Type() == "count" {
				return
			}
			name, _ := pflag.UnquoteUsage(f)
			checked++
			if name != "" && (name != strings.ToUpper(name) || strings.ContainsAny(name, " ")) {
				t.Errorf("%s --%s shows the placeholder %q; give its usage a back-quoted upper-case word", c.Name(), f.Name, name)
			}
		})
	}
	if checked < 50 {
		t.Fatalf("checked only %d flags", checked)
	}
}

// --restart's default differs between the commands; each help says so.
func TestHelpExplainsRestartDefaults(t *testing.T) {
	t.Parallel()
	root := helpRoot(t)
	for name, others := range map[string][]string{"bind": {"unbind"}, "unbind": {"bind", "migrate"}, "migrate": {"bind", "unbind"}} {
		f := subcommand(t, root, name).Flags().Lookup("restart")
		if f == nil {
			t.Fatalf("%s has no --restart", name)
		}
		on := map[string]string{"true": "On by default", "false": "Off by default"}[f.DefValue]
		if !strings.Contains(f.Usage, on) {
			t.Errorf("%s --restart (default %s) does not say %q: %q", name, f.DefValue, on, f.Usage)
		}
		for _, o := range others {
			if !strings.Contains(f.Usage, o) {
				t.Errorf("%s --restart does not compare its default with %s's: %q", name, o, f.Usage)
			}
		}
	}
}

// One name for the Deployment across commands: manifest shows --deployment, as bind and doctor do, and
// keeps --name working as a hidden alias its help mentions.
func TestHelpOneNameForTheDeployment(t *testing.T) {
	t.Parallel()
	root := helpRoot(t)
	for _, name := range []string{"bind", "doctor", "manifest"} {
		if subcommand(t, root, name).Flags().Lookup("deployment") == nil {
			t.Errorf("%s has no --deployment", name)
		}
	}
	m := subcommand(t, root, "manifest")
	alias := m.Flags().Lookup("name")
	if alias == nil || !alias.Hidden {
		t.Fatalf("manifest --name should stay, hidden: %+v", alias)
	}
	if !strings.Contains(m.Flags().Lookup("deployment").Usage, "--name") {
		t.Error("manifest --deployment's usage does not mention --name, its older name")
	}
	if usage := m.Flags().FlagUsages(); strings.Contains(usage, "--name") && !strings.Contains(usage, "--name is the same flag") {
		t.Errorf("manifest's flag list shows --name as a flag of its own:\n%s", usage)
	}
}
