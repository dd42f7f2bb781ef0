package main

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// readEnvFile reads settings from a .env file: KEY=value lines (an "export " before the key is
// allowed), blank lines and # comments. A value may be quoted: '…' as written, "…" with Go's escapes
// (\n, \", \\); an unquoted value ends at " #". Nothing is expanded ($VAR stays as written). A line
// that is none of these is an error naming it, so that a typo does not silently drop a setting.
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, unreadableEnvFile(path, err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff") // a byte-order mark some editors write
		}
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		key, value, ok := strings.Cut(line, "=")
		key = strings.TrimSpace(key)
		if !ok || !isEnvName(key) {
			return nil, fmt.Errorf("%s line %d: want KEY=value", path, n)
		}
		value = strings.TrimSpace(value)
		switch {
		case strings.HasPrefix(value, `"`):
			end := closingQuote(value)
			if end < 0 {
				return nil, fmt.Errorf("%s line %d: %s: the \" is not closed", path, n, key)
			}
			v, err := strconv.Unquote(value[:end+1])
			if err != nil {
				return nil, fmt.Errorf("%s line %d: %s: %w", path, n, key, err)
			}
			value = v
		case strings.HasPrefix(value, "'"):
			end := strings.IndexByte(value[1:], '\'')
			if end < 0 {
				return nil, fmt.Errorf("%s line %d: %s: the ' is not closed", path, n, key)
			}
			value = value[1 : end+1]
		default:
			if i := strings.Index(value, " #"); i >= 0 {
				value = strings.TrimSpace(value[:i])
			}
		}
		out[key] = value
	}
	if err := sc.Err(); err != nil {
		return nil, unreadableEnvFile(path, err) // a directory, say
	}
	return out, nil
}

// unreadableEnvFile is a --env-file that cannot be read: the flag's mistake, so a usage error (exit
// 2), saying why without repeating the path the os error names too.
func unreadableEnvFile(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("%w: cannot read it: %w", usageError(fmt.Sprintf("--env-file %q", path)), err)
}

// closingQuote is the index of the " that closes the one value starts with, or -1.
func closingQuote(value string) int {
	for i := 1; i < len(value); i++ {
		switch value[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

func isEnvName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
