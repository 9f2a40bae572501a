package config

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	yaml "go.yaml.in/yaml/v3"
)

// Redacted is what every printed form of a Secret shows in place of the value.
const Redacted = "**redacted**"

// DefaultSecretTimeout bounds a secret command, so that a password manager
// waiting for a prompt nobody answers cannot hang a scheduled sweep.
const DefaultSecretTimeout = 10 * time.Second

// maxSecretFile guards against pointing a secret at a large file by mistake.
const maxSecretFile = 64 << 10

type sourceKind int

const (
	fromEnv sourceKind = iota + 1
	fromFile
	fromCommand
	fromLiteral
)

// secretSource is one place a secret can come from.
type secretSource struct {
	kind    sourceKind
	ref     string   // variable name or file path
	args    []string // command and arguments
	shell   bool     // run args[0] with sh -c
	timeout time.Duration
	value   string // literal only
	// fallback marks a source of a default chain: when it is simply absent
	// (variable unset, file missing), the next source is tried.
	fallback bool
}

func (s secretSource) describe() string {
	switch s.kind {
	case fromEnv:
		return "env:" + s.ref
	case fromFile:
		return "file:" + s.ref
	case fromCommand:
		// Only the program name: arguments can carry tokens.
		if s.shell {
			return "command:sh"
		}
		if len(s.args) > 0 {
			return "command:" + filepath.Base(s.args[0])
		}
		return "command"
	case fromLiteral:
		return "inline"
	}
	return "unset"
}

// Secret is a credential named in the configuration: an environment
// variable, a file, a command's output, or (discouraged) a string written in
// the file. It resolves only when Reveal is called, and every printed or
// encoded form shows **redacted** with the source, never the value.
type Secret struct {
	key     string // config key, for error messages ("shodan.api_key")
	sources []secretSource
}

// EnvSecret reads the secret from an environment variable.
func EnvSecret(name string) Secret {
	return Secret{sources: []secretSource{{kind: fromEnv, ref: name}}}
}

// FileSecret reads the secret from a file; surrounding white space is trimmed.
func FileSecret(path string) Secret {
	return Secret{sources: []secretSource{{kind: fromFile, ref: path}}}
}

// CommandSecret runs the program with its arguments (no shell) and takes
// its trimmed standard output.
func CommandSecret(args ...string) Secret {
	return Secret{sources: []secretSource{{kind: fromCommand, args: args, timeout: DefaultSecretTimeout}}}
}

// LiteralSecret holds the value itself, for tests and flags.
func LiteralSecret(v string) Secret {
	return Secret{sources: []secretSource{{kind: fromLiteral, value: v}}}
}

// firstOf is a default chain: the first source that is present wins.
func firstOf(ss ...Secret) Secret {
	var out Secret
	for _, s := range ss {
		for _, src := range s.sources {
			src.fallback = true
			out.sources = append(out.sources, src)
		}
	}
	return out
}

// IsSet reports whether the secret names a source at all (not whether the
// source currently holds a value).
func (s Secret) IsSet() bool { return len(s.sources) > 0 }

// IsInline reports whether the value is written in the configuration itself.
func (s Secret) IsInline() bool {
	return len(s.sources) == 1 && s.sources[0].kind == fromLiteral
}

// Source names where the secret comes from, e.g. "env:SHODAN_API_KEY" or
// "env:SHODAN_API_KEY|file:/home/a/.config/shodan/api_key".
func (s Secret) Source() string {
	if len(s.sources) == 0 {
		return "unset"
	}
	parts := make([]string, len(s.sources))
	for i, src := range s.sources {
		parts[i] = src.describe()
	}
	return strings.Join(parts, "|")
}

func (s Secret) redacted() string {
	if len(s.sources) == 0 {
		return "(unset)"
	}
	return Redacted + " (" + s.Source() + ")"
}

// String never shows the value.
func (s Secret) String() string { return s.redacted() }

// GoString keeps %#v of a whole Config free of the value.
func (s Secret) GoString() string { return s.redacted() }

// Format covers every verb (%x, %q, %+v ...), so no verb dumps the fields.
func (s Secret) Format(f fmt.State, verb rune) {
	if verb == 'q' {
		fmt.Fprintf(f, "%q", s.redacted())
		return
	}
	io.WriteString(f, s.redacted())
}

// LogValue keeps slog from reflecting into the value.
func (s Secret) LogValue() slog.Value { return slog.StringValue(s.redacted()) }

// MarshalJSON writes the redacted form.
func (s Secret) MarshalJSON() ([]byte, error) { return json.Marshal(s.redacted()) }

