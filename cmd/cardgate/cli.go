package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"runtime/debug"
	"sort"
	"strings"

	"github.com/cardgate/cardgate/internal/signer"
)

// errHelpShown: the help asked for was printed; the process exits 0.
var errHelpShown = errors.New("help shown")

// usageError is a mistake on the command line: main prints it on one line with a pointer to the
// command's help, and exits 2.
type usageError struct {
	cmd string
	err error
}

func (e usageError) Error() string {
	return fmt.Sprintf("%s: %v (run \"cardgate %s -h\" for its flags)", e.cmd, e.err, e.cmd)
}

func (e usageError) Unwrap() error { return e.err }

// newFlagSet is a command's flag set, its usage a line and the flags (a command may set its own).
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "Usage: cardgate %s [flags]\n\nFlags:\n", name)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses a command's flags. -h/--help prints the command's flags on stdout; an
// unknown flag or a bad value is one line naming it (the flag package would print the whole
// flag list to stderr, then the error again); a positional argument is refused, since no command
// takes one and a card number or id given without its flag would otherwise be silently ignored.
func parseArgs(fs *flag.FlagSet, args []string, stdout io.Writer) error {
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		fs.SetOutput(stdout)
		fs.Usage()
		return errHelpShown
	case err != nil:
		return usageError{fs.Name(), err}
	case fs.NArg() > 0:
		what := fs.Arg(0)
		return usageError{fs.Name(), fmt.Errorf("unexpected argument %q: every value goes with its flag, such as --card %s", what, what)}
	}
	return nil
}

// groups are the commands with subcommands.
var groups = []string{"merchant", "notifications", "routing", "clock", "sandbox", "dispute", "report", "vault", "completion", "logs"}

func isGroup(name string) bool {
	for _, g := range groups {
		if g == name {
			return true
		}
	}
	return false
}

func isHelp(arg string) bool {
	return arg == "-h" || arg == "--help" || arg == "help" || arg == "-help"
}

// groupUsage is the part of the usage about one command: its lines of the top-level usage.
func groupUsage(name string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Usage:\n")
	lines := strings.Split(usage, "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "  cardgate "+name+" ") && lines[i] != "  cardgate "+name {
			continue
		}
		b.WriteString(lines[i] + "\n")
		// Continuation lines are indented deeper than a command line.
		for i+1 < len(lines) && strings.HasPrefix(lines[i+1], "   ") {
			i++
			b.WriteString(lines[i] + "\n")
		}
	}
	fmt.Fprintf(&b, "\nRun \"cardgate %s <subcommand> -h\" for the flags of a subcommand.\n", name)
	return b.String()
}

// versionCmd prints the module version and the commit the binary was built from.
func versionCmd(args []string, stdout io.Writer) error {
	if len(args) > 0 && !isHelp(args[0]) {
		return usageError{"version", fmt.Errorf("unexpected argument %q", args[0])}
	}
	fmt.Fprintln(stdout, versionLine())
	return nil
}

func versionLine() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "cardgate (no build information) signers " + strings.Join(signer.Builtin(), ",")
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	line := "cardgate " + v
	settings := map[string]string{}
	for _, s := range info.Settings {
		settings[s.Key] = s.Value
	}
	if rev := settings["vcs.revision"]; rev != "" {
		line += " commit " + rev[:min(12, len(rev))]
		if settings["vcs.modified"] == "true" {
			line += " (modified)"
		}
		if t := settings["vcs.time"]; t != "" {
			line += " " + t
		}
	}
	// Which signers this build has (-tags openssl, -tags pkcs11): what `serve` and `bench --signer`
	// can use, without starting either.
	return line + " " + info.GoVersion + " signers " + strings.Join(signer.Builtin(), ",")
}

// completionCmd prints a shell completion script. The script asks the binary itself
// ("cardgate __complete <words>") so that it always knows the flags of the binary it completes.
func completionCmd(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return usageError{"completion", errors.New("name the shell: bash or zsh")}
	}
	switch args[0] {
	case "bash":
		_, err := io.WriteString(stdout, bashCompletion)
		return err
	case "zsh":
		_, err := io.WriteString(stdout, zshCompletion)
		return err
	}
	return usageError{"completion", fmt.Errorf("unknown shell %q: bash or zsh", args[0])}
}

const bashCompletion = `# cardgate bash completion: source <(cardgate completion bash)
_cardgate() {
    local cur=${COMP_WORDS[COMP_CWORD]}
    COMPREPLY=($(compgen -W "$(cardgate __complete "${COMP_WORDS[@]:1:COMP_CWORD-1}" 2>/dev/null)" -- "$cur"))
}
complete -o default -F _cardgate cardgate
`

const zshCompletion = `#compdef cardgate
# cardgate zsh completion: source <(cardgate completion zsh)
_cardgate() {
    local -a words_before candidates
    words_before=("${(@)words[2,CURRENT-1]}")
    candidates=(${(f)"$(cardgate __complete "${words_before[@]}" 2>/dev/null)"})
    compadd -a candidates
}
compdef _cardgate cardgate
`

// complete lists what may follow the words typed after "cardgate": the commands, a group's
// subcommands, or the flags of the command, read from its own -h.
func complete(words []string, stdout io.Writer) error {
	var out []string
	switch {
	case len(words) == 0:
		out = append(commandNames(), "help", "version")
	case isGroup(words[0]) && len(words) == 1:
		out = subcommands(words[0])
	default:
		cmd := words[:1]
		if isGroup(words[0]) {
			cmd = words[:2]
		}
		var help strings.Builder
		_ = run(context.Background(), append(append([]string{}, cmd...), "-h"), &help, io.Discard)
		for _, line := range strings.Split(help.String(), "\n") {
			if strings.HasPrefix(line, "  -") {
				out = append(out, "--"+strings.TrimLeft(strings.Fields(line)[0], "-"))
			}
		}
	}
	sort.Strings(out)
	_, err := io.WriteString(stdout, strings.Join(out, "\n")+"\n")
	return err
}

// commandNames are the top-level commands, as the usage lists them.
func commandNames() []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(usage, "\n") {
		if rest, ok := strings.CutPrefix(line, "  cardgate "); ok {
			name := strings.Fields(rest)[0]
			if !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	return out
}

func subcommands(group string) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(usage, "\n") {
		if rest, ok := strings.CutPrefix(line, "  cardgate "+group+" "); ok {
			for _, alt := range strings.Split(strings.Fields(rest)[0], "|") {
				if !strings.HasPrefix(alt, "-") && !strings.HasPrefix(alt, "[") && !seen[alt] {
					seen[alt] = true
					out = append(out, alt)
				}
			}
		}
	}
	return out
}
