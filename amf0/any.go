package amf0

import (
	"fmt"
	"slices"
)

// AppendAny appends a Go value as AMF0: nil (null), bool, string, every integer
// and float type (number), Value (re-encoded; an invalid Value is undefined),
// []any (strict array) and map[string]any (object, keys sorted so the encoding is
// deterministic). Other types, and nesting deeper than MaxDepth, return an error
// wrapping ErrGoValue. It is a convenience for replies and calls, not a hot path:
// it may allocate (map keys are sorted).
func AppendAny(dst []byte, v any) ([]byte, error) {
	return appendAny(dst, v, 0)
}

func appendAny(b []byte, v any, depth int) ([]byte, error) {
	if depth > MaxDepth {
		return b, fmt.Errorf("%w: nested more than %d deep", ErrGoValue, MaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return AppendNull(b), nil
	case bool:
		return AppendBoolean(b, x), nil
	case string:
		return AppendString(b, x), nil
	case float64:
		return AppendNumber(b, x), nil
	case float32:
		return AppendNumber(b, float64(x)), nil
	case int:
		return AppendNumber(b, float64(x)), nil
	case int8:
		return AppendNumber(b, float64(x)), nil
	case int16:
		return AppendNumber(b, float64(x)), nil
	case int32:
		return AppendNumber(b, float64(x)), nil
	case int64:
		return AppendNumber(b, float64(x)), nil
	case uint:
		return AppendNumber(b, float64(x)), nil
	case uint8:
		return AppendNumber(b, float64(x)), nil
	case uint16:
		return AppendNumber(b, float64(x)), nil
	case uint32:
		return AppendNumber(b, float64(x)), nil
	case uint64:
		return AppendNumber(b, float64(x)), nil
	case Value:
		if !x.Valid() {
			return AppendUndefined(b), nil
		}
		return AppendValue(b, x), nil
	case []any:
		b = AppendStrictArrayStart(b, uint32(len(x)))
		for _, e := range x {
			var err error
			if b, err = appendAny(b, e, depth+1); err != nil {
				return b, err
			}
		}
		return b, nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys) // deterministic encoding
		b = AppendObjectStart(b)
		for _, k := range keys {
			b = AppendKey(b, k)
			var err error
			if b, err = appendAny(b, x[k], depth+1); err != nil {
				return b, err
			}
		}
		return AppendObjectEnd(b), nil
	}
	return b, fmt.Errorf("%w: %T", ErrGoValue, v)
}