// MarshalText writes the redacted form (encoders that prefer text).
func (s Secret) MarshalText() ([]byte, error) { return []byte(s.redacted()), nil }

// MarshalYAML writes the redacted form.
func (s Secret) MarshalYAML() (any, error) { return s.redacted(), nil }

// errSecretAbsent marks a source with nothing in it, so a default chain
// can move on.
var errSecretAbsent = errors.New("absent")

// absentError is a source with nothing in it; the text says which.
type absentError struct{ msg string }

func (e absentError) Error() string        { return e.msg }
func (e absentError) Is(target error) bool { return target == errSecretAbsent }

func absent(format string, args ...any) error { return absentError{fmt.Sprintf(format, args...)} }

// Reveal resolves the secret. Each call reads the source again, so a
// rotated secret is picked up by the next sweep. Errors never contain the
// value, nor a command's output.
func (s Secret) Reveal(ctx context.Context) (string, error) {
	name := s.key
	if name == "" {
		name = "secret"
	}
	if len(s.sources) == 0 {
		return "", fmt.Errorf("%s: not configured", name)
	}
	var tried []string
	for _, src := range s.sources {
		v, err := src.reveal(ctx)
		if err == nil {
			return v, nil
		}
		if src.fallback && errors.Is(err, errSecretAbsent) {
			tried = append(tried, src.describe())
			continue
		}
		return "", fmt.Errorf("%s: %w", name, err)
	}
	return "", fmt.Errorf("%s: not found (tried %s)", name, strings.Join(tried, ", "))
}

func (src secretSource) reveal(ctx context.Context) (string, error) {
	switch src.kind {
	case fromLiteral:
		if strings.TrimSpace(src.value) == "" {
			return "", errors.New("empty value")
		}
		return strings.TrimSpace(src.value), nil
	case fromEnv:
		v, ok := os.LookupEnv(src.ref)
		if !ok {
			return "", absent("environment variable %s is not set", src.ref)
		}
		v = strings.TrimSpace(v)
		if v == "" {
			return "", absent("environment variable %s is empty", src.ref)
		}
		return v, nil
	case fromFile:
		return readSecretFile(src.ref)
	case fromCommand:
		return runSecretCommand(ctx, src)
	}
	return "", errors.New("no source")
}

func readSecretFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", absent("file %s does not exist", path)
		}
		if errors.Is(err, fs.ErrPermission) {
			return "", fmt.Errorf("file %s: permission denied", path)
		}
		return "", fmt.Errorf("file %s: cannot open", path)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		// The os error text names only the path and the cause.
		return "", fmt.Errorf("file %s: cannot read", path)
	}
	if len(b) > maxSecretFile {
		return "", fmt.Errorf("file %s is larger than %d KiB; is it the right file?", path, maxSecretFile>>10)
	}
	v := strings.TrimSpace(string(b))
	if v == "" {
		return "", fmt.Errorf("file %s is empty", path)
	}
	return v, nil
}

// runSecretCommand runs the command and keeps only its standard output.
// Standard error is discarded, not quoted: a failing helper may echo what
// it was given.
func runSecretCommand(ctx context.Context, src secretSource) (string, error) {
	if len(src.args) == 0 {
		return "", errors.New("empty command")
	}
	timeout := src.timeout
	if timeout <= 0 {
		timeout = DefaultSecretTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var cmd *exec.Cmd
	if src.shell {
		cmd = exec.CommandContext(ctx, "/bin/sh", "-c", src.args[0])
	} else {
		cmd = exec.CommandContext(ctx, src.args[0], src.args[1:]...)
	}
	var out bytes.Buffer
	cmd.Stdout = &limitedWriter{w: &out, n: maxSecretFile}
	cmd.Stderr = io.Discard
	cmd.Stdin = nil
	ownProcessGroup(cmd)
	// A grandchild that keeps the pipe open must not hold us past the timeout.
	cmd.WaitDelay = time.Second
	who := src.describe()
	err := cmd.Run()
	if ctx.Err() == context.DeadlineExceeded {
		return "", fmt.Errorf("%s: no answer within %s (timeout; raise it with timeout:)", who, Duration(timeout))
	}
	if err != nil {
		var ee *exec.ExitError
		switch {
		case errors.As(err, &ee):
			return "", fmt.Errorf("%s: exited with status %d (its error output is not shown because it could hold the secret; run the command yourself to see it)", who, ee.ExitCode())
		case errors.Is(err, exec.ErrNotFound):
			return "", fmt.Errorf("%s: program not found in PATH", who)
		case ctx.Err() != nil:
			return "", fmt.Errorf("%s: %w", who, ctx.Err())
		default:
			return "", fmt.Errorf("%s: cannot run it", who)
		}
	}
	v := strings.TrimSpace(out.String())
	if v == "" {
		return "", fmt.Errorf("%s: printed nothing on standard output", who)
	}
	return v, nil
}

// limitedWriter keeps at most n bytes and drops the rest without failing
// the command.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}

// secretSpec is the mapping form in the file.
type secretSpec struct {
	Env     string   `yaml:"env"`
	File    string   `yaml:"file"`
	Command command  `yaml:"command"`
	Shell   bool     `yaml:"shell"`
	Timeout Duration `yaml:"timeout"`
}

// command is a program with arguments, written as one string (split like a
// shell would split words, without expanding anything) or as a list.
type command []string

func (c *command) decodeNode(w *walker, n *yaml.Node, path string) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return
		}
		args, err := splitWords(n.Value)
		if err != nil {
			w.fail(n.Line, path, err.Error(), "")
			return
		}
		*c = args
	case yaml.SequenceNode:
		var args []string
		for i, e := range n.Content {
			if e.Kind != yaml.ScalarNode || e.ShortTag() == "!!null" {
				w.fail(e.Line, fmt.Sprintf("%s[%d]", path, i), "expected a word, got "+describe(e), "")
				return
			}
			args = append(args, e.Value)
		}
		*c = args
	default:
		w.fail(n.Line, path, "expected a command line or a list of words, got "+describe(n), "")
	}
}

