package main

import (
	"fmt"
	"strconv"
	"time"

	"gopkg.in/yaml.v3"
)

// keyError is a config-file error at one key: its line and its path from
// the top of the file ("apps.live.publish.keys").
type keyError struct {
	line int
	path string
	err  error
}

func (e *keyError) Error() string {
	if e.line > 0 {
		return fmt.Sprintf("line %d: %s: %v", e.line, e.path, e.err)
	}
	return fmt.Sprintf("%s: %v", e.path, e.err)
}

func (e *keyError) Unwrap() error { return e.err }

// errorAt returns a keyError for the key at path whose value is n.
func errorAt(n *yaml.Node, path string, format string, args ...any) error {
	return &keyError{line: n.Line, path: path, err: fmt.Errorf(format, args...)}
}

// deref follows an alias (*anchor) to the node it names.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

// isNull reports whether n is empty ("key:" with nothing, ~ or null).
func isNull(n *yaml.Node) bool {
	return n == nil || n.Kind == 0 || (n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null")
}

// eachKey calls fn for every key of the mapping n (a null n has none), in
// file order. A key given twice, a key that is not a plain word and a value
// that is not a mapping are errors at path.
func eachKey(n *yaml.Node, path string, fn func(key string, k, v *yaml.Node) error) error {
	n = deref(n)
	if isNull(n) {
		return nil
	}
	if n.Kind != yaml.MappingNode {
		return errorAt(n, path, "want a mapping of keys, got %s", describe(n))
	}
	seen := map[string]int{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], deref(n.Content[i+1])
		if k.Kind != yaml.ScalarNode {
			return errorAt(k, path, "a key must be a plain word, got %s", describe(k))
		}
		key := joinPath(path, k.Value)
		if line, dup := seen[k.Value]; dup {
			return errorAt(k, key, "given twice (first at line %d)", line)
		}
		seen[k.Value] = k.Line
		if err := fn(k.Value, k, v); err != nil {
			return err
		}
	}
	return nil
}

// joinPath appends key to a dotted path.
func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// describe names what a node is, for error messages.
func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return fmt.Sprintf("%q", n.Value)
	}
	return "nothing"
}

// scalarString returns a scalar's text ("" for null).
func scalarString(n *yaml.Node, path string) (string, error) {
	if isNull(n) {
		return "", nil
	}
	if n.Kind != yaml.ScalarNode {
		return "", errorAt(n, path, "want a single value, got %s", describe(n))
	}
	return n.Value, nil
}

// boolean returns a true or false scalar.
func boolean(n *yaml.Node, path string) (bool, error) {
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool" {
		if b, err := strconv.ParseBool(n.Value); err == nil {
			return b, nil
		}
	}
	return false, errorAt(n, path, "want true or false, got %s", describe(n))
}

// duration returns a non-negative duration written as Go does ("5s",
// "1m30s", "250ms"; "0" is zero).
func duration(n *yaml.Node, path string) (time.Duration, error) {
	if n.Kind == yaml.ScalarNode && !isNull(n) {
		if d, err := time.ParseDuration(n.Value); err == nil {
			if d < 0 {
				return 0, errorAt(n, path, "must not be negative, got %q", n.Value)
			}
			return d, nil
		}
	}
	return 0, errorAt(n, path, "want a duration such as 5s or 1m30s, got %s", describe(n))
}

// stringList returns a list of non-empty scalars ([a, b] or one "- a" per
// line).
func stringList(n *yaml.Node, path string) ([]string, error) {
	if isNull(n) {
		return nil, nil
	}
	if n.Kind != yaml.SequenceNode {
		return nil, errorAt(n, path, "want a list such as [a, b], got %s", describe(n))
	}
	out := make([]string, 0, len(n.Content))
	for i, e := range n.Content {
		e = deref(e)
		if e.Kind != yaml.ScalarNode || isNull(e) || e.Value == "" {
			return nil, errorAt(e, fmt.Sprintf("%s[%d]", path, i), "want a non-empty value, got %s", describe(e))
		}
		out = append(out, e.Value)
	}
	return out, nil
}
