package admin

import (
	"encoding"
	"net/url"
	"reflect"
	"strings"
	"time"
)

// Redacted replaces a secret's value in Redact's output.
const Redacted = "[redacted]"

// Redact returns v (a struct, or a pointer, map or slice of them) as plain
// JSON-encodable values for GET /api/v1/config: exported fields by name,
// durations and other text marshalers as text, functions, channels and
// loggers left out, interface values shown as their type only, URLs
// without their password and query, and the value of every field named in secrets (at any
// depth) replaced by Redacted when it is set. It never returns a secret's
// bytes.
func Redact(v any, secrets map[string]bool) any {
	return redact(reflect.ValueOf(v), secrets, 0)
}

// maxRedactDepth bounds the walk (configurations are shallow; cycles are
// not followed past it).
const maxRedactDepth = 8

var durationType = reflect.TypeFor[time.Duration]()

func redact(v reflect.Value, secrets map[string]bool, depth int) any {
	if !v.IsValid() || depth > maxRedactDepth {
		return nil
	}
	if v.Type() == durationType {
		return time.Duration(v.Int()).String()
	}
	if v.CanInterface() {
		if m, ok := v.Interface().(encoding.TextMarshaler); ok && (v.Kind() != reflect.Pointer || !v.IsNil()) {
			if b, err := m.MarshalText(); err == nil {
				return string(b)
			}
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			return nil
		}
		return redact(v.Elem(), secrets, depth+1)
	case reflect.Interface:
		// Code the embedder plugged in (a Handler): its type, never its
		// fields, which may hold secrets of its own.
		if v.IsNil() {
			return nil
		}
		return v.Elem().Type().String()
	case reflect.Struct:
		out := map[string]any{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() || skipped(f.Type) {
				continue
			}
			fv := v.Field(i)
			if secrets[f.Name] {
				if !fv.IsZero() {
					out[f.Name] = Redacted
				}
				continue
			}
			out[f.Name] = redact(fv, secrets, depth+1)
		}
		return out
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return nil
		}
		out := map[string]any{}
		for it := v.MapRange(); it.Next(); {
			out[it.Key().String()] = redact(it.Value(), secrets, depth+1)
		}
		return out
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return nil
		}
		out := make([]any, v.Len())
		for i := range out {
			out[i] = redact(v.Index(i), secrets, depth+1)
		}
		return out
	case reflect.Bool:
		return v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return v.Uint()
	case reflect.Float32, reflect.Float64:
		return v.Float()
	case reflect.String:
		return redactURL(v.String())
	}
	return nil
}

// redactURL hides the password and the query of a URL (hook URLs may carry
// credentials); other strings are returned as they are.
func redactURL(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	u, err := url.Parse(s)
	if err != nil || u.Host == "" {
		return s
	}
	if u.RawQuery != "" {
		u.RawQuery = Redacted
	}
	return u.Redacted()
}

// skipped are field types with no place in a configuration dump: code,
// channels and loggers.
func skipped(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.UnsafePointer:
		return true
	case reflect.Pointer:
		return t.Elem().PkgPath() == "log/slog"
	}
	return false
}