// splitWords splits a command line into words with shell-like quoting
// ('...', "...", backslash) and no expansion of any kind.
func splitWords(s string) ([]string, error) {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	esc := false
	for _, r := range s {
		switch {
		case esc:
			cur.WriteRune(r)
			esc = false
		case quote != 0:
			if r == quote {
				quote = 0
			} else if r == '\\' && quote == '"' {
				esc = true
			} else {
				cur.WriteRune(r)
			}
		case r == '\\':
			esc, inWord = true, true
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		default:
			cur.WriteRune(r)
			inWord = true
		}
	}
	if quote != 0 {
		return nil, errors.New("unclosed quote in command")
	}
	if esc {
		return nil, errors.New("command ends with a backslash")
	}
	if inWord {
		words = append(words, cur.String())
	}
	if len(words) == 0 {
		return nil, errors.New("empty command")
	}
	return words, nil
}

// decodeNode reads a secret from the file: a plain string (kept, with a
// warning) or a mapping with exactly one of env, file and command.
func (s *Secret) decodeNode(w *walker, n *yaml.Node, path string) {
	s.key = path
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" || n.Value == "" {
			s.sources = nil
			return
		}
		*s = LiteralSecret(n.Value)
		s.key = path
		w.warn(n.Line, path, "the secret is written in the config file", "use {env: VAR}, {file: PATH} or {command: \"pass show ...\"} instead")
		return
	case yaml.MappingNode:
	default:
		w.fail(n.Line, path, "expected a secret ({env: VAR}, {file: PATH} or {command: ...}), got "+describe(n), "")
		return
	}
	var spec secretSpec
	before := len(w.errs)
	w.decode(n, reflectValue(&spec), path)
	if len(w.errs) > before {
		return
	}
	set := 0
	for _, v := range []bool{spec.Env != "", spec.File != "", len(spec.Command) > 0} {
		if v {
			set++
		}
	}
	if set != 1 {
		w.fail(n.Line, path, "a secret needs exactly one of env, file or command", "e.g. {env: SHODAN_API_KEY}")
		return
	}
	if (spec.Shell || spec.Timeout != 0) && len(spec.Command) == 0 {
		w.fail(n.Line, path, "shell and timeout apply only to command", "")
		return
	}
	switch {
	case spec.Env != "":
		*s = EnvSecret(spec.Env)
	case spec.File != "":
		p := w.resolvePath(spec.File)
		*s = FileSecret(p)
		w.checkSecretFile(w.lines[path+".file"], path+".file", p)
	default:
		args := []string(spec.Command)
		if spec.Shell {
			// The whole line goes to sh -c as written.
			args = []string{strings.Join(args, " ")}
			if n := w.commandNode(n); n != nil && n.Kind == yaml.ScalarNode {
				args = []string{n.Value}
			}
		}
		*s = Secret{sources: []secretSource{{kind: fromCommand, args: args, shell: spec.Shell, timeout: spec.Timeout.Std()}}}
	}
	s.key = path
}
